"""Which queue a reply goes to: the next turn follows the worker holding its KV cache."""
import pytest

from chat.models import Message
from chat.services import conversation_create, generation_queue, message_post
from models_registry.worker import worker_forget, worker_heartbeat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(alice, demo_model):
    return conversation_create(owner=alice, model=demo_model)


def post(conversation, text: str) -> Message:
    return message_post(conversation=conversation, text=text)[1]


def test_a_first_turn_goes_to_any_worker_of_the_model(conversation, demo_model):
    reply = post(conversation, "Hello")
    assert generation_queue(reply=reply, model=demo_model) == f"model.{demo_model.name}"


def test_the_next_turn_goes_to_the_worker_of_the_previous_reply_while_it_lives(
    conversation, demo_model
):
    first = post(conversation, "Hello")
    Message.objects.filter(pk=first.pk).update(worker="w1@box", status="done")
    worker_heartbeat(worker_name="w1@box", model_names=[demo_model.name])
    second = post(conversation, "And then?")
    assert generation_queue(reply=second, model=demo_model) == f"model.{demo_model.name}@w1@box"

    worker_forget(worker_name="w1@box", model_names=[demo_model.name])
    assert generation_queue(reply=second, model=demo_model) == f"model.{demo_model.name}"
