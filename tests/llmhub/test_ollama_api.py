"""The Ollama-compatible API, through the official `ollama` SDK against the live hub."""
import httpx
import ollama
import pytest

from chat.models import Message
from llmhub.api.keys import api_key_create
from llmhub.api.models import Usage


@pytest.fixture
def api_key(alice, demo_model) -> str:
    _, plain = api_key_create(owner=alice, name="tests")
    return plain


@pytest.fixture
def client(hub_url, api_key) -> ollama.Client:
    return ollama.Client(host=hub_url, headers={"Authorization": f"Bearer {api_key}"},
                         timeout=120)


def test_version_list_show_and_ps(client, hub_url, demo_model, worker):
    assert httpx.get(f"{hub_url}/api/version").json()["version"]
    (entry,) = client.list().models
    assert entry.model == demo_model.name and entry.size == demo_model.file_size
    assert entry.details.format == "gguf" and entry.details.family == "llama"
    assert entry.details.quantization_level == demo_model.metadata["file_type"]
    shown = client.show(demo_model.name)
    assert shown.details.parameter_size == demo_model.metadata["size_label"]
    assert shown.modelinfo["general.architecture"] == "llama"
    assert "completion" in shown.capabilities
    assert [m.model for m in client.ps().models] == [demo_model.name]


def test_chat_not_streamed_has_ollamas_counts_and_nanosecond_durations(client, demo_model):
    response = client.chat(model=demo_model.name, stream=False,
                           messages=[{"role": "user", "content": "Say hello."}],
                           options={"temperature": 0, "num_predict": 20})
    assert response.message.role == "assistant" and response.message.content
    assert response.done and response.done_reason in ("stop", "length")
    assert response.prompt_eval_count > 5 and 0 < response.eval_count <= 20
    assert response.eval_duration > 1_000_000 and response.prompt_eval_duration > 0
    assert response.total_duration >= response.eval_duration
    assert Usage.objects.get().outcome == "done"


def test_chat_streamed_relays_the_whole_reply(client, demo_model):
    parts = list(client.chat(model=demo_model.name, stream=True,
                             messages=[{"role": "user", "content": "Name three colours."}],
                             options={"temperature": 0, "num_predict": 30}))
    assert len(parts) >= 3 and all(not p.done for p in parts[:-1]) and parts[-1].done
    text = "".join(part.message.content for part in parts)
    assert text == Message.objects.get(conversation__origin="api").content
    assert parts[-1].eval_count == Message.objects.get().completion_tokens


def test_generate_streamed_and_not(client, demo_model):
    options = {"temperature": 0, "num_predict": 8}
    raw = client.generate(model=demo_model.name, prompt="The capital of France is", raw=True,
                          stream=False, options=options)
    assert "Paris" in raw.response and raw.done_reason == "length"
    parts = list(client.generate(model=demo_model.name, prompt="Say hi.", stream=True,
                                 options=options))
    assert parts[-1].done and "".join(p.response for p in parts)
    loaded = client.generate(model=demo_model.name, prompt="")
    assert loaded.done and loaded.done_reason == "load"


def test_embed(client, demo_model):
    result = client.embed(model=demo_model.name, input=["a cat", "a dog"])
    assert len(result.embeddings) == 2
    assert len(result.embeddings[0]) == demo_model.metadata["embedding_length"]
    assert result.prompt_eval_count > 0


def test_errors_are_ollamas_shape(client, demo_model, hub_url, api_key):
    with pytest.raises(ollama.ResponseError) as unknown:
        client.chat(model="nope:1b", messages=[{"role": "user", "content": "hi"}])
    assert unknown.value.status_code == 404 and "not found" in unknown.value.error
    headers = {"Authorization": f"Bearer {api_key}"}
    bad = httpx.post(f"{hub_url}/api/chat", headers=headers, json={
        "model": demo_model.name, "messages": [{"role": "user", "content": "hi"}],
        "options": {"temperature": "hot"}})
    assert bad.status_code == 400 and "'temperature' must be a number" in bad.json()["error"]
    assert httpx.post(f"{hub_url}/api/chat", json={"model": demo_model.name}).status_code == 401


def test_pull_and_delete_need_an_admin_key(client, demo_model):
    with pytest.raises(ollama.ResponseError) as refused:
        client.delete(demo_model.name)
    assert refused.value.status_code == 403 and "admin key" in refused.value.error


@pytest.fixture
def admin_client(hub_url, alice) -> ollama.Client:
    alice.is_staff = True
    alice.save()
    _, plain = api_key_create(owner=alice, is_admin_key=True)
    return ollama.Client(host=hub_url, headers={"Authorization": f"Bearer {plain}"},
                         timeout=60)


def test_pull_explains_why_no_node_can_take_the_model(admin_client, demo_model, worker):
    # The only worker here is pinned to its models: placement has no node to offer.
    with pytest.raises(ollama.ResponseError) as refused:
        admin_client.pull(demo_model.name)
    assert refused.value.status_code == 400 and "no ready node" in refused.value.error


def test_delete_removes_a_model_and_refuses_one_that_conversations_use(admin_client,
                                                                        demo_model, alice):
    from chat.services import conversation_create
    from models_registry.models import Model
    from models_registry.services import model_register_remote

    spare = model_register_remote(name="spare:1b", backend="ollama",
                                  base_url="http://127.0.0.1:9")
    admin_client.delete(spare.name)
    assert not Model.objects.filter(pk=spare.pk).exists()
    conversation_create(owner=alice, model=demo_model)
    with pytest.raises(ollama.ResponseError) as refused:
        admin_client.delete(demo_model.name)
    assert refused.value.status_code == 409 and "Conversations use" in refused.value.error
