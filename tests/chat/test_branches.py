"""Regenerate and edit-and-resend add versions beside a turn; the page shows one branch.

The tree is checked through the services, on a copy of the demo model that no worker
serves: their generations stay queued, and the test stands in for the worker. The
websocket tests run the real worker and model.
"""
import pytest
from django.core.exceptions import ValidationError

from chat import selectors, services
from chat.models import Message
from chat.prompting import generation_request
from models_registry.models import Model
from tests.chat_client import chat_connect, post_message, read_until_final, receive, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unserved_model(demo_model):
    """The demo model under another name: its queue has no consumer."""
    model = Model.objects.get(pk=demo_model.pk)
    model.pk, model.name = None, "smollm2:unserved"
    model.save()
    return model


@pytest.fixture
def conversation(alice, unserved_model):
    return services.conversation_create(owner=alice, model=unserved_model)


@pytest.fixture
def served_conversation(alice, demo_model):
    return services.conversation_create(owner=alice, model=demo_model)


def finished(reply: Message, text: str) -> Message:
    """Stand in for the worker: the reply ends with ``text``."""
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.DONE, content=text)
    reply.refresh_from_db()
    return reply


def exchange(conversation, question: str, answer: str) -> tuple[Message, Message]:
    asked, reply = services.message_post(conversation=conversation, text=question)
    return asked, finished(reply, answer)


def shown(conversation) -> list[str]:
    conversation.refresh_from_db()
    return [m.content for m in selectors.message_list(conversation=conversation)]


def test_each_message_follows_the_one_before_it(conversation):
    first_question, first_answer = exchange(conversation, "Hi", "Hello!")
    second_question, second_answer = exchange(conversation, "How are you?", "Fine.")
    assert first_question.parent is None
    assert first_answer.parent == first_question
    assert second_question.parent == first_answer
    assert second_answer.parent == second_question
    assert shown(conversation) == ["Hi", "Hello!", "How are you?", "Fine."]


def test_regenerate_adds_a_version_beside_the_reply_and_shows_it(conversation):
    question, answer = exchange(conversation, "Name a colour", "Blue.")
    again = services.reply_regenerate(conversation=conversation, reply=answer)

    assert again.parent == question and again.status == Message.Status.QUEUED
    branch = selectors.message_list(conversation=conversation)
    assert [m.pk for m in branch] == [question.pk, again.pk]
    assert branch[1].versions == [answer.pk, again.pk]
    # The new version answers the question alone, not the old answer too.
    assert generation_request(again).messages == [{"role": "user", "content": "Name a colour"}]


def test_edit_and_resend_keeps_the_old_branch_one_switch_away(conversation):
    question, _ = exchange(conversation, "Capital of France?", "Paris.")
    exchange(conversation, "And of Spain?", "Madrid.")

    edited, reply = services.message_edit(conversation=conversation, message=question,
                                          text="Capital of Italy?")
    finished(reply, "Rome.")
    assert edited.parent is None and reply.parent == edited
    assert shown(conversation) == ["Capital of Italy?", "Rome."]
    assert selectors.message_list(conversation=conversation)[0].versions == [question.pk,
                                                                            edited.pk]

    # Back to the first version: its whole branch, down to its newest reply.
    services.branch_switch(conversation=conversation, message=question)
    assert shown(conversation) == ["Capital of France?", "Paris.", "And of Spain?", "Madrid."]
    services.branch_switch(conversation=conversation, message=edited)
    assert shown(conversation) == ["Capital of Italy?", "Rome."]


def test_a_switch_lands_on_the_newest_version_below(conversation):
    question, answer = exchange(conversation, "Pick a number", "Seven.")
    again = finished(services.reply_regenerate(conversation=conversation, reply=answer), "Three.")
    follow_up, _ = exchange(conversation, "Why?", "Because.")
    assert follow_up.parent == again

    services.branch_switch(conversation=conversation, message=answer)
    assert shown(conversation) == ["Pick a number", "Seven."]
    services.branch_switch(conversation=conversation, message=question)
    assert shown(conversation) == ["Pick a number", "Three.", "Why?", "Because."]


def test_a_next_message_continues_the_branch_on_show(conversation):
    question, answer = exchange(conversation, "Pick a fruit", "Apple.")
    finished(services.reply_regenerate(conversation=conversation, reply=answer), "Pear.")
    services.branch_switch(conversation=conversation, message=answer)

    asked, reply = services.message_post(conversation=conversation, text="Why that one?")
    assert asked.parent == answer
    assert [m["content"] for m in generation_request(reply).messages] == [
        "Pick a fruit", "Apple.", "Why that one?"]


