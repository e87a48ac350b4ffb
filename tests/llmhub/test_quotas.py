"""Daily token quotas: once alice has spent hers, the chat page, the OpenAI API and the
Ollama API all refuse her next turn until midnight UTC, while bob, who has no quota, goes
on. Counted as the usage page counts, so the page and the refusal agree.

The refusals run against the live hub (daphne, a Celery worker, the demo model), through
the official SDKs; a spent quota is set up with a usage row, as a finished call leaves."""
from datetime import UTC, datetime, timedelta

import httpx
import ollama
import openai
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from chat.models import Conversation, Message
from llmhub.api.keys import api_key_create
from llmhub.api.models import TokenQuota, Usage
from llmhub.api.quotas import (
    QuotaExceeded,
    quota_check,
    quota_reset_seconds,
    quota_tokens_used_today,
)
from llmhub.api.selectors import usage_daily_tokens
from tests.chat_client import chat_connect, post_message, read_until_final, receive, send

pytestmark = pytest.mark.django_db(transaction=True)

SPENT = "You have used your 10,000 tokens for today. The quota resets at midnight UTC."
HELLO = [{"role": "user", "content": "Say hi."}]


def spend(user: User, tokens: int, *, days_ago: int = 0) -> Usage:
    """A finished API call's usage row, as the hub records it."""
    usage = Usage.objects.create(user=user, model_name="demo", endpoint="/v1/completions",
                                 prompt_tokens=tokens // 2, completion_tokens=tokens - tokens // 2,
                                 outcome="done")
    if days_ago:
        Usage.objects.filter(pk=usage.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago))
    return usage


def chat_reply(conversation: Conversation, *, prompt: int, completion: int,
               status: str = Message.Status.DONE, days_ago: int = 0) -> Message:
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                      content="How often should I feed it?")
    return Message.objects.create(
        conversation=conversation, parent=question, role=Message.Role.ASSISTANT,
        content="Once a day.", status=status, prompt_tokens=prompt, completion_tokens=completion,
        finished_at=timezone.now() - timedelta(days=days_ago))


@pytest.fixture
def spent_alice(alice) -> User:
    TokenQuota.objects.create(user=alice, tokens_per_day=10_000)
    spend(alice, 10_000)
    return alice


def openai_client(hub_url: str, user: User) -> openai.OpenAI:
    _, plain = api_key_create(owner=user)
    return openai.OpenAI(base_url=f"{hub_url}/v1", api_key=plain, max_retries=0, timeout=120)


def ollama_client(hub_url: str, user: User) -> ollama.Client:
    _, plain = api_key_create(owner=user)
    return ollama.Client(host=hub_url, headers={"Authorization": f"Bearer {plain}"},
                         timeout=120)


# Counting


def test_today_counts_api_calls_and_finished_chat_replies_since_midnight_utc(
        alice, bob, demo_model):
    chats = Conversation.objects.create(owner=alice, model=demo_model)
    spend(alice, 100)
    chat_reply(chats, prompt=20, completion=30)
    spend(alice, 1_000, days_ago=1)
    chat_reply(chats, prompt=200, completion=300, days_ago=1)
    chat_reply(chats, prompt=7, completion=0, status=Message.Status.FAILED)
    # An API call's reply is a message too; its usage row has counted it already.
    calls = Conversation.objects.create(owner=alice, model=demo_model, origin="api")
    chat_reply(calls, prompt=40, completion=60)
    spend(bob, 5_000)
    assert quota_tokens_used_today(user=alice) == 150
    assert quota_tokens_used_today(user=bob) == 5_000


def test_the_count_agrees_with_the_usage_pages_today(alice, demo_model):
    chats = Conversation.objects.create(owner=alice, model=demo_model)
    spend(alice, 321)
    chat_reply(chats, prompt=11, completion=22)
    spend(alice, 999, days_ago=2)
    page_today = sum(row.tokens for row in usage_daily_tokens(user=alice, days=1))
    assert quota_tokens_used_today(user=alice) == page_today == 354


