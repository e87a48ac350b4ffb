"""Team features: model groups at the APIs' door, the API keys page, the usage page.

The API checks run against the live hub (daphne, a Celery worker, the demo model)."""
import re
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.models import Group, User
from django.contrib.sessions.models import Session
from django.utils import timezone

from chat.models import Conversation, Message
from llmhub.api.keys import api_key_create
from llmhub.api.models import ApiKey, Usage
from models_registry.models import Model

pytestmark = pytest.mark.django_db(transaction=True)

PLAIN_KEY = re.compile(r"llmhub-[A-Za-z0-9_-]{43}")
CHAT = {"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 3}
OLLAMA_CHAT = {"messages": [{"role": "user", "content": "Say hi."}], "stream": False,
               "options": {"num_predict": 3}}


@pytest.fixture
def team(alice) -> Group:
    group = Group.objects.create(name="team")
    alice.groups.add(group)
    return group


@pytest.fixture
def team_model(demo_model, team) -> Model:
    """The demo model, kept for the team: alice is in it, bob is not."""
    demo_model.groups.add(team)
    return demo_model


@pytest.fixture
def carol(transactional_db) -> User:
    return User.objects.create_user("carol", password="carol-password-1", is_staff=True)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _models_listed(hub_url: str, key: str) -> tuple[list[str], list[str]]:
    openai = httpx.get(f"{hub_url}/v1/models", headers=_bearer(key), timeout=30).json()
    ollama = httpx.get(f"{hub_url}/api/tags", headers=_bearer(key), timeout=30).json()
    return ([entry["id"] for entry in openai["data"]],
            [entry["name"] for entry in ollama["models"]])


def _chat_statuses(hub_url: str, key: str, model: str) -> tuple[int, int]:
    openai = httpx.post(f"{hub_url}/v1/chat/completions", json=CHAT | {"model": model},
                        headers=_bearer(key), timeout=120)
    ollama = httpx.post(f"{hub_url}/api/chat", json=OLLAMA_CHAT | {"model": model},
                        headers=_bearer(key), timeout=120)
    return openai.status_code, ollama.status_code


# Model groups at the APIs


def test_bobs_key_neither_lists_nor_reaches_the_teams_model(hub_url, bob, team_model):
    _, key = api_key_create(owner=bob)
    assert _models_listed(hub_url, key) == ([], [])
    assert _chat_statuses(hub_url, key, team_model.name) == (404, 404)
    refusal = httpx.post(f"{hub_url}/v1/chat/completions", headers=_bearer(key),
                         json=CHAT | {"model": team_model.name}, timeout=30).json()
    assert refusal["error"]["message"] == f"model '{team_model.name}' not found"
    assert not Conversation.objects.exists()


def test_alices_key_lists_and_reaches_the_teams_model(hub_url, alice, team_model):
    _, key = api_key_create(owner=alice)
    assert _models_listed(hub_url, key) == ([team_model.name], [team_model.name])
    assert _chat_statuses(hub_url, key, team_model.name) == (200, 200)


def test_staff_reach_the_teams_model_without_being_in_the_team(hub_url, carol, team_model):
    _, key = api_key_create(owner=carol)
    assert _models_listed(hub_url, key) == ([team_model.name], [team_model.name])
    assert _chat_statuses(hub_url, key, team_model.name)[0] == 200


# The API keys page


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    for response in (client.get("/keys/"), client.get("/usage/"),
                     client.post("/keys/1/revoke/")):
        assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_new_key_is_shown_once_and_works_until_revoked(client, hub_url, alice, demo_model):
    client.force_login(alice)
    created = client.post("/keys/", {"name": "laptop", "expires_in_days": "7"})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    page = created.content.decode()
    (plain,) = set(PLAIN_KEY.findall(page))
    assert "shown only this once" in page

    key = ApiKey.objects.get()
    assert (key.owner, key.name, key.prefix) == (alice, "laptop", plain[:12])
    assert timedelta(days=6, hours=23) < key.expires_at - timezone.now() <= timedelta(days=7)
    listing = client.get("/keys/").content.decode()
    assert key.prefix in listing and "laptop" in listing and plain not in listing
    assert plain not in str(list(ApiKey.objects.values()))
    assert plain not in str([s.get_decoded() for s in Session.objects.all()])

    assert _models_listed(hub_url, plain)[0] == [demo_model.name]
    revoked = client.post(f"/keys/{key.pk}/revoke/", follow=True)
    assert "Revoked the key" in revoked.content.decode()
    refusal = httpx.get(f"{hub_url}/v1/models", headers=_bearer(plain), timeout=30)
    assert refusal.status_code == 401 and "revoked" in refusal.json()["error"]["message"]


def test_the_list_shows_each_keys_expiry_models_limits_and_state(client, alice, demo_model):
    api_key_create(owner=alice, name="limited", allowed_models=[demo_model.name],
                   requests_per_minute=5, tokens_per_minute=1000)
    old, _ = api_key_create(owner=alice, name="old")
    old.revoked_at = timezone.now()
    old.save()
    client.force_login(alice)
    page = client.get("/keys/").content.decode()
    assert demo_model.name in page and "5 requests/min" in page and "1000 tokens/min" in page
    assert "all you may use" in page and "revoked" in page
    assert page.count(">Revoke</button>") == 1  # a revoked key has no button


def test_bob_cannot_see_or_revoke_alices_key(client, alice, bob):
    key, _ = api_key_create(owner=alice, name="alices-laptop")
    client.force_login(bob)
    assert "alices-laptop" not in client.get("/keys/").content.decode()
    assert client.post(f"/keys/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_revoking_takes_a_post(client, alice):
    key, _ = api_key_create(owner=alice)
    client.force_login(alice)
    assert client.get(f"/keys/{key.pk}/revoke/").status_code == 405
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_key_is_limited_only_to_models_its_owner_may_use(client, alice, bob, team_model):
    client.force_login(bob)
    assert team_model.name not in client.get("/keys/").content.decode()
    forged = client.post("/keys/", {"name": "sneaky", "allowed_models": [team_model.name]})
    assert forged.status_code == 400 and not ApiKey.objects.exists()

    client.force_login(alice)
    created = client.post("/keys/", {"name": "team", "allowed_models": [team_model.name]})
    assert created.status_code == 200
    assert ApiKey.objects.get().allowed_models == [team_model.name]


# The usage page


def _usage(user, model_name: str, tokens: int, days_ago: int = 0) -> Usage:
    row = Usage.objects.create(user=user, model_name=model_name, endpoint="/v1/chat/completions",
                               prompt_tokens=tokens, completion_tokens=1, outcome="done")
    Usage.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(days=days_ago))
    return row


def _bars(page: str) -> int:
    return page.count('<rect class="bar"')


def test_the_usage_page_draws_a_bar_per_day_and_model_with_the_numbers(client, alice):
    _usage(alice, "small:1b", 100)
    _usage(alice, "small:1b", 50)  # the same day and model: one bar, 152 tokens
    _usage(alice, "large:7b", 300)
    _usage(alice, "small:1b", 20, days_ago=3)
    _usage(alice, "small:1b", 999, days_ago=40)  # outside the 30 days
    client.force_login(alice)
    page = client.get("/usage/").content.decode()
    assert "<svg" in page and _bars(page) == 3
    assert page.count('class="swatch"') == 2  # the legend: one colour per model
    assert "<table" in page and "<td class=\"number\">152</td>" in page
    assert "<td class=\"number\">301</td>" in page and "<td class=\"number\">21</td>" in page
    assert "474 tokens in all" in page  # not the 1,000 of 40 days ago


def test_the_chat_pages_replies_count_and_api_replies_are_not_counted_twice(
        client, alice, demo_model):
    for origin in (Conversation.Origin.CHAT, Conversation.Origin.API):
        conversation = Conversation.objects.create(owner=alice, model=demo_model,
                                                   origin=origin)
        Message.objects.create(conversation=conversation, role="assistant", status="done",
                               prompt_tokens=40, completion_tokens=2,
                               finished_at=timezone.now())
    _usage(alice, demo_model.name, 7)
    client.force_login(alice)
    page = client.get("/usage/").content.decode()
    assert _bars(page) == 1 and "<td class=\"number\">50</td>" in page  # 42 + 8


def test_after_api_calls_the_page_shows_their_tokens(client, hub_url, alice, demo_model):
    _, key = api_key_create(owner=alice)
    assert _chat_statuses(hub_url, key, demo_model.name) == (200, 200)
    client.force_login(alice)
    page = client.get("/usage/").content.decode()
    tokens = sum(row.prompt_tokens + row.completion_tokens for row in Usage.objects.all())
    assert tokens > 0 and _bars(page) == 1
    assert f"<td class=\"number\">{tokens}</td>" in page


def test_bob_sees_only_his_own_usage_even_when_asking_for_everyones(client, alice, bob):
    _usage(alice, "alices-model:1b", 100)
    _usage(bob, "bobs-model:1b", 10)
    client.force_login(bob)
    for url in ("/usage/", "/usage/?who=everyone"):
        page = client.get(url).content.decode()
        assert "bobs-model:1b" in page and "alices-model:1b" not in page
        assert "everyone's" not in page


def test_staff_switch_to_everyones_usage(client, alice, bob, carol):
    _usage(alice, "alices-model:1b", 100)
    _usage(bob, "bobs-model:1b", 10)
    client.force_login(carol)
    own = client.get("/usage/").content.decode()
    assert "No tokens used" in own and 'href="/usage/?who=everyone"' in own
    everyone = client.get("/usage/?who=everyone").content.decode()
    assert "alices-model:1b" in everyone and "bobs-model:1b" in everyone
    assert _bars(everyone) == 2