def test_a_new_version_waits_for_the_reply_being_written(conversation):
    question, answer = exchange(conversation, "Hi", "Hello!")
    services.message_post(conversation=conversation, text="Tell me more")  # still queued
    with pytest.raises(ValidationError, match="Wait for the reply to end"):
        services.reply_regenerate(conversation=conversation, reply=answer)
    with pytest.raises(ValidationError, match="Wait for the reply to end"):
        services.message_edit(conversation=conversation, message=question, text="Hey")
    assert conversation.messages.count() == 4


@pytest.mark.parametrize("text", ["", "   ", "a\x00b"])
def test_an_edit_with_bad_text_is_refused_and_adds_nothing(conversation, text):
    question, _ = exchange(conversation, "Hi", "Hello!")
    with pytest.raises(ValidationError):
        services.message_edit(conversation=conversation, message=question, text=text)
    assert conversation.messages.count() == 2


def test_only_a_users_message_is_edited_and_only_a_reply_regenerated(conversation):
    question, answer = exchange(conversation, "Hi", "Hello!")
    with pytest.raises(ValidationError, match="Only your own messages"):
        services.message_edit(conversation=conversation, message=answer, text="Hacked")
    with pytest.raises(ValidationError, match="Only a reply"):
        services.reply_regenerate(conversation=conversation, reply=question)


# --- through the websocket, with the real worker and model -------------------------------
def test_regenerate_then_switch_versions_over_the_websocket(hub_url, alice, served_conversation):
    with chat_connect(hub_url, served_conversation.pk, alice) as ws:
        _, first = post_message(ws, "Say one word.")
        read_until_final(ws)
        send(ws, {"type": "regenerate", "reply_id": first["id"]})
        branch = receive(ws)
        assert branch["type"] == "branch"
        second = branch["messages"][-1]
        assert second["versions"] == [first["id"], second["id"]]
        assert second["status"] in ("queued", "streaming")  # the worker may be quick to claim it
        _, final = read_until_final(ws)
        assert final["reply_id"] == second["id"] and final["status"] == "done"

        send(ws, {"type": "switch", "message_id": first["id"]})
        branch = receive(ws)
        assert [m["id"] for m in branch["messages"]][-1] == first["id"]
    served_conversation.refresh_from_db()
    assert served_conversation.current_id == first["id"]


def test_edit_over_the_websocket_answers_the_new_text(hub_url, alice, served_conversation):
    with chat_connect(hub_url, served_conversation.pk, alice) as ws:
        asked, _ = post_message(ws, "Say one word.")
        read_until_final(ws)
        send(ws, {"type": "edit", "message_id": asked["id"], "text": "Say two words."})
        branch = receive(ws)
        edited, reply = branch["messages"]
        assert edited["content"] == "Say two words."
        assert edited["versions"] == [asked["id"], edited["id"]]
        _, final = read_until_final(ws)
        assert final["reply_id"] == reply["id"] and final["status"] == "done"
    assert Message.objects.filter(conversation=served_conversation).count() == 4


def test_bob_cannot_regenerate_edit_or_switch_alices_messages(hub_url, alice, bob, conversation,
                                                             demo_model):
    question, answer = exchange(conversation, "Hi", "Hello!")
    bobs = services.conversation_create(owner=bob, model=demo_model)
    with chat_connect(hub_url, bobs.pk, bob) as ws:
        send(ws, {"type": "regenerate", "reply_id": answer.pk})
        send(ws, {"type": "edit", "message_id": question.pk, "text": "Hacked"})
        assert receive(ws, timeout=10) == {"type": "error", "error": "No such message."}
        send(ws, {"type": "switch", "message_id": answer.pk})
        assert receive(ws, timeout=10) == {"type": "error", "error": "No such message."}
    assert conversation.messages.count() == 2
    assert not bobs.messages.exists()


def test_the_delete_confirmation_counts_every_version(client, alice, conversation):
    _, answer = exchange(conversation, "Hi", "Hello!")
    finished(services.reply_regenerate(conversation=conversation, reply=answer), "Hey!")
    client.force_login(alice)
    page = client.post(f"/chat/c/{conversation.pk}/delete/").content.decode()
    assert "3 messages" in page  # two shown, and the version behind them
