"""Issue 6's token-probability view, server side: a chat reply keeps its tokens with the top
5 candidates at each step (real worker, real demo model in llama.cpp), and tokens.json
hands them to the reply's owner alone."""
import math

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, Message
from chat.services import conversation_create
from llmhub.api.keys import api_key_create
from tests.chat_client import chat_connect, post_message, read_until_final, receive, send

STORY = "Tell me a long story about a dragon who learns to bake bread."
EMOJI = "Répète exactement: « Café, crème brûlée, déjà vu 🍰🐉😀 » et ajoute des emoji."
TOP = 5


@pytest.fixture
def conversation(alice, demo_model) -> Conversation:
    return conversation_create(owner=alice, model=demo_model)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def tokens_url(reply: Message | dict, conversation: Conversation) -> str:
    reply_id = reply["id"] if isinstance(reply, dict) else reply.pk
    return reverse("chat:message_tokens", args=[conversation.pk, reply_id])


def assert_well_formed(tokens: list, content: str) -> None:
    assert "".join(text for text, _, _ in tokens) == content
    for text, logprob, candidates in tokens:
        assert 1 <= len(candidates) <= TOP
        assert logprob <= 0
        assert all(candidate_logprob <= 0 for _, candidate_logprob in candidates)
        candidate_logprobs = [candidate_logprob for _, candidate_logprob in candidates]
        assert candidate_logprobs == sorted(candidate_logprobs, reverse=True)
        assert sum(math.exp(lp) for lp in candidate_logprobs) <= 1 + 1e-4
        # No candidate the model found likelier than the chosen token is left out.
        assert logprob <= candidates[0][1] + 1e-9
        listed = dict(candidates)
        if text in listed:
            assert listed[text] == pytest.approx(logprob, abs=1e-5)


def test_a_chat_reply_keeps_its_tokens_before_its_final_frame_goes_out(
    hub_url, alice, conversation
):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, STORY)
        deltas, final = read_until_final(ws)
        # Read at once: a page that has the final frame may fetch the tokens right away.
        stored = Message.objects.get(pk=reply["id"])

    assert final["status"] == "done"
    tokens = stored.tokens
    assert len(tokens) == stored.completion_tokens > 20
    assert_well_formed(tokens, stored.content)
    assert all(len(candidates) == TOP for _, _, candidates in tokens)
    # Greedy (the demo model's temperature is 0): each chosen token is the best candidate.
    assert all(text == candidates[0][0] for text, _, candidates in tokens)
    # The page reads the tokens once the reply ends: its frames carry only the text.
    assert not any("logprobs" in delta for delta in deltas)


def test_a_character_split_over_two_tokens_shows_whole_in_the_log(hub_url, alice,
                                                                  conversation):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, EMOJI)
        read_until_final(ws)
    stored = Message.objects.get(pk=reply["id"])

    assert "\ufffd" not in stored.content
    assert_well_formed(stored.tokens, stored.content)
    # The first token of a split character added nothing to the reply: its text is "".
    assert any(text == "" for text, _, _ in stored.tokens)
    assert any(len(text.encode()) > 1 and len(text) == 1 for text, _, _ in stored.tokens)


def test_a_stopped_reply_keeps_the_tokens_it_generated(hub_url, alice, conversation, demo_model):
    demo_model.max_tokens = 2000
    demo_model.save()
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, STORY)
        for _ in range(3):
            while receive(ws)["type"] != "delta":
                pass
        send(ws, {"type": "stop", "reply_id": reply["id"]})
        _, final = read_until_final(ws)
        stored = Message.objects.get(pk=reply["id"])

    assert final["status"] == stored.status == Message.Status.CANCELLED
    assert 0 < len(stored.tokens) == stored.completion_tokens < 2000
    assert_well_formed(stored.tokens, stored.content)


def test_alice_reads_her_replys_tokens(hub_url, alice, conversation):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, "Say hello.")
        read_until_final(ws)

    response = logged_in(alice).get(tokens_url(reply, conversation))

    assert response.status_code == 200
    assert response.json() == {"tokens": Message.objects.get(pk=reply["id"]).tokens}
    assert response.json()["tokens"]


@pytest.fixture
def stored_reply(conversation) -> Message:
    """Made without the worker: tokens.json only reads what is stored."""
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                      content="Hi")
    return Message.objects.create(
        conversation=conversation, parent=question, role=Message.Role.ASSISTANT,
        content="Hello", tokens=[["Hello", -0.1, [["Hello", -0.1], ["Hi", -2.5]]]])


def test_bob_gets_not_found_for_alices_reply(bob, conversation, stored_reply):
    response = logged_in(bob).get(tokens_url(stored_reply, conversation))
    assert response.status_code == 404
    assert b"Hello" not in response.content


def test_an_anonymous_visitor_is_sent_to_log_in(conversation, stored_reply):
    response = Client().get(tokens_url(stored_reply, conversation))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_an_unknown_reply_is_not_found(alice, conversation, stored_reply):
    client = logged_in(alice)
    assert client.get(tokens_url(stored_reply, conversation)).status_code == 200
    unknown = reverse("chat:message_tokens", args=[conversation.pk, stored_reply.pk + 1000])
    assert client.get(unknown).status_code == 404


def test_a_user_message_or_a_reply_without_tokens_is_not_found(alice, conversation,
                                                               stored_reply):
    client = logged_in(alice)
    assert client.get(tokens_url(stored_reply.parent, conversation)).status_code == 404
    stored_reply.tokens = None
    stored_reply.save()
    assert client.get(tokens_url(stored_reply, conversation)).status_code == 404


def test_an_api_reply_keeps_no_tokens(hub_url, alice, demo_model):
    _, key = api_key_create(owner=alice, name="tests")
    response = httpx.post(
        f"{hub_url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
        json={"model": demo_model.name, "messages": [{"role": "user", "content": "Say hello."}],
              "max_tokens": 8, "temperature": 0},
        timeout=120)

    assert response.status_code == 200
    assert response.json()["choices"][0]["logprobs"] is None
    stored = Message.objects.get(conversation__origin=Conversation.Origin.API)
    assert stored.content and stored.tokens is None
