"""API keys at the door of both APIs: each refusal gets its status in the API's own error
shape, and is recorded as usage."""
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from llmhub.api.keys import api_key_create, api_key_revoke
from llmhub.api.models import ApiKey, Usage

CHAT = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 3}
OLLAMA_CHAT = {"messages": [{"role": "user", "content": "Say hi."}], "stream": False,
               "options": {"num_predict": 3}}


def _openai(hub_url, key, model, body=CHAT) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{hub_url}/v1/chat/completions", json=body | {"model": model},
                      headers=headers, timeout=60)


def _ollama(hub_url, key, model) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{hub_url}/api/chat", json=OLLAMA_CHAT | {"model": model},
                      headers=headers, timeout=60)


@pytest.mark.parametrize("make_key, message", [
    (lambda alice: None, "Missing API key"),
    (lambda alice: "llmhub-not-a-real-key", "Invalid API key"),
    (lambda alice: api_key_create(owner=alice, expires_at=timezone.now() + timedelta(
        seconds=1))[1], "expired"),
    (lambda alice: _revoked(alice), "revoked"),
])
def test_no_wrong_expired_or_revoked_key_gets_401(hub_url, alice, demo_model, make_key,
                                                   message):
    key = make_key(alice)
    if message == "expired":
        ApiKey.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    openai_refusal = _openai(hub_url, key, demo_model.name)
    assert openai_refusal.status_code == 401
    assert openai_refusal.json()["error"]["code"] == "invalid_api_key"
    assert message in openai_refusal.json()["error"]["message"]
    ollama_refusal = _ollama(hub_url, key, demo_model.name)
    assert ollama_refusal.status_code == 401 and message in ollama_refusal.json()["error"]


def _revoked(alice) -> str:
    key, plain = api_key_create(owner=alice)
    api_key_revoke(key)
    return plain


def test_a_key_limited_to_other_models_gets_404_as_for_an_unknown_model(hub_url, alice,
                                                                         demo_model):
    _, plain = api_key_create(owner=alice, allowed_models=["other:1b"])
    refusal = _openai(hub_url, plain, demo_model.name)
    assert refusal.status_code == 404 and "not found" in refusal.json()["error"]["message"]
    assert _ollama(hub_url, plain, demo_model.name).status_code == 404
    listed = httpx.get(f"{hub_url}/v1/models", headers={"Authorization": f"Bearer {plain}"})
    assert listed.json()["data"] == []
    assert set(Usage.objects.values_list("outcome", flat=True)) == {"refused"}


def test_a_key_over_its_request_limit_gets_429_with_retry_after(hub_url, alice, demo_model):
    _, plain = api_key_create(owner=alice, requests_per_minute=2)
    statuses = [_openai(hub_url, plain, demo_model.name).status_code for _ in range(2)]
    refusal = _openai(hub_url, plain, demo_model.name)
    if refusal.status_code != 429:  # the minute turned between the calls: one more try
        refusal = _openai(hub_url, plain, demo_model.name)
    assert statuses == [200, 200] and refusal.status_code == 429
    assert 1 <= int(refusal.headers["Retry-After"]) <= 60
    assert refusal.json()["error"]["code"] == "rate_limit_exceeded"
    ollama_refusal = _ollama(hub_url, plain, demo_model.name)
    assert ollama_refusal.status_code == 429 and "Retry-After" in ollama_refusal.headers
    assert Usage.objects.filter(outcome="rate_limited").count() >= 2


def test_a_key_over_its_token_limit_gets_429(hub_url, alice, demo_model):
    _, plain = api_key_create(owner=alice, tokens_per_minute=20)
    first = _openai(hub_url, plain, demo_model.name)  # the prompt alone is over 20 tokens
    assert first.status_code == 200 and first.json()["usage"]["total_tokens"] > 20
    assert _openai(hub_url, plain, demo_model.name).status_code == 429
