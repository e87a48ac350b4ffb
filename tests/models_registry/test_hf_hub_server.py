"""The local Hub answers huggingface_hub 2.4.0's own calls the way huggingface.co does."""
import hashlib
import os
import time

import httpx
import pytest
from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import RepoFile, RepoFolder

from tests.hf_hub_server import COMMIT, HubServer

REPO = "acme/Foo-7B-Instruct-GGUF"
MODEL = "Foo-7B-Instruct-Q4_K_M.gguf"
NESTED = "Q8_0/Foo-7B-Instruct-Q8_0.gguf"
README = "README.md"


@pytest.fixture
def files(tmp_path):
    contents = {
        MODEL: os.urandom(3 * 1024 * 1024 + 17),
        NESTED: os.urandom(200_000),  # small, but a .gguf: still an LFS file
        README: b"# Foo 7B Instruct\n",
    }
    paths = {}
    for name, content in contents.items():
        path = tmp_path / "repo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        paths[name] = path
    return paths


@pytest.fixture
def hub(files):
    with HubServer({REPO: files}) as server:
        yield server


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_lists_the_tree_with_sizes_and_lfs_sha256(hub, files):
    entries = {e.path: e for e in HfApi(endpoint=hub.url).list_repo_tree(REPO, recursive=True)}

    assert set(entries) == {MODEL, NESTED, README, "Q8_0"}
    assert isinstance(entries["Q8_0"], RepoFolder)
    for name in (MODEL, NESTED):
        assert isinstance(entries[name], RepoFile)
        assert entries[name].size == files[name].stat().st_size
        assert entries[name].lfs.sha256 == sha256(files[name])
        assert entries[name].lfs.size == entries[name].size
    assert entries[README].lfs is None
    assert entries[README].size == len(b"# Foo 7B Instruct\n")


def test_it_lists_one_level_unless_recursive(hub):
    api = HfApi(endpoint=hub.url)

    assert {e.path for e in api.list_repo_tree(REPO)} == {MODEL, README, "Q8_0"}
    assert {e.path for e in api.list_repo_tree(REPO, path_in_repo="Q8_0")} == {NESTED}


def test_it_gives_commit_dates_when_expanded(hub):
    entries = list(HfApi(endpoint=hub.url).list_repo_tree(REPO, expand=True))

    assert all(entry.last_commit.oid == COMMIT for entry in entries)


def test_it_gives_model_info_with_siblings(hub, files):
    api = HfApi(endpoint=hub.url)

    info = api.model_info(REPO)
    with_blobs = api.model_info(REPO, revision=COMMIT, files_metadata=True)

    assert info.id == REPO and info.sha == COMMIT and info.private is False
    assert {s.rfilename for s in info.siblings} == {MODEL, NESTED, README}
    model = next(s for s in with_blobs.siblings if s.rfilename == MODEL)
    assert model.lfs.sha256 == sha256(files[MODEL])


def test_hf_hub_download_gets_the_same_bytes(hub, files, tmp_path):
    path = hf_hub_download(REPO, MODEL, endpoint=hub.url, local_dir=tmp_path / "download")

    assert open(path, "rb").read() == files[MODEL].read_bytes()
    assert hub.bytes_served(REPO, MODEL) == files[MODEL].stat().st_size
    assert hub.requests(REPO, MODEL) == [("HEAD", None), ("GET", None)]


def test_hf_hub_download_finds_files_in_subfolders(hub, files, tmp_path):
    path = hf_hub_download(REPO, NESTED, endpoint=hub.url, local_dir=tmp_path / "download")

    assert open(path, "rb").read() == files[NESTED].read_bytes()


def test_metadata_gives_the_sha256_as_etag_and_the_size(hub, files):
    metadata = get_hf_file_metadata(hf_hub_url(REPO, MODEL, endpoint=hub.url))

    assert metadata.etag == sha256(files[MODEL])
    assert metadata.size == files[MODEL].stat().st_size
    assert metadata.commit_hash == COMMIT


def test_metadata_of_a_plain_git_file_gives_its_git_sha1(hub, files):
    content = files[README].read_bytes()
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()

    metadata = get_hf_file_metadata(hf_hub_url(REPO, README, endpoint=hub.url))

    assert metadata.etag == git_sha1
    assert metadata.size == len(content)


