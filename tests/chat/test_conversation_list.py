"""The chat page's list: rename, delete, search and export a conversation. Each is alice's
alone: bob gets a 404 for hers, and nobody gets in without logging in."""
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat.models import Conversation, Message
from inference.streams import cancel_key, stream_key
from llmhub.redis import redis_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice, demo_model) -> Conversation:
    """Made without chat.services.message_post, which would queue a real generation."""
    conversation = Conversation.objects.create(owner=alice, model=demo_model,
                                               title="Sourdough starter")
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                      content="How often should I feed it?")
    Message.objects.create(
        conversation=conversation, parent=question, role=Message.Role.ASSISTANT,
        content="Once a day at room temperature.\n\n```text\nflour 50 g\nwater 50 g\n```",
        prompt_tokens=12, completion_tokens=40, ttft_ms=123.4, tokens_per_second=35.25,
    )
    return conversation


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


def url(name: str, conversation: Conversation) -> str:
    return reverse(f"chat:{name}", args=[conversation.pk])


def listed_titles(response) -> list[str]:
    return [str(c) for c in response.context["conversations"]]


# Rename


def test_alice_renames_her_conversation(alice_client, conversation):
    response = alice_client.post(url("rename", conversation), {"title": "  Bread  "})
    assert response.status_code == 302
    assert response.url == url("conversation", conversation)
    conversation.refresh_from_db()
    assert conversation.title == "Bread"


def test_an_empty_title_is_refused_with_a_message(alice_client, conversation):
    response = alice_client.post(url("rename", conversation), {"title": "   "})
    assert response.status_code == 400
    assert "The title is empty." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Sourdough starter"


def test_a_title_over_200_characters_is_refused(alice_client, conversation):
    response = alice_client.post(url("rename", conversation), {"title": "x" * 201})
    assert response.status_code == 400
    assert "longer than 200 characters" in response.content.decode()


def test_bob_cannot_rename_alices_conversation(bob_client, conversation):
    response = bob_client.post(url("rename", conversation), {"title": "Mine now"})
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.title == "Sourdough starter"


# Delete


def test_deleting_asks_to_confirm_first(alice_client, conversation):
    response = alice_client.post(url("delete", conversation))
    assert response.status_code == 200
    assert "Its 2 messages will be deleted with it" in response.content.decode()
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_alice_deletes_her_conversation_and_its_messages(alice_client, conversation):
    response = alice_client.post(url("delete", conversation), {"confirmed": "yes"})
    assert response.status_code == 302
    assert response.url == reverse("chat:index")
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert not Message.objects.filter(conversation_id=conversation.pk).exists()


def test_bob_cannot_delete_alices_conversation(bob_client, conversation):
    response = bob_client.post(url("delete", conversation), {"confirmed": "yes"})
    assert response.status_code == 404
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_deleting_is_not_done_by_a_get(alice_client, conversation):
    assert alice_client.get(url("delete", conversation)).status_code == 405
    assert Conversation.objects.filter(pk=conversation.pk).exists()


def test_deleting_stops_a_reply_still_being_written(alice_client, conversation):
    reply = Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT,
                                   status=Message.Status.STREAMING, worker="w1@box")
    alice_client.post(url("delete", conversation), {"confirmed": "yes"})

    redis = redis_client()
    assert redis.exists(cancel_key(reply.pk))
    # A page still following the reply is told it ended, instead of waiting on it.
    last = json.loads(redis.xrevrange(stream_key(reply.pk), count=1)[0][1]["frame"])
    assert last["type"] == "final"
    assert last["status"] == "cancelled"


# Search


def search(client, query: str):
    return client.get(reverse("chat:index"), {"q": query})


def test_search_finds_a_conversation_by_its_title(alice_client, conversation, demo_model):
    Conversation.objects.create(owner=conversation.owner, model=demo_model, title="Tax return")
    assert listed_titles(search(alice_client, "SOURDOUGH")) == ["Sourdough starter"]


def test_search_finds_a_conversation_by_its_messages_once(alice_client, conversation):
    # Both messages hold "a", and the title too: it is listed once.
    assert listed_titles(search(alice_client, "room TEMPERATURE")) == ["Sourdough starter"]
    assert listed_titles(search(alice_client, "a")) == ["Sourdough starter"]


def test_search_says_when_nothing_matches(alice_client, conversation):
    response = search(alice_client, "croissant")
    assert listed_titles(response) == []
    assert "No conversation matches." in response.content.decode()


def test_search_does_not_find_bobs_conversations(alice_client, conversation, bob, demo_model):
    bobs = Conversation.objects.create(owner=bob, model=demo_model, title="Bob's sourdough")
    Message.objects.create(conversation=bobs, role=Message.Role.USER, content="sourdough")
    assert listed_titles(search(alice_client, "sourdough")) == ["Sourdough starter"]