def test_the_quota_resets_at_midnight_utc():
    assert quota_reset_seconds(now=datetime(2025, 3, 1, 23, 59, 30, tzinfo=UTC)) == 30
    assert quota_reset_seconds(now=datetime(2025, 3, 1, 0, 0, tzinfo=UTC)) == 86_400


# The check


def test_alice_under_her_quota_passes_and_at_it_is_refused(alice):
    TokenQuota.objects.create(user=alice, tokens_per_day=10_000)
    spend(alice, 9_999)
    quota_check(user=alice)
    spend(alice, 1)
    with pytest.raises(QuotaExceeded) as refused:
        quota_check(user=alice)
    assert refused.value.messages == [SPENT]


def test_bob_without_a_quota_is_never_refused(bob, spent_alice):
    spend(bob, 10_000_000)
    quota_check(user=bob)


# The chat page's websocket


def test_spent_alice_gets_an_error_for_send_regenerate_and_edit_and_nothing_is_stored(
        hub_url, spent_alice, demo_model):
    conversation = Conversation.objects.create(owner=spent_alice, model=demo_model)
    reply = chat_reply(conversation, prompt=0, completion=0)
    with chat_connect(hub_url, conversation.pk, spent_alice) as ws:
        for request in ({"type": "send", "text": "One more?"},
                        {"type": "regenerate", "reply_id": reply.pk},
                        {"type": "edit", "message_id": reply.parent_id, "text": "Edited"}):
            send(ws, request)
            assert receive(ws, timeout=30) == {"type": "error", "error": SPENT}
    assert conversation.messages.count() == 2


def test_a_reply_under_the_quota_runs_to_its_end_and_the_next_turn_is_refused(
        hub_url, alice, bob, demo_model):
    TokenQuota.objects.create(user=alice, tokens_per_day=1)
    conversation = Conversation.objects.create(owner=alice, model=demo_model)
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        post_message(ws, "Name three colours.")
        _, final = read_until_final(ws)
        assert final["status"] == "done" and final["completion_tokens"] > 1
        send(ws, {"type": "send", "text": "And three more?"})
        refusal = receive(ws, timeout=30)
    assert refusal["type"] == "error"
    assert refusal["error"].startswith("You have used your 1 token for today.")
    assert conversation.messages.count() == 2

    bobs = Conversation.objects.create(owner=bob, model=demo_model)
    with chat_connect(hub_url, bobs.pk, bob) as ws:
        post_message(ws, "Name three colours.")
        assert read_until_final(ws)[1]["status"] == "done"


# The APIs


def test_spent_alice_gets_openais_429_that_says_quota(hub_url, spent_alice, demo_model):
    client = openai_client(hub_url, spent_alice)
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model=demo_model.name, messages=HELLO, max_tokens=3)
    error = refused.value
    assert error.status_code == 429 and error.code == "insufficient_quota"
    assert error.body["message"] == SPENT and "quota" in error.message
    assert 1 <= int(error.response.headers["Retry-After"]) <= 86_400
    with pytest.raises(openai.RateLimitError):
        client.embeddings.create(model=demo_model.name, input="hello")
    assert not Message.objects.filter(conversation__origin="api").exists()
    refusals = Usage.objects.filter(outcome="rate_limited")
    assert [(row.endpoint, row.error) for row in refusals.order_by("created_at")] == [
        ("/v1/chat/completions", f"429: {SPENT}"), ("/v1/embeddings", f"429: {SPENT}")]


def test_spent_alice_gets_ollamas_429_but_may_still_show_a_model(hub_url, spent_alice,
                                                                 demo_model):
    client = ollama_client(hub_url, spent_alice)
    with pytest.raises(ollama.ResponseError) as refused:
        client.chat(model=demo_model.name, messages=HELLO, options={"num_predict": 3})
    assert refused.value.status_code == 429 and refused.value.error == SPENT
    with pytest.raises(ollama.ResponseError) as refused_generate:
        client.generate(model=demo_model.name, prompt="Say hi.", options={"num_predict": 3})
    assert refused_generate.value.status_code == 429
    assert client.show(demo_model.name).details.format == "gguf"
    assert not Message.objects.filter(conversation__origin="api").exists()