def test_an_unknown_repo_raises_repository_not_found(hub, tmp_path):
    with pytest.raises(RepositoryNotFoundError):
        list(HfApi(endpoint=hub.url).list_repo_tree("acme/nothing-here"))
    with pytest.raises(RepositoryNotFoundError):
        HfApi(endpoint=hub.url).model_info("acme/nothing-here")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("acme/nothing-here", MODEL, endpoint=hub.url, local_dir=tmp_path)


def test_an_unknown_file_raises_entry_not_found(hub, tmp_path):
    # 2.4.0 raises RemoteEntryNotFoundError, an EntryNotFoundError and an HfHubHTTPError.
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(REPO, "Foo-7B-Q2_K.gguf", endpoint=hub.url, local_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        get_hf_file_metadata(hf_hub_url(REPO, "Foo-7B-Q2_K.gguf", endpoint=hub.url))


def test_an_unknown_revision_raises_revision_not_found(hub):
    with pytest.raises(RevisionNotFoundError):
        list(HfApi(endpoint=hub.url).list_repo_tree(REPO, revision="v2"))


def test_a_range_request_gets_206_and_those_bytes(hub, files):
    content = files[MODEL].read_bytes()
    url = hf_hub_url(REPO, MODEL, endpoint=hub.url)

    tail_range = f"bytes={len(content) - 10}-"

    middle = httpx.get(url, headers={"Range": "bytes=100-199"})
    tail = httpx.get(url, headers={"Range": tail_range})

    assert middle.status_code == 206
    assert middle.content == content[100:200]
    assert middle.headers["Content-Range"] == f"bytes 100-199/{len(content)}"
    assert tail.status_code == 206 and tail.content == content[-10:]
    assert hub.requests(REPO, MODEL) == [("GET", "bytes=100-199"), ("GET", tail_range)]
    assert hub.bytes_served(REPO, MODEL) == 110


def test_a_range_past_the_end_gets_416(hub, files):
    size = files[MODEL].stat().st_size
    url = hf_hub_url(REPO, MODEL, endpoint=hub.url)

    response = httpx.get(url, headers={"Range": f"bytes={size}-"})

    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_the_token_reaches_the_server(hub, tmp_path):
    list(HfApi(endpoint=hub.url, token="hf_listing").list_repo_tree(REPO))
    assert hub.last_authorization == "Bearer hf_listing"

    hf_hub_download(REPO, README, endpoint=hub.url, local_dir=tmp_path, token="hf_download")
    assert hub.last_authorization == "Bearer hf_download"


def test_a_rate_slows_the_body_down(hub, files):
    hub.set_rate(4 * 1024 * 1024)
    started = time.monotonic()

    response = httpx.get(hf_hub_url(REPO, MODEL, endpoint=hub.url))

    assert response.content == files[MODEL].read_bytes()
    assert time.monotonic() - started >= 0.7  # 3 MiB at 4 MiB/s


def test_a_client_hanging_up_mid_body_leaves_the_server_serving(hub, files, capsys):
    hub.set_rate(1024 * 1024)
    url = hf_hub_url(REPO, MODEL, endpoint=hub.url)
    with httpx.stream("GET", url) as response:
        next(response.iter_raw(64 * 1024))
    time.sleep(0.3)  # the server writes again into the closed socket
    hub.set_rate(None)

    assert httpx.get(url).content == files[MODEL].read_bytes()
    assert hub.bytes_served(REPO, MODEL) < 2 * files[MODEL].stat().st_size
    assert "Traceback" not in capsys.readouterr().err


def test_stopping_cuts_a_download_under_way(files):
    server = HubServer({REPO: files}, rate_bytes_per_second=512 * 1024).start()
    url = hf_hub_url(REPO, MODEL, endpoint=server.url)
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as response:
        for _ in response.iter_raw(64 * 1024):
            server.stop()

    assert 0 < server.bytes_served(REPO, MODEL) < files[MODEL].stat().st_size
    with pytest.raises(httpx.ConnectError):
        httpx.get(url)
