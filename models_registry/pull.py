"""Pull a model's files onto this worker's box, with progress others can watch.

Runs on workers (it reads GGUF headers, which imports numpy). The download itself is
``models_registry.download``; this module says what to fetch for each kind of source,
and publishes progress in Redis for the admin pages.
"""
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from inference.gguf_check import gguf_file_check
from llmhub.redis import redis_client
from models_registry.download import TIMEOUT, DownloadError, RemoteFile, download
from models_registry.files import file_local_path, model_relative_paths
from models_registry.gguf_metadata import (
    GGUFMetadata,
    gguf_metadata_from_prefix,
)
from models_registry.models import Model

PROGRESS_WRITE_SECONDS = 0.5
PROGRESS_TTL_SECONDS = 3600


def pull_progress_key(placement_id: int) -> str:
    return f"llmhub:pull:{placement_id}"


@dataclass
class PullProgress:
    """Bytes on disk out of the total, the rate over the last seconds, and the ETA,
    written to a Redis hash at most twice a second."""

    key: str
    total: int
    started: float = field(default_factory=time.monotonic)
    _last_write: float = 0.0
    _last_done: int = -1
    _window: tuple[float, int] | None = None
    rate: float = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < PROGRESS_WRITE_SECONDS:
            return
        if self._window is not None and now > self._window[0]:
            self.rate = max(0.0, (done - self._window[1]) / (now - self._window[0]))
        self._window = (now, done)
        eta = (self.total - done) / self.rate if self.rate > 0 and self.total else None
        values = {"done": done, "total": self.total, "rate": round(self.rate),
                  "eta": round(eta, 1) if eta is not None else "", "updated": time.time()}
        pipe = redis_client().pipeline()
        pipe.hset(self.key, mapping=values)
        pipe.expire(self.key, PROGRESS_TTL_SECONDS)
        pipe.execute()
        self._last_write, self._last_done = now, done


def pull_progress_read(placement_ids: list[int]) -> dict[int, dict]:
    pipe = redis_client().pipeline()
    for placement_id in placement_ids:
        pipe.hgetall(pull_progress_key(placement_id))
    return {pid: values for pid, values in zip(placement_ids, pipe.execute(), strict=True)
            if values}


def model_remote_files(model: Model) -> list[RemoteFile]:
    """What a pull of ``model`` fetches, in order, with the sha256 each source publishes."""
    paths = model_relative_paths(model)
    if model.source_kind == Model.SourceKind.HUGGINGFACE:
        from models_registry.huggingface import hf_file_url, hf_headers

        return [RemoteFile(url=hf_file_url(model.source, part["name"], model.revision or "main"),
                           dest=file_local_path(path), size=part.get("size", 0),
                           sha256=part.get("sha256", ""), headers=hf_headers())
                for part, path in zip(model.files, paths, strict=True)]
    if model.source_kind == Model.SourceKind.URL:
        part = model.files[0] if model.files else {}
        return [RemoteFile(url=model.source, dest=file_local_path(paths[0]),
                           size=part.get("size", 0), sha256=part.get("sha256", ""))]
    raise ValueError(f"{model.name} is a file on the node's disk; there is nothing to pull")


def model_pull(model: Model, *, on_progress: Callable[[int, int], None]) -> None:
    """Download every part of ``model`` that this box lacks; ``on_progress(done, total)``."""
    files = model_remote_files(model)
    total = sum(remote.size for remote in files)
    before = 0
    for remote in files:
        download(remote, progress=lambda done, before=before: on_progress(before + done, total),
                 verify=gguf_file_check)
        before += remote.size


def remote_metadata(model: Model) -> tuple[GGUFMetadata, int]:
    """The GGUF header of a model not yet pulled, read with HTTP Range requests; and the
    total size of its files (asked of the server when the listing gave none)."""
    files = model_remote_files(model)
    first = files[0]
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as http:
        size = first.size or _remote_size(http, first)

        def read_prefix(length: int) -> bytes:
            response = http.get(first.url, headers=first.headers
                                | {"Range": f"bytes=0-{length - 1}"})
            if response.status_code not in (200, 206):
                raise DownloadError(f"{first.url} answered {response.status_code} "
                                    f"{response.reason_phrase}")
            return response.content[:length]

        try:
            metadata = gguf_metadata_from_prefix(read_prefix, file_size=size,
                                                 name=first.dest.name)
        except httpx.HTTPError as error:
            raise DownloadError(f"cannot read {first.url}: {error}") from None
    return metadata, size + sum(remote.size for remote in files[1:])


def _remote_size(http: httpx.Client, remote: RemoteFile) -> int:
    try:
        response = http.head(remote.url, headers=remote.headers)
    except httpx.HTTPError as error:
        raise DownloadError(f"cannot reach {remote.url}: {error}") from None
    if response.status_code != 200 or "Content-Length" not in response.headers:
        raise DownloadError(f"{remote.url} answered {response.status_code} "
                            f"{response.reason_phrase}, without a size",
                            permanent=response.status_code in (401, 403, 404, 410))
    return int(response.headers["Content-Length"])

