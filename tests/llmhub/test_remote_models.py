"""Remote backends registered beside local models: they run as generation tasks on the
`remote` queue, stream like local ones, and show in the chat's picker and in both APIs.

The OpenAI backend talks to llama-cpp-python's own server (`python -m llama_cpp.server`,
which llmhub did not write) serving the demo model; the Ollama backend to the hub's own
/api, which the official `ollama` SDK checks in test_ollama_api.py; broken remotes are
the small servers of tests/inference/test_remote_backends.py.
"""
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from chat.forms import ConversationForm
from chat.models import Message
from chat.services import conversation_create, generation_check, message_post
from llmhub.api.keys import api_key_create, api_key_hash
from llmhub.api.models import ApiKey, Usage
from models_registry.demo import demo_model_path
from models_registry.services import model_register_remote
from tests.inference.test_remote_backends import FakeRemote
from tests.processes import TEST_HUB_KEY, TEST_HUB_KEY_ENV, free_port, wait_for


@pytest.fixture(scope="module")
def llama_server():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(demo_model_path()),
         "--port", str(port), "--n_ctx", "2048", "--interrupt_requests", "false"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/models", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, timeout=60, what="llama_cpp.server", process=process)
        yield url
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def broken_remote():
    server = FakeRemote()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()


def _reply(model, owner, text="Say hello.") -> Message:
    conversation = conversation_create(owner=owner, model=model)
    _, reply = message_post(conversation=conversation, text=text)

    def ended() -> bool:
        generation_check(reply=reply)
        reply.refresh_from_db()
        return reply.status not in Message.ACTIVE

    wait_for(ended, timeout=90, what=f"the reply of {model.name}")
    return reply


def test_an_openai_compatible_remote_streams_through_the_chat_and_both_apis(
        llama_server, hub_url, worker, alice):
    remote = model_register_remote(name="smollm2:remote", backend="openai",
                                   base_url=llama_server, remote_name="smollm2")
    remote.max_tokens = 16
    remote.save()
    reply = _reply(remote, alice)
    assert reply.status == "done", reply.error
    assert reply.content and reply.worker.startswith("main@")
    assert reply.completion_tokens > 0
    picker = ConversationForm().fields["model"].queryset
    assert remote in picker  # the chat's model picker

    _, key = api_key_create(owner=alice)
    client = openai.OpenAI(base_url=f"{hub_url}/v1", api_key=key, max_retries=0)
    assert remote.name in [model.id for model in client.models.list()]
    chunks = list(client.chat.completions.create(
        model=remote.name, messages=[{"role": "user", "content": "Say hi."}], max_tokens=8,
        stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    tags = httpx.get(f"{hub_url}/api/tags", headers={"Authorization": f"Bearer {key}"})
    assert remote.name in [entry["name"] for entry in tags.json()["models"]]


def test_an_ollama_remote_talks_to_the_hubs_own_api(hub_url, worker, alice, demo_model):
    ApiKey.objects.create(owner=alice, name="workers", prefix=TEST_HUB_KEY[:12],
                          key_hash=api_key_hash(TEST_HUB_KEY))
    remote = model_register_remote(name="smollm2:via-ollama", backend="ollama",
                                   base_url=hub_url, remote_name=demo_model.name,
                                   api_key_env=TEST_HUB_KEY_ENV)
    remote.max_tokens = 16
    remote.save()
    reply = _reply(remote, alice)
    assert reply.status == "done", reply.error
    assert reply.content
    # The hub records the inner call once its stream has ended, just after the backend
    # read the last line: wait for the row rather than race it.
    wait_for(lambda: Usage.objects.filter(endpoint="/api/chat").exists(), timeout=15,
             what="the inner call's usage")
    inner = Usage.objects.get(endpoint="/api/chat")
    assert (inner.model_name, inner.outcome) == (demo_model.name, "done")
    assert inner.completion_tokens == reply.completion_tokens


@pytest.mark.parametrize("mode, reason", [
    ("truncated", "closed the stream mid-reply"),
    ("silent", "sent nothing for 15 s"),
    ("garbage", "sent invalid JSON"),
])
def test_a_remote_that_breaks_ends_the_reply_as_failed_with_the_reason(
        broken_remote, worker, alice, mode, reason):
    remote = model_register_remote(name=f"broken:{mode}", backend="openai",
                                   base_url=broken_remote.url(mode, "openai"))
    started = time.monotonic()
    reply = _reply(remote, alice)
    assert reply.status == "failed" and reason in reply.error
    assert time.monotonic() - started < 45


def test_a_remote_that_is_down_fails_its_reply(worker, alice):
    remote = model_register_remote(name="down:1b", backend="openai",
                                   base_url=f"http://127.0.0.1:{free_port()}/v1")
    reply = _reply(remote, alice)
    assert reply.status == "failed" and "cannot reach" in reply.error
