"""The OpenAI-compatible API, through the official `openai` SDK against the live hub
(daphne, a Celery worker, the demo model in llama.cpp)."""
import time

import httpx
import openai
import pytest

from chat.models import Message
from llmhub.api.keys import api_key_create
from llmhub.api.models import Usage


@pytest.fixture
def api_key(alice, demo_model) -> str:
    _, plain = api_key_create(owner=alice, name="tests")
    return plain


@pytest.fixture
def client(hub_url, api_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{hub_url}/v1", api_key=api_key, max_retries=0, timeout=120)


def test_models_list_names_the_demo_model(client, demo_model):
    assert [model.id for model in client.models.list()] == [demo_model.name]
    assert client.models.retrieve(demo_model.name).owned_by == "llmhub"


def test_chat_completion_with_usage(client, demo_model):
    completion = client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=20, temperature=0)
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 20
    assert completion.usage.total_tokens == (completion.usage.prompt_tokens
                                             + completion.usage.completion_tokens)
    row = Usage.objects.get()
    assert (row.endpoint, row.outcome, row.completion_tokens) == (
        "/v1/chat/completions", "done", completion.usage.completion_tokens)


def test_chat_streaming_relays_the_whole_reply_and_ends_with_usage(client, demo_model):
    chunks = list(client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Name three colours."}],
        max_tokens=30, temperature=0, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    stored = Message.objects.get(conversation__origin="api")
    assert text == stored.content and len(text) > 20
    assert len([c for c in chunks if c.choices]) >= 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == stored.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_max_tokens_stop_and_seed(client, demo_model):
    short = client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Tell me a story."}],
        max_completion_tokens=5, temperature=0)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 5
    seeded = [client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Pick a word."}],
        max_tokens=12, temperature=1.0, seed=42).choices[0].message.content for _ in range(2)]
    assert seeded[0] == seeded[1]


def test_logprobs_with_top_alternatives(client, demo_model):
    completion = client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Say yes."}],
        max_tokens=6, temperature=0, logprobs=True, top_logprobs=3)
    content = completion.choices[0].logprobs.content
    assert len(content) == completion.usage.completion_tokens
    assert "".join(entry.token for entry in content) == completion.choices[0].message.content
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].logprob >= entry.top_logprobs[-1].logprob
        assert entry.token == entry.top_logprobs[0].token  # greedy: the best one


def test_completions_with_a_raw_prompt(client, demo_model):
    completion = client.completions.create(model=demo_model.name,
                                           prompt="The capital of France is", max_tokens=8,
                                           temperature=0, logprobs=2)
    assert "Paris" in completion.choices[0].text
    assert completion.object == "text_completion"
    assert len(completion.choices[0].logprobs.tokens) == completion.usage.completion_tokens
    streamed = "".join(chunk.choices[0].text for chunk in client.completions.create(
        model=demo_model.name, prompt="The capital of France is", max_tokens=8,
        temperature=0, stream=True))
    assert streamed == completion.choices[0].text


def test_json_response_format(client, demo_model):
    import json

    completion = client.chat.completions.create(
        model=demo_model.name, max_tokens=60, temperature=0,
        messages=[{"role": "user", "content": "Describe a cat as JSON with name and age."}],
        response_format={"type": "json_object"})
    text = completion.choices[0].message.content
    if completion.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)
    assert text.lstrip().startswith("{")


def test_embeddings(client, demo_model):
    result = client.embeddings.create(model=demo_model.name, input=["a cat", "a dog"])
    assert [item.index for item in result.data] == [0, 1]
    vector = result.data[0].embedding
    assert len(vector) == demo_model.metadata["embedding_length"]
    assert abs(sum(v * v for v in vector) - 1) < 1e-3
    assert result.usage.prompt_tokens > 0


@pytest.mark.parametrize("body, status, message", [
    ({"model": "nope:1b", "messages": [{"role": "user", "content": "hi"}]}, 404, "not found"),
    ({"messages": [{"role": "user", "content": "hi"}]}, 400, "'model' is required"),
    ({"model": "DEMO", "messages": []}, 400, "'messages' must be a non-empty array"),
    ({"model": "DEMO", "messages": [{"role": "robot", "content": "hi"}]}, 400, "role"),
    ({"model": "DEMO", "messages": [{"role": {}, "content": "hi"}]}, 400, "role"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "a\x00b"}]}, 400, "NUL"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
     400, "'stream' must be a boolean"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": 3}]}, 400, "content"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "hi"}], "temperature": "hot"},
     400, "'temperature' must be a number"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
     400, "'max_tokens' must be between"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "hi"}], "n": 2}, 400, "'n'"),
    ({"model": "DEMO", "messages": [{"role": "user", "content": "hi"}],
      "stop": ["a", "b", "c", "d", "e"]}, 400, "'stop'"),
])
def test_bad_requests_get_a_4xx_in_openais_error_shape(hub_url, api_key, demo_model, body,
                                                       status, message):
    if body.get("model") == "DEMO":
        body["model"] = demo_model.name
    response = httpx.post(f"{hub_url}/v1/chat/completions", json=body,
                          headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"] and error["type"]
    assert not Message.objects.filter(conversation__origin="api").exists()
    refused = Usage.objects.get()  # a refused call is recorded too
    assert refused.outcome == "refused" and str(status) in refused.error


def test_a_body_that_is_not_json_or_too_big(hub_url, api_key, demo_model):
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    response = httpx.post(f"{hub_url}/v1/chat/completions", content=b"{nope", headers=headers)
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]["message"]
    nan = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}'
    response = httpx.post(f"{hub_url}/v1/chat/completions", content=nan, headers=headers)
    assert response.status_code == 400 and "NaN is not a JSON value" in response.text
    unknown = httpx.get(f"{hub_url}/v1/nothing/here", headers=headers)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_url"
    wrong_method = httpx.get(f"{hub_url}/v1/chat/completions", headers=headers)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    big = b'{"model": "x", "pad": "' + b"a" * (5 * 1024 * 1024) + b'"}'
    response = httpx.post(f"{hub_url}/v1/chat/completions", content=big, headers=headers)
    assert response.status_code == 413


def test_a_client_that_disconnects_cancels_its_generation(client, demo_model):
    demo_model.max_tokens = 2000
    demo_model.save()
    stream = client.chat.completions.create(
        model=demo_model.name, messages=[{"role": "user", "content": "Tell a long story."}],
        max_tokens=1500, temperature=0, stream=True)
    for index, _ in enumerate(stream):
        if index == 3:
            break
    stream.close()
    reply = Message.objects.get(conversation__origin="api")
    deadline = time.monotonic() + 15
    while reply.status in Message.ACTIVE and time.monotonic() < deadline:
        time.sleep(0.2)
        reply.refresh_from_db()
    assert reply.status == "cancelled"
    assert reply.completion_tokens < 1500