def test_search_does_not_find_api_requests(alice_client, conversation, alice, demo_model):
    request = Conversation.objects.create(owner=alice, model=demo_model, title="sourdough",
                                          origin=Conversation.Origin.API)
    Message.objects.create(conversation=request, role=Message.Role.ASSISTANT,
                           content="sourdough")
    assert listed_titles(search(alice_client, "sourdough")) == ["Sourdough starter"]


def test_search_costs_no_more_queries_than_the_plain_list(alice_client, conversation):
    with CaptureQueriesContext(connection) as plain:
        alice_client.get(reverse("chat:index"))
    with CaptureQueriesContext(connection) as searched:
        search(alice_client, "feed")
    assert len(searched) == len(plain)


def test_search_lists_the_latest_100_matches(alice_client, alice, demo_model):
    Conversation.objects.bulk_create(
        Conversation(owner=alice, model=demo_model, title=f"Bread {n}") for n in range(105))
    assert len(listed_titles(search(alice_client, "bread"))) == 100


def test_the_list_keeps_the_search_on_a_conversation_page(alice_client, conversation):
    response = alice_client.get(url("conversation", conversation), {"q": "feed"})
    assert listed_titles(response) == ["Sourdough starter"]
    assert f'href="{url("conversation", conversation)}?q=feed"' in response.content.decode()


# Export


def test_alice_exports_her_conversation_as_markdown(alice_client, conversation):
    response = alice_client.get(url("export_markdown", conversation))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="sourdough-starter.md"'
    text = response.content.decode()
    assert text.startswith("# Sourdough starter\n\nModel: " + conversation.model.name)
    assert "**You**\n\nHow often should I feed it?" in text
    assert (f"**{conversation.model.name}**\n\nOnce a day at room temperature.\n\n"
            "```text\nflour 50 g\nwater 50 g\n```") in text
    assert "*12 prompt tokens · 40 tokens · first token 123 ms · 35.2 tokens/s*" in text


def test_the_markdown_marks_failed_and_stopped_replies(alice_client, conversation):
    failed = Message.objects.create(
        conversation=conversation, parent=conversation.messages.last(),
        role=Message.Role.ASSISTANT, status=Message.Status.FAILED,
        error="no worker is serving it")
    Message.objects.create(conversation=conversation, parent=failed, role=Message.Role.ASSISTANT,
                           status=Message.Status.CANCELLED, content="```python\nprint(",
                           prompt_tokens=5, completion_tokens=3)
    text = alice_client.get(url("export_markdown", conversation)).content.decode()
    assert "*failed: no worker is serving it*" in text
    # The code block cut off by the stop is closed, or the rest would read as code.
    assert "```python\nprint(\n```\n\n*5 prompt tokens · 3 tokens · stopped before the end*" in text


def test_alice_exports_her_conversation_as_json(alice_client, conversation):
    response = alice_client.get(url("export_json", conversation))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == 'attachment; filename="sourdough-starter.json"'
    data = response.json()
    assert {k: data[k] for k in ("id", "title", "model")} == {
        "id": conversation.pk, "title": "Sourdough starter", "model": conversation.model.name}
    assert data["created_at"] == conversation.created_at.isoformat()
    question, answer = data["messages"]
    assert question["role"] == "user"
    assert question["content"] == "How often should I feed it?"
    assert answer == {
        "role": "assistant", "content": conversation.messages.last().content, "status": "done",
        "created_at": answer["created_at"], "prompt_tokens": 12, "completion_tokens": 40,
        "ttft_ms": 123.4, "tokens_per_second": 35.25, "error": "",
    }


def test_an_untitled_conversation_exports_under_its_number(alice_client, conversation):
    Conversation.objects.filter(pk=conversation.pk).update(title="")
    response = alice_client.get(url("export_json", conversation))
    expected = f'attachment; filename="conversation-{conversation.pk}.json"'
    assert response["Content-Disposition"] == expected


@pytest.mark.parametrize("name", ["export_markdown", "export_json"])
def test_bob_cannot_export_alices_conversation(bob_client, conversation, name):
    assert bob_client.get(url(name, conversation)).status_code == 404


# Logging in


@pytest.mark.parametrize("name,method", [
    ("rename", "post"), ("delete", "post"), ("export_markdown", "get"), ("export_json", "get"),
])
def test_nobody_gets_in_without_logging_in(client, conversation, name, method):
    response = getattr(client, method)(url(name, conversation))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert Conversation.objects.filter(pk=conversation.pk, title="Sourdough starter").exists()
