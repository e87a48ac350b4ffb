"""A local stand-in for the Hugging Face Hub: the part of its HTTP API huggingface_hub 2.4.0 uses.

Routes (repo ids are ``owner/name``; revisions ``main`` or :data:`COMMIT`):

* ``GET /api/models/{repo_id}/tree/{revision}[/{path}]?recursive=&expand=``: ``list_repo_tree``
* ``GET /api/models/{repo_id}[/revision/{revision}]``: ``model_info``
* ``HEAD|GET /{repo_id}/resolve/{revision}/{path}``: ``get_hf_file_metadata``, ``hf_hub_download``

Files ending in ``.gguf`` and files over 1 MiB are LFS files, as on the Hub: the tree gives their
sha256, and ``ETag``/``X-Linked-Etag`` carry it, so huggingface_hub checks downloads against it.
Errors carry the Hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``) and a JSON ``{"error": ...}``, which huggingface_hub turns into its own
exceptions. Bodies go out in 64 KiB chunks, at a set rate when one is given, so a test can stop a
download half-way; ``bytes_served`` counts what was written to the socket.

Standalone: ``python -m tests.hf_hub_server REPO_ID FILE... [--rate BYTES_PER_SECOND]``.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import json
import re
import socket
import sys
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

COMMIT = hashlib.sha1(b"llmhub test hub").hexdigest()
REVISIONS = ("main", COMMIT)
CHUNK_BYTES = 64 * 1024
LFS_MIN_BYTES = 1024 * 1024
_COMMIT_DATE = "2025-01-01T00:00:00.000Z"


@dataclass(frozen=True)
class HubFile:
    """One file of a served repo, with the hashes the Hub would give for it."""

    path: str
    local: Path
    size: int
    git_oid: str  # sha1 of the git blob: the LFS pointer for LFS files, else the content
    sha256: str | None  # LFS files only
    pointer_size: int = 0

    @property
    def etag(self) -> str:
        return self.sha256 or self.git_oid


def hub_file_read(path: str, local: Path) -> HubFile:
    stat = local.stat()
    return _hub_file_hashed(path, local.resolve(), stat.st_size, stat.st_mtime_ns)


# Hashing a multi-GB model takes seconds: servers started again on the same file reuse the sums.
@functools.lru_cache(maxsize=256)
def _hub_file_hashed(path: str, local: Path, size: int, mtime_ns: int) -> HubFile:
    if not (path.lower().endswith(".gguf") or size > LFS_MIN_BYTES):
        return HubFile(path, local, size, _git_blob_sha1(local.read_bytes()), None)
    digest = hashlib.sha256()
    with local.open("rb") as source:
        while piece := source.read(1024 * 1024):
            digest.update(piece)
    sha256 = digest.hexdigest()
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    return HubFile(path, local, size, _git_blob_sha1(pointer.encode()), sha256, len(pointer))


def _git_blob_sha1(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class HubServer:
    """Serves ``{"owner/name": {"path/in/repo": local_path}}`` on 127.0.0.1 from a thread."""

    def __init__(
        self, repos: dict[str, dict[str, Path]], *, rate_bytes_per_second: int | None = None
    ):
        self._sources = {repo_id: dict(files) for repo_id, files in repos.items()}
        self.repos: dict[str, dict[str, HubFile]] = {}
        self.url = ""
        self.last_authorization: str | None = None
        self._rate = rate_bytes_per_second
        self._lock = threading.Lock()
        self._bytes_served: Counter[tuple[str, str]] = Counter()
        self._requests: defaultdict[tuple[str, str], list[tuple[str, str | None]]] = (
            defaultdict(list)
        )
        self._stopping = threading.Event()
        self._httpd: _HubHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> HubServer:
        self.repos = {
            repo_id: {path: hub_file_read(path, Path(local)) for path, local in files.items()}
            for repo_id, files in self._sources.items()
        }
        self._stopping.clear()
        self._httpd = _HubHTTPServer(("127.0.0.1", 0), _HubRequestHandler, hub=self)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"hf-hub-server {self.url}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open connections, so a client sees the Hub go away mid-body."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.connections_cut()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def sha256_publish(self, repo_id: str, filename: str, sha256: str) -> None:
        """List and tag a file with a sha256 that is not its content's: a copy that was
        corrupted on the server or on its way."""
        file = self.repos[repo_id][filename]
        self.repos[repo_id][filename] = dataclasses.replace(file, sha256=sha256)

    def bytes_served(self, repo_id: str, filename: str) -> int:
        with self._lock:
            return self._bytes_served[(repo_id, filename)]

    def requests(self, repo_id: str, filename: str) -> list[tuple[str, str | None]]:
        """(method, Range header) of each resolve request for that file, oldest first."""
        with self._lock:
            return list(self._requests[(repo_id, filename)])

    def set_rate(self, rate_bytes_per_second: int | None) -> None:
        """Takes effect from the next chunk, also for bodies already under way."""
        self._rate = rate_bytes_per_second

    def request_note(
        self, repo_id: str, filename: str, method: str, byte_range: str | None
    ) -> None:
        with self._lock:
            self._requests[(repo_id, filename)].append((method, byte_range))

    def served_note(self, repo_id: str, filename: str, count: int) -> None:
        with self._lock:
            self._bytes_served[(repo_id, filename)] += count

    def rate_wait(self, count: int) -> bool:
        """Pause as long as ``count`` bytes take at the rate; False once the server stops."""
        rate = self._rate
        if rate:
            self._stopping.wait(count / rate)
        return not self._stopping.is_set()


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, *, hub: HubServer):
        super().__init__(address, handler)
        self.hub = hub
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def get_request(self):
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def connections_cut(self) -> None:
        # Keep-alive handler threads would otherwise go on answering on their open sockets.
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        # A client that hangs up is a normal event here (tests kill downloaders): no traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


_TREE = re.compile(
    r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?$"
)
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<revision>[^/]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<revision>[^/]+)/(?P<path>.+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _HubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as huggingface_hub's pooled client expects
    server: _HubHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch(send_body=True)

    def do_HEAD(self) -> None:
        self._dispatch(send_body=False)

    def _dispatch(self, *, send_body: bool) -> None:
        hub = self.server.hub
        if self.headers.get("Authorization"):
            hub.last_authorization = self.headers["Authorization"]
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if match := _TREE.match(url.path):
            self._tree_send(match, query, send_body)
        elif match := _INFO.match(url.path):
            self._info_send(match, query, send_body)
        elif match := _RESOLVE.match(url.path):
            self._resolve_send(match, send_body)
        else:
            self._json_send(404, {"error": "Not Found"}, send_body)

    def _repo_files(self, match: re.Match, send_body: bool) -> dict[str, HubFile] | None:
        """The repo's files; None after answering 404 for an unknown repo or revision."""
        files = self.server.hub.repos.get(unquote(match["repo"]))
        revision = unquote(match["revision"] or "main")
        if files is None:
            self._error_send("RepoNotFound", "Repository not found", send_body)
        elif revision not in REVISIONS:
            self._error_send("RevisionNotFound", f"Invalid rev id: {revision}", send_body)
        else:
            return files
        return None

    def _tree_send(self, match: re.Match, query: dict[str, str], send_body: bool) -> None:
        files = self._repo_files(match, send_body)
        if files is None:
            return
        folder = unquote(match["path"] or "").strip("/")
        entries = tree_entries(
            files, folder,
            recursive=query.get("recursive") == "true", expand=query.get("expand") == "true",
        )
        if entries is None:
            self._error_send("EntryNotFound", f"{folder} does not exist on main", send_body)
        else:
            self._json_send(200, entries, send_body)

    def _info_send(self, match: re.Match, query: dict[str, str], send_body: bool) -> None:
        files = self._repo_files(match, send_body)
        if files is not None:
            repo_id = unquote(match["repo"])
            info = model_info(repo_id, files, blobs=query.get("blobs") == "true")
            self._json_send(200, info, send_body)

    def _resolve_send(self, match: re.Match, send_body: bool) -> None:
        repo_id, path = unquote(match["repo"]), unquote(match["path"])
        self.server.hub.request_note(repo_id, path, self.command, self.headers.get("Range"))
        files = self._repo_files(match, send_body)
        if files is None:
            return
        if path not in files:
            self._error_send("EntryNotFound", "Entry not found", send_body)
            return
        self._file_send(repo_id, files[path], send_body)

    def _file_send(self, repo_id: str, file: HubFile, send_body: bool) -> None:
        try:
            wanted = byte_range(self.headers.get("Range"), file.size)
        except ValueError:
            self._head_send(416, {"Content-Range": f"bytes */{file.size}", "Content-Length": "0"})
            return
        headers = _file_headers(file)
        status = 200
        if wanted is None:
            wanted = range(0, file.size)
        else:
            status = 206
            headers["Content-Range"] = f"bytes {wanted.start}-{wanted.stop - 1}/{file.size}"
        headers["Content-Length"] = str(len(wanted))
        self._head_send(status, headers)
        if send_body:
            self._body_send(repo_id, file, wanted)

    def _body_send(self, repo_id: str, file: HubFile, wanted: range) -> None:
        hub = self.server.hub
        left = len(wanted)
        try:
            with file.local.open("rb") as source:
                source.seek(wanted.start)
                while left > 0 and (chunk := source.read(min(CHUNK_BYTES, left))):
                    self.wfile.write(chunk)
                    hub.served_note(repo_id, file.path, len(chunk))
                    left -= len(chunk)
                    if not hub.rate_wait(len(chunk)):
                        break
        except (ConnectionError, TimeoutError):
            pass
        # A short body leaves the connection unusable: close it rather than desynchronise.
        self.close_connection = self.close_connection or left > 0

    def _error_send(self, code: str, message: str, send_body: bool) -> None:
        headers = {"X-Error-Code": code}
        if code == "EntryNotFound":  # huggingface_hub caches the miss under this commit
            headers["X-Repo-Commit"] = COMMIT
        self._json_send(404, {"error": message}, send_body, headers)

    def _json_send(
        self, status: int, payload: object, send_body: bool, headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(payload).encode()
        headers = {**(headers or {}), "Content-Type": "application/json"}
        self._head_send(status, {**headers, "Content-Length": str(len(body))})
        if send_body:
            self.wfile.write(body)

    def _head_send(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()


def _file_headers(file: HubFile) -> dict[str, str]:
    headers = {
        "Content-Type": "application/octet-stream",
        "Accept-Ranges": "bytes",
        "ETag": f'"{file.etag}"',
        "X-Repo-Commit": COMMIT,
    }
    if file.sha256:
        headers |= {"X-Linked-Etag": f'"{file.sha256}"', "X-Linked-Size": str(file.size)}
    return headers


def byte_range(header: str | None, size: int) -> range | None:
    """The bytes a ``Range`` header asks for; None for the whole file (no or unreadable header).

    Raises ValueError for a range that starts past the end (the caller answers 416).
    """
    match = _RANGE.match((header or "").strip())
    if not match or match.group(1, 2) == ("", ""):
        return None
    first, last = match[1], match[2]
    if not first:  # "bytes=-n": the last n bytes
        if int(last) == 0:
            raise ValueError("empty suffix range")
        return range(max(0, size - int(last)), size)
    if last and int(last) < int(first):
        return None
    if int(first) >= size:
        raise ValueError(f"range starts at {first}, past the end ({size} bytes)")
    stop = min(int(last) + 1, size) if last else size
    return range(int(first), stop)


def tree_entries(
    files: dict[str, HubFile], folder: str, *, recursive: bool, expand: bool
) -> list[dict] | None:
    """What the tree API lists under ``folder`` ("" for the root); None when it is no folder."""
    prefix = f"{folder}/" if folder else ""
    below = {path: file for path, file in files.items() if path.startswith(prefix)}
    if folder and not below:
        return None
    folders = {
        "/".join(path.split("/")[:depth])
        for path in below
        for depth in range(prefix.count("/") + 1, path.count("/") + 1)
    }
    listed_folders = sorted(f for f in folders if recursive or "/" not in f[len(prefix):])
    listed_files = sorted(p for p in below if recursive or "/" not in p[len(prefix):])
    entries = [_folder_entry(path) for path in listed_folders]
    entries += [_file_entry(below[path]) for path in listed_files]
    if expand:
        for entry in entries:
            entry["lastCommit"] = {"id": COMMIT, "title": "Upload", "date": _COMMIT_DATE}
    return entries


def _folder_entry(path: str) -> dict:
    return {"type": "directory", "oid": _git_blob_sha1(path.encode()), "size": 0, "path": path}


def _file_entry(file: HubFile) -> dict:
    entry: dict = {"type": "file", "oid": file.git_oid, "size": file.size, "path": file.path}
    if file.sha256:
        entry["lfs"] = {"oid": file.sha256, "size": file.size, "pointerSize": file.pointer_size}
    return entry


def model_info(repo_id: str, files: dict[str, HubFile], *, blobs: bool) -> dict:
    """The fields of ``/api/models/{repo_id}`` that huggingface_hub's ModelInfo reads."""
    siblings = [_sibling(file, blobs=blobs) for _, file in sorted(files.items())]
    return {
        "_id": COMMIT[:24],
        "id": repo_id,
        "modelId": repo_id,
        "author": repo_id.split("/")[0],
        "sha": COMMIT,
        "lastModified": _COMMIT_DATE,
        "createdAt": _COMMIT_DATE,
        "private": False,
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": ["gguf"],
        "library_name": "gguf",
        "siblings": siblings,
    }


def _sibling(file: HubFile, *, blobs: bool) -> dict:
    sibling: dict = {"rfilename": file.path}
    if blobs:
        sibling |= {"size": file.size, "blobId": file.git_oid}
        if file.sha256:
            sibling["lfs"] = {
                "sha256": file.sha256, "size": file.size, "pointerSize": file.pointer_size
            }
    return sibling


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.hf_hub_server",
        description="Serve local files as one Hugging Face Hub repo until Ctrl-C.",
    )
    parser.add_argument("repo_id", help="owner/name")
    parser.add_argument("files", nargs="+", type=Path, help="served at the repo root by name")
    parser.add_argument("--rate", type=int, default=None, help="bytes per second per download")
    args = parser.parse_args(argv)
    server = HubServer(
        {args.repo_id: {file.name: file for file in args.files}}, rate_bytes_per_second=args.rate
    )
    server.start()
    try:
        print(f"HF_ENDPOINT={server.url}", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
