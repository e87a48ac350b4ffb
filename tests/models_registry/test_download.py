"""Pulls from the local Hugging Face server: resumable, verified, never half-written
(DESIGN.md invariant 5). The download code runs in the test process; the worker-process
crash and resume is in test_replicas.py."""
import hashlib
import shutil
import threading

import pytest
from django.utils import timezone

from inference.gguf_check import gguf_file_check
from models_registry.demo import demo_model_path
from models_registry.download import (
    CHUNK_BYTES,
    DownloadError,
    RemoteFile,
    download,
    partial_path,
)
from models_registry.files import model_local_path
from models_registry.gguf_metadata import gguf_metadata_read
from models_registry.huggingface import hf_file_url, hf_gguf_choices
from models_registry.models import Node, Placement
from models_registry.replicas import model_header_read, replica_prepare
from models_registry.services import model_register_huggingface
from tests.hf_hub_server import HubServer

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"
CORRUPT_REPO = "someone/SmolLM2-135M-Instruct-corrupt-GGUF"
TRUNCATED_REPO = "someone/SmolLM2-135M-Instruct-truncated-GGUF"


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """The demo model with one byte flipped in its tensor data, and its first 60%."""
    folder = tmp_path_factory.mktemp("copies")
    source = demo_model_path()
    corrupt = folder / FILE
    shutil.copyfile(source, corrupt)
    with corrupt.open("r+b") as handle:
        handle.seek(-1000, 2)
        byte = handle.read(1)
        handle.seek(-1000, 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    truncated = folder / "truncated" / FILE
    truncated.parent.mkdir()
    with source.open("rb") as whole, truncated.open("wb") as part:
        part.write(whole.read(source.stat().st_size * 6 // 10))
    return corrupt, truncated


@pytest.fixture(scope="module")
def hub(copies):
    corrupt, truncated = copies
    server = HubServer({REPO: {FILE: demo_model_path()}, CORRUPT_REPO: {FILE: corrupt},
                        TRUNCATED_REPO: {FILE: truncated}}).start()
    # The corrupt copy is listed with the sha256 of the good file, as a file damaged on
    # the server or on its way would be.
    server.sha256_publish(CORRUPT_REPO, FILE, _sha256(demo_model_path()))
    yield server
    server.stop()


@pytest.fixture
def hub_settings(hub, settings, tmp_path):
    settings.HF_ENDPOINT = hub.url
    settings.MODELS_DIR = tmp_path / "models"
    return settings


def _remote(hub, repo: str, dest, **overrides) -> RemoteFile:
    file = hub.repos[repo][FILE]
    fields = {"url": f"{hub.url}/{repo}/resolve/main/{FILE}", "dest": dest, "size": file.size,
              "sha256": file.sha256} | overrides
    return RemoteFile(**fields)


def _served(hub, repo: str, before: int) -> int:
    return hub.bytes_served(repo, FILE) - before


def test_a_download_is_byte_identical_and_leaves_no_partial_file(hub, tmp_path):
    before = hub.bytes_served(REPO, FILE)
    seen = []
    path = download(_remote(hub, REPO, tmp_path / FILE), progress=seen.append,
                    verify=gguf_file_check)
    assert _sha256(path) == _sha256(demo_model_path())
    assert not partial_path(path).exists()
    assert _served(hub, REPO, before) == path.stat().st_size
    assert seen[-1] == path.stat().st_size and seen == sorted(seen)


def test_a_partial_file_is_resumed_from_its_length(hub, tmp_path):
    size = demo_model_path().stat().st_size
    dest = tmp_path / FILE
    with demo_model_path().open("rb") as source:
        partial_path(dest).write_bytes(source.read(size // 3))
    before = hub.bytes_served(REPO, FILE)
    download(_remote(hub, REPO, dest), progress=lambda done: None, verify=gguf_file_check)
    assert _served(hub, REPO, before) == size - size // 3
    assert hub.requests(REPO, FILE)[-1] == ("GET", f"bytes={size // 3}-")
    assert _sha256(dest) == _sha256(demo_model_path())


def test_a_partial_file_longer_than_the_file_starts_over(hub, tmp_path):
    size = demo_model_path().stat().st_size
    dest = tmp_path / FILE
    partial_path(dest).write_bytes(b"x" * (size + 10))
    download(_remote(hub, REPO, dest), progress=lambda done: None, verify=gguf_file_check)
    assert _sha256(dest) == _sha256(demo_model_path())


def test_a_sha256_mismatch_fails_and_leaves_no_file(hub, tmp_path):
    dest = tmp_path / FILE
    with pytest.raises(DownloadError, match="is corrupt: its sha256 is") as caught:
        download(_remote(hub, CORRUPT_REPO, dest), progress=lambda done: None,
                 verify=gguf_file_check)
    assert caught.value.permanent
    assert not dest.exists() and not partial_path(dest).exists()


def test_a_truncated_gguf_is_refused_and_leaves_no_file(hub, tmp_path):
    dest = tmp_path / FILE
    with pytest.raises(DownloadError, match="was refused: .* truncated"):
        download(_remote(hub, TRUNCATED_REPO, dest), progress=lambda done: None,
                 verify=gguf_file_check)
    assert not dest.exists() and not partial_path(dest).exists()


def test_a_file_bigger_than_the_free_disk_is_refused_before_any_byte(hub, tmp_path):
    before = hub.bytes_served(REPO, FILE)
    remote = _remote(hub, REPO, tmp_path / FILE, size=10**18)
    with pytest.raises(DownloadError, match="not enough disk space"):
        download(remote, progress=lambda done: None, verify=gguf_file_check)
    assert _served(hub, REPO, before) == 0


def test_an_unknown_file_is_a_permanent_error(hub, tmp_path):
    remote = _remote(hub, REPO, tmp_path / FILE, url=f"{hub.url}/{REPO}/resolve/main/nope.gguf")
    with pytest.raises(DownloadError, match="answered 404") as caught:
        download(remote, progress=lambda done: None, verify=gguf_file_check)
    assert caught.value.permanent


def test_a_server_that_goes_away_mid_file_keeps_the_partial_for_a_resume(copies, tmp_path):
    source = demo_model_path()
    server = HubServer({REPO: {FILE: source}}, rate_bytes_per_second=40 * CHUNK_BYTES).start()
    dest = tmp_path / FILE
    remote = _remote(server, REPO, dest)
    threading.Timer(1.0, server.stop).start()
    with pytest.raises(DownloadError) as caught:
        download(remote, progress=lambda done: None, verify=gguf_file_check)
    assert not caught.value.permanent and not dest.exists()
    kept = partial_path(dest).stat().st_size
    assert 0 < kept < source.stat().st_size

    again = HubServer({REPO: {FILE: source}}).start()
    try:
        download(_remote(again, REPO, dest), progress=lambda done: None, verify=gguf_file_check)
        assert again.requests(REPO, FILE)[-1] == ("GET", f"bytes={kept}-")
    finally:
        again.stop()
    assert _sha256(dest) == _sha256(source)


def test_two_downloads_of_one_file_share_it(hub, tmp_path):
    before = hub.bytes_served(REPO, FILE)
    hub.set_rate(200 * CHUNK_BYTES)
    results, waiter_progress = [], []
    try:
        first = threading.Thread(target=lambda: results.append(download(
            _remote(hub, REPO, tmp_path / FILE), progress=lambda done: None,
            verify=gguf_file_check)))
        first.start()
        while not partial_path(tmp_path / FILE).exists():
            pass
        results.append(download(_remote(hub, REPO, tmp_path / FILE),
                                progress=waiter_progress.append, verify=gguf_file_check))
        first.join()
    finally:
        hub.set_rate(None)
    size = demo_model_path().stat().st_size
    assert _served(hub, REPO, before) == size
    assert results == [tmp_path / FILE] * 2
    assert waiter_progress[-1] == size and any(0 < done < size for done in waiter_progress)


@pytest.mark.django_db
def test_the_header_is_read_from_the_hub_before_any_pull(hub, hub_settings):
    choice = hf_gguf_choices(REPO)[0]
    model = model_register_huggingface(repo_id=REPO, choice=choice)
    before = hub.bytes_served(REPO, FILE)
    model_header_read(model.pk)
    model.refresh_from_db()
    local = gguf_metadata_read(demo_model_path()).as_dict()
    assert model.metadata == local and model.error == ""
    assert model.file_size == demo_model_path().stat().st_size
    assert _served(hub, REPO, before) < 20 * 1024 * 1024  # a header, not the file
    assert not model_local_path(model).exists()
    assert model.name == "smollm2:135m-instruct-q4_1"
    assert model.files == [{"name": FILE, "size": model.file_size,
                            "sha256": _sha256(demo_model_path())}]
    assert hf_file_url(REPO, FILE).startswith(hub.url)


@pytest.mark.django_db
def test_a_replica_whose_file_is_corrupt_ends_failed_with_the_reason(hub, hub_settings):
    node = Node.objects.create(name="box@test", host="test", ram_bytes=8 * 10**9,
                               started_at=timezone.now(), last_seen=timezone.now())
    choice = hf_gguf_choices(CORRUPT_REPO)[0]
    model = model_register_huggingface(repo_id=CORRUPT_REPO, choice=choice, name="corrupt")
    placement = Placement.objects.create(model=model, node=node, slots=1, memory_bytes=1)

    again = replica_prepare(placement.pk, worker_name=node.name, last_try=False)

    placement.refresh_from_db()
    assert not again and placement.state == "failed"
    assert "is corrupt: its sha256 is" in placement.error
    path = model_local_path(model)
    assert not path.exists() and not partial_path(path).exists()


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
