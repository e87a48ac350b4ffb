"""Placement end to end with real worker processes: pull from a local Hugging Face server,
resume after a crash, load, serve; two nodes share the work and survive one dying.

The Hub is the local HubServer (no internet here); everything else is real: Redis, the
database, Celery workers, llama.cpp and the demo model.
"""
import hashlib
import re
import shutil
import time

import pytest

from chat.models import Message
from chat.services import conversation_create, generation_check, message_post
from models_registry.demo import demo_model_path
from models_registry.download import CHUNK_BYTES, partial_path
from models_registry.files import model_local_path
from models_registry.huggingface import hf_gguf_choices
from models_registry.models import Node, Placement
from models_registry.placement import model_delete, model_deploy, model_undeploy
from models_registry.pull import pull_progress_read
from models_registry.replicas import model_header_read
from models_registry.selectors import node_is_ready
from models_registry.services import model_register_huggingface
from tests.hf_hub_server import HubServer
from tests.processes import node_name, node_worker_start, process_kill, wait_for

REPO = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"
FILE = "SmolLM2-135M-Instruct-Q4_1.gguf"


@pytest.fixture
def hub(settings):
    server = HubServer({REPO: {FILE: demo_model_path()}}).start()
    settings.HF_ENDPOINT = server.url
    yield server
    server.stop()


@pytest.fixture
def models_dir(processes_env, settings):
    """A models directory of this test's own, shared by its workers (one box)."""
    folder = settings.DATA_DIR / "replica-models"
    shutil.rmtree(folder, ignore_errors=True)
    settings.MODELS_DIR = folder
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def workers(processes_env, hub, models_dir):
    started = []

    def start(name: str, concurrency: int = 2):
        process = node_worker_start(
            processes_env, name=name, concurrency=concurrency,
            extra_env={"HF_ENDPOINT": hub.url, "LLMHUB_MODELS_DIR": str(models_dir)})
        started.append(process)
        return process

    yield start
    for process in started:
        process_kill(process)


def _registered(name: str):
    choice = hf_gguf_choices(REPO)[0]
    model = model_register_huggingface(repo_id=REPO, choice=choice, name=name)
    model_header_read(model.pk)
    model.refresh_from_db()
    model.temperature, model.max_tokens = 0.0, 24
    model.save()
    return model


def _wait_ready(model, count: int, timeout: float = 120) -> list[Placement]:
    def ready() -> bool:
        states = list(Placement.objects.filter(model=model).values_list("state", "error"))
        failed = [error for state, error in states if state == Placement.State.FAILED]
        assert not failed, failed
        return len(states) == count and all(state == "ready" for state, _ in states)

    wait_for(ready, timeout=timeout, what=f"{count} ready replicas of {model.name}")
    return list(Placement.objects.filter(model=model).select_related("node"))


def _replies(model, owner, count: int) -> list[Message]:
    replies = []
    for index in range(count):
        conversation = conversation_create(owner=owner, model=model)
        replies.append(message_post(conversation=conversation, text=f"Say hello #{index}.")[1])

    def ended() -> bool:
        for reply in replies:
            generation_check(reply=reply)
        return all(r.status not in Message.ACTIVE for r in _fresh(replies))

    wait_for(ended, timeout=120, what=f"{count} replies")
    return _fresh(replies)


def _fresh(replies: list[Message]) -> list[Message]:
    return list(Message.objects.filter(pk__in=[r.pk for r in replies]).order_by("pk"))


def test_a_pull_killed_half_way_resumes_and_downloads_the_file_about_once(
        workers, hub, models_dir, alice):
    model = _registered("smollm2:resumed")
    size = demo_model_path().stat().st_size
    hub.set_rate(20 * 1024 * 1024)  # about 5 s for the whole file: time to kill it midway
    puller = workers("puller")
    (placement,) = model_deploy(model=model, replicas=1, slots=2)

    def half_way() -> bool:
        progress = pull_progress_read([placement.pk]).get(placement.pk)
        return progress is not None and int(progress["done"]) >= size // 2

    wait_for(half_way, timeout=60, what="half of the pull", process=puller)
    process_kill(puller)
    destination = model_local_path(model)
    assert partial_path(destination).exists() and not destination.exists()
    served_before_crash = _pulled_bytes(hub)
    assert size // 2 <= served_before_crash < size

    hub.set_rate(None)
    workers("puller")
    (placement,) = _wait_ready(model, 1)

    assert _pulled_bytes(hub) <= size + CHUNK_BYTES, hub.requests(REPO, FILE)
    resumed = [rng for method, rng in hub.requests(REPO, FILE) if method == "GET" and rng]
    assert any(rng.startswith("bytes=") and not rng.startswith("bytes=0-") for rng in resumed)
    assert _sha256(destination) == _sha256(demo_model_path())
    assert not partial_path(destination).exists()
    (reply,) = _replies(model, alice, 1)
    assert reply.status == "done" and reply.worker == node_name("puller"), reply.error


def test_two_replicas_use_both_nodes_share_one_download_and_survive_one_dying(
        workers, hub, alice):
    model = _registered("smollm2:replicated")
    size = demo_model_path().stat().st_size
    alpha, _ = workers("alpha", concurrency=1), workers("beta", concurrency=1)

    placements = model_deploy(model=model, replicas=2, slots=1)

    assert {p.node.name for p in placements} == {node_name("alpha"), node_name("beta")}
    _wait_ready(model, 2)
    assert _pulled_bytes(hub) <= size + CHUNK_BYTES  # one box, one download
    first = _replies(model, alice, 2)
    assert [r.status for r in first] == ["done", "done"], [r.error for r in first]
    assert {r.worker for r in first} == {node_name("alpha"), node_name("beta")}

    process_kill(alpha)
    killed_at = time.monotonic()
    wait_for(lambda: not node_is_ready(Node.objects.get(name=node_name("alpha"))),
             timeout=30, what="alpha marked not ready")
    assert time.monotonic() - killed_at <= 30
    after = _replies(model, alice, 2)
    assert [r.status for r in after] == ["done", "done"], [r.error for r in after]
    assert {r.worker for r in after} == {node_name("beta")}


def test_undeploy_keeps_the_file_and_delete_removes_it(workers, hub, alice):
    model = _registered("smollm2:deleted")
    workers("solo")
    model_deploy(model=model, replicas=1, slots=1)
    _wait_ready(model, 1)
    path = model_local_path(model)
    assert path.exists()

    model_undeploy(model=model)
    wait_for(lambda: model.name not in Node.objects.get(name=node_name("solo")).model_names,
             timeout=30, what="solo to stop serving the model")
    assert path.exists()

    model_delete(model=model)
    wait_for(lambda: not path.exists(), timeout=30, what="the file to be removed")
    assert not partial_path(path).exists()


def _pulled_bytes(hub: HubServer) -> int:
    """Bytes the pulls downloaded: all bytes served, less the header reads (the closed
    ranges ``bytes=0-N`` that registration asks for before any placement)."""
    served = hub.bytes_served(REPO, FILE)
    for method, byte_range in hub.requests(REPO, FILE):
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", byte_range or "")
        if method == "GET" and match:
            served -= int(match[2]) - int(match[1]) + 1
    return served


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