def test_under_the_quota_both_apis_answer(hub_url, alice, demo_model):
    TokenQuota.objects.create(user=alice, tokens_per_day=1_000_000)
    spend(alice, 999_000)
    completion = openai_client(hub_url, alice).chat.completions.create(
        model=demo_model.name, messages=HELLO, max_tokens=3)
    assert completion.choices[0].message.content
    reply = ollama_client(hub_url, alice).chat(model=demo_model.name, messages=HELLO,
                                               options={"num_predict": 3})
    assert reply.message.content


def test_bobs_key_is_unaffected_by_alices_spent_quota(hub_url, spent_alice, bob, demo_model):
    completion = openai_client(hub_url, bob).chat.completions.create(
        model=demo_model.name, messages=HELLO, max_tokens=3)
    assert completion.choices[0].message.content
    reply = ollama_client(hub_url, bob).chat(model=demo_model.name, messages=HELLO,
                                             options={"num_predict": 3})
    assert reply.message.content


def test_yesterdays_tokens_do_not_spend_todays_quota(hub_url, alice, demo_model):
    TokenQuota.objects.create(user=alice, tokens_per_day=10_000)
    spend(alice, 50_000, days_ago=1)
    response = httpx.post(f"{hub_url}/v1/chat/completions", timeout=120,
                          headers={"Authorization": f"Bearer {api_key_create(owner=alice)[1]}"},
                          json={"model": demo_model.name, "messages": HELLO, "max_tokens": 3})
    assert response.status_code == 200


# The usage page and the admin


def test_the_usage_page_shows_alices_quota_and_not_bobs(alice, bob):
    TokenQuota.objects.create(user=alice, tokens_per_day=10_000)
    spend(alice, 2_500)
    alice_client, bob_client = Client(), Client()
    alice_client.force_login(alice)
    bob_client.force_login(bob)
    page = alice_client.get("/usage/").content.decode()
    assert "2,500 of 10,000 tokens used today." in page
    assert 'max="10000" value="2500"' in page
    assert "tokens used today" not in bob_client.get("/usage/").content.decode()

    spend(alice, 8_000)
    page = alice_client.get("/usage/").content.decode()
    assert "10,500 of 10,000 tokens used today." in page
    assert 'max="10000" value="10000"' in page and "Your quota for today is spent" in page


def test_staff_set_a_quota_on_the_users_page_and_see_todays_use_in_the_list(alice, bob):
    carol = User.objects.create_user("carol", password="carol-password-1", is_staff=True,
                                     is_superuser=True)
    spend(alice, 1_234)
    admin = Client()
    admin.force_login(carol)
    user_page = admin.get(f"/admin/auth/user/{alice.pk}/change/")
    assert 'name="token_quota-0-tokens_per_day"' in user_page.content.decode()

    form = user_page.context["adminform"].form
    data = {name: value for name, value in form.initial.items()
            if name in form.fields and value is not None and name not in (
                "groups", "user_permissions", "password", "last_login", "date_joined")}
    data |= {"date_joined_0": "2025-01-01", "date_joined_1": "00:00:00",
             "token_quota-TOTAL_FORMS": "1", "token_quota-INITIAL_FORMS": "0",
             "token_quota-0-tokens_per_day": "5000", "token_quota-0-user": str(alice.pk)}
    saved = admin.post(f"/admin/auth/user/{alice.pk}/change/", data)
    assert saved.status_code == 302, saved.context["errors"] if saved.context else saved
    assert TokenQuota.objects.get(user=alice).tokens_per_day == 5_000

    listing = admin.get("/admin/api/tokenquota/").content.decode()
    assert "alice" in listing and "1,234" in listing

    bob_client = Client()
    bob_client.force_login(bob)
    refused = bob_client.get("/admin/api/tokenquota/")
    assert refused.status_code == 302 and "/admin/login/" in refused.url
