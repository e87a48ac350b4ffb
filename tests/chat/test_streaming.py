"""The chat path end to end: websocket → Celery worker → llama.cpp → Redis Stream → websocket.

Real daphne, a real Celery worker, real Redis and the real demo model.
"""
import time

import pytest
from websockets.exceptions import ConnectionClosed

from chat.models import Conversation, Message
from chat.payloads import CLOSE_NOT_FOUND, CLOSE_NOT_LOGGED_IN
from chat.services import conversation_create
from tests.chat_client import chat_connect, post_message, read_until_final, receive, send

STORY = "Tell me a long story about a dragon who learns to bake bread."


@pytest.fixture
def conversation(alice, demo_model) -> Conversation:
    return conversation_create(owner=alice, model=demo_model)


def test_it_streams_a_reply_in_frames_that_add_up_to_the_stored_message(
    hub_url, alice, conversation
):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        user_message, reply = post_message(ws, STORY)
        deltas, final = read_until_final(ws)

    assert len(deltas) >= 20
    assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
    assert final["seq"] == len(deltas) + 1
    stored = Message.objects.get(pk=reply["id"])
    assert stored.status == Message.Status.DONE
    assert "".join(d["text"] for d in deltas) == stored.content == final["text"]
    assert stored.completion_tokens == final["completion_tokens"] > 20
    assert stored.prompt_tokens > 5
    assert stored.ttft_ms > 0 and stored.tokens_per_second > 0
    assert Message.objects.get(pk=user_message["id"]).content == STORY


def test_stop_ends_a_reply_within_one_second(hub_url, alice, conversation, demo_model):
    demo_model.max_tokens = 2000
    demo_model.save()
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, STORY)
        while receive(ws)["type"] != "delta":
            pass
        stopped_at = time.monotonic()
        send(ws, {"type": "stop", "reply_id": reply["id"]})
        _, final = read_until_final(ws)
        elapsed = time.monotonic() - stopped_at

    assert final["status"] == "cancelled"
    assert elapsed < 1.0
    stored = Message.objects.get(pk=reply["id"])
    assert stored.status == Message.Status.CANCELLED
    assert stored.content == final["text"] and stored.completion_tokens < 2000


def test_a_reconnect_after_the_last_seen_frame_gets_exactly_the_rest(
    hub_url, alice, conversation
):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, STORY)
        first = [event for event in (receive(ws) for _ in range(3))]
    assert [event["seq"] for event in first] == [1, 2, 3]

    with chat_connect(hub_url, conversation.pk, alice) as ws:
        send(ws, {"type": "resume", "reply_id": reply["id"], "after_seq": 3})
        rest, final = read_until_final(ws)

    assert [d["seq"] for d in rest] == list(range(4, 4 + len(rest)))
    assert "".join(e["text"] for e in first + rest) == final["text"]


def test_reading_a_finished_reply_again_replays_it_whole(hub_url, alice, conversation):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, "Say hello.")
        _, final = read_until_final(ws)
        send(ws, {"type": "resume", "reply_id": reply["id"], "after_seq": 0})
        replay, final_again = read_until_final(ws)
    assert "".join(d["text"] for d in replay) == final["text"] == final_again["text"]


def test_bob_cannot_open_alices_conversation(hub_url, bob, conversation):
    with chat_connect(hub_url, conversation.pk, bob) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_FOUND


def test_an_unknown_conversation_is_closed_with_not_found(hub_url, alice, demo_model):
    with chat_connect(hub_url, 999_999, alice) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_FOUND


def test_an_anonymous_visitor_is_closed_with_not_logged_in(hub_url, conversation):
    with chat_connect(hub_url, conversation.pk) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_LOGGED_IN


def test_bob_cannot_stop_or_read_alices_reply_from_his_own_conversation(
    hub_url, alice, bob, conversation, demo_model
):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, "Say hello.")
        read_until_final(ws)
    bobs = conversation_create(owner=bob, model=demo_model)
    with chat_connect(hub_url, bobs.pk, bob) as ws:
        send(ws, {"type": "resume", "reply_id": reply["id"], "after_seq": 0})
        send(ws, {"type": "stop", "reply_id": "x"})
        event = receive(ws, timeout=5)
    assert event == {"type": "error", "error": "reply_id must be an integer."}


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_message_is_refused_and_nothing_is_stored(hub_url, alice, conversation, text):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        send(ws, {"type": "send", "text": text})
        event = receive(ws, timeout=10)
    assert event == {"type": "error", "error": "Message is empty."}
    assert not conversation.messages.exists()


def test_a_malformed_request_gets_an_error_not_a_crash(hub_url, alice, conversation):
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        send(ws, {"type": "dance"})
        assert receive(ws, timeout=10) == {"type": "error", "error": "Unknown request."}
        ws.send("[1, 2")
        assert receive(ws, timeout=10) == {"type": "error", "error": "Request is not valid JSON."}
        send(ws, {"type": "send", "text": "Say hi."})
        assert receive(ws, timeout=10) == {"type": "conversation", "title": "Say hi."}


def test_a_prompt_longer_than_the_context_fails_with_its_size(hub_url, alice, conversation,
                                                              demo_model):
    demo_model.context_length = 256
    demo_model.save()
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, "word " * 400)
        _, final = read_until_final(ws)
    assert final["status"] == "failed"
    assert final["error"].startswith("prompt is ")
    assert final["error"].endswith(" tokens, model context is 256")
    stored = Message.objects.get(pk=reply["id"])
    assert (stored.status, stored.error) == (Message.Status.FAILED, final["error"])
    assert conversation.messages.filter(role="user").get().content.startswith("word word")


def test_a_model_no_worker_serves_fails_within_30_seconds(hub_url, alice):
    from models_registry.demo import demo_model_path
    from models_registry.services import model_register_local_file

    orphan = model_register_local_file(name="orphan:135m", path=demo_model_path())
    conversation = conversation_create(owner=alice, model=orphan)
    started = time.monotonic()
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        _, reply = post_message(ws, "Hello?")
        _, final = read_until_final(ws, timeout=40)
    assert time.monotonic() - started < 30
    assert final["status"] == "failed"
    assert final["error"] == "no worker is serving orphan:135m"
    assert Message.objects.get(pk=reply["id"]).status == Message.Status.FAILED
