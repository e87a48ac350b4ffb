"""Resumable, verified downloads of model files (DESIGN.md invariant 5).

A file is written to ``<name>.partial`` next to its destination, hashed as it arrives,
resumed from the partial file's length after an interruption, checked against the sha256
its source publishes, handed to a ``verify`` callback (the GGUF header), and only then
renamed into place: a loader never sees a half-written file. A lock file beside it makes a
second download of the same file wait for the first and then find it done.

Plain Python and httpx, no Django: the caller says where progress goes.
"""
import fcntl
import hashlib
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import httpx

# Bytes are written (and counted as ours) one chunk at a time: an interruption loses at
# most the chunk in memory. 1 MiB keeps that loss small and the Python loop short.
CHUNK_BYTES = 1024 * 1024
SYNC_BYTES = 32 * 1024 * 1024
DISK_MARGIN_BYTES = 64 * 1024 * 1024  # never fill a disk to the last byte
LOCK_POLL_SECONDS = 0.5
TIMEOUT = httpx.Timeout(30.0, connect=10.0)

Progress = Callable[[int], None]  # bytes of this file on disk so far
Verify = Callable[[Path], None]  # raises ValueError (or a subclass) with the reason


class DownloadError(Exception):
    """A download failed; ``permanent`` when trying again cannot help (a bad checksum)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class RemoteFile:
    url: str
    dest: Path
    size: int = 0  # 0: unknown until the server says
    sha256: str = ""  # "": the source publishes none, nothing to check
    headers: dict[str, str] = field(default_factory=dict)


def partial_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".partial")


def download(remote: RemoteFile, *, progress: Progress, verify: Verify,
             client: httpx.Client | None = None) -> Path:
    """Fetch ``remote`` to its destination unless it is there already; return the path."""
    remote.dest.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(remote.dest, progress):
        if remote.dest.exists():
            progress(remote.dest.stat().st_size)
            return remote.dest
        with _client(client) as http:
            _fetch_to_partial(http, remote, progress)
        _verify_and_rename(remote, verify)
    return remote.dest


@contextmanager
def _client(client: httpx.Client | None) -> Iterator[httpx.Client]:
    yield client or _shared_client()


@cache
def _shared_client() -> httpx.Client:
    # One per process: a new client builds a TLS context (70 ms here), as long as
    # downloading the demo model over loopback. httpx clients are thread-safe.
    return httpx.Client(timeout=TIMEOUT, follow_redirects=True)


@contextmanager
def _exclusive(dest: Path, progress: Progress) -> Iterator[None]:
    """Hold the file's lock; while another download holds it, report its progress."""
    lock_path = dest.with_name(dest.name + ".lock")
    with lock_path.open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                partial = partial_path(dest)
                progress(partial.stat().st_size if partial.exists() else 0)
                time.sleep(LOCK_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fetch_to_partial(http: httpx.Client, remote: RemoteFile, progress: Progress) -> None:
    partial = partial_path(remote.dest)
    have = partial.stat().st_size if partial.exists() else 0
    if remote.size and have > remote.size:  # not a prefix of this file: start over
        have = 0
    digest = _hash_prefix(partial, have)
    if remote.size and have == remote.size:
        progress(have)
        return _check_sha256(remote, digest, partial)
    _check_disk_space(partial, remote.size - have if remote.size else 0)
    headers = remote.headers | ({"Range": f"bytes={have}-"} if have else {})
    try:
        with http.stream("GET", remote.url, headers=headers) as response:
            have = _start_offset(response, have, remote)
            if have == 0:
                digest = hashlib.sha256()
            length = response.headers.get("Content-Length")
            expected = have + int(length) if length else remote.size
            if remote.size and expected != remote.size:
                raise DownloadError(f"{remote.url} sends {expected} bytes, the listing says "
                                    f"{remote.size}", permanent=True)
            got = _write(response, partial, have, digest, progress)
    except httpx.HTTPError as error:
        raise DownloadError(f"download from {remote.url} broke off: {error}") from None
    if expected and got != expected:
        raise DownloadError(f"{remote.url} ended after {got} of {expected} bytes")
    _check_sha256(remote, digest, partial)


def _hash_prefix(partial: Path, length: int) -> "hashlib._Hash":
    """Hash what an earlier attempt left, and cut off anything past ``length``."""
    digest = hashlib.sha256()
    if not partial.exists():
        return digest
    with partial.open("r+b") as handle:
        handle.truncate(length)
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest


def _check_disk_space(partial: Path, needed: int) -> None:
    free = shutil.disk_usage(partial.parent).free
    if needed + DISK_MARGIN_BYTES > free:
        raise DownloadError(
            f"not enough disk space in {partial.parent}: the file needs {needed / 1e9:.2f} GB "
            f"more, {free / 1e9:.2f} GB free", permanent=True)


def _start_offset(response: httpx.Response, have: int, remote: RemoteFile) -> int:
    """Where this response's body starts in the file: ``have`` for a resumed range, 0 when
    the server sends the whole file again."""
    if response.status_code == 206:
        start = int(response.headers.get("Content-Range", "bytes 0-").split()[1].split("-")[0])
        if start != have:
            raise DownloadError(f"{remote.url} resumed at byte {start}, not {have}")
        return have
    if response.status_code == 200:
        return 0
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
    raise DownloadError(f"{remote.url} answered {response.status_code} "
                        f"{response.reason_phrase}", permanent=permanent)


def _write(response: httpx.Response, partial: Path, have: int, digest, progress) -> int:
    """Write the body at ``have``; hashing and flushing to disk run beside the receiving
    (both release the GIL), on what is already written, so a crash loses at most the
    chunk being received."""
    with partial.open("r+b" if have else "wb") as handle, _Digester(digest, handle) as side:
        handle.seek(have)
        for chunk in response.iter_raw():  # as received (64 KiB): no copy into chunks
            handle.write(chunk)
            side.put(chunk)
            have += len(chunk)
            progress(have)
        handle.flush()
    return have


class _Digester:
    """A thread that hashes written chunks in order and has the kernel write them out
    every SYNC_BYTES, so the final fsync has little left to do."""

    def __init__(self, digest, handle) -> None:
        self._digest, self._handle = digest, handle
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="llmhub-digest", daemon=True)

    def __enter__(self) -> "_Digester":
        self._thread.start()
        return self

    def put(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def __exit__(self, *exc_info) -> None:
        self._chunks.put(None)
        self._thread.join()
        if exc_info[0] is None:
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def _run(self) -> None:
        unsynced = 0
        while (chunk := self._chunks.get()) is not None:
            self._digest.update(chunk)
            unsynced += len(chunk)
            if unsynced >= SYNC_BYTES:  # what the writer has handed to the kernel so far
                os.fdatasync(self._handle.fileno())
                unsynced = 0


def _check_sha256(remote: RemoteFile, digest, partial: Path) -> None:
    if remote.sha256 and digest.hexdigest() != remote.sha256.lower():
        partial.unlink(missing_ok=True)
        raise DownloadError(
            f"{remote.dest.name} is corrupt: its sha256 is {digest.hexdigest()}, the source "
            f"publishes {remote.sha256}; the download was deleted", permanent=True)


def _verify_and_rename(remote: RemoteFile, verify: Verify) -> None:
    partial = partial_path(remote.dest)
    try:
        verify(partial)
    except ValueError as error:
        partial.unlink(missing_ok=True)
        raise DownloadError(f"{remote.dest.name} was refused: {error}", permanent=True) from None
    os.replace(partial, remote.dest)
