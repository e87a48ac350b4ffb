"""A model with groups is only for their members (and staff): the chat's picker, a forged
form, the service and the websocket all refuse it to anyone else."""
import pytest
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError

from chat.forms import ConversationForm
from chat.models import Conversation, Message
from chat.services import conversation_create, message_post
from models_registry.models import Model
from models_registry.selectors import model_list_for_user
from tests.chat_client import chat_connect, receive, send

pytestmark = pytest.mark.django_db(transaction=True)


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
def open_model(db) -> Model:
    return Model.objects.create(name="open:1b", source="/nowhere/open.gguf")


@pytest.fixture
def carol(db) -> User:
    return User.objects.create_user("carol", password="carol-password-1", is_staff=True)


def test_a_model_without_groups_is_for_everyone(bob, open_model):
    assert list(model_list_for_user(bob)) == [open_model]


def test_a_model_with_groups_is_for_their_members_and_staff(alice, bob, carol, team_model,
                                                            open_model):
    assert set(model_list_for_user(alice)) == {team_model, open_model}
    assert set(model_list_for_user(carol)) == {team_model, open_model}
    assert list(model_list_for_user(bob)) == [open_model]


def test_a_model_in_two_of_the_users_groups_is_listed_once(alice, team_model):
    other = Group.objects.create(name="other")
    alice.groups.add(other)
    team_model.groups.add(other)
    assert list(model_list_for_user(alice)) == [team_model]


def test_the_picker_offers_bob_only_the_models_open_to_him(alice, bob, team_model, open_model):
    assert list(ConversationForm(user=bob).fields["model"].queryset) == [open_model]
    assert team_model in ConversationForm(user=alice).fields["model"].queryset


def test_the_chat_page_does_not_offer_bob_the_teams_model(client, bob, team_model, open_model):
    client.force_login(bob)
    page = client.get("/chat/").content.decode()
    assert open_model.name in page and team_model.name not in page


def test_bobs_forged_form_for_the_teams_model_is_refused_and_creates_nothing(
        client, bob, team_model):
    client.force_login(bob)
    response = client.post("/chat/new/", {"model": team_model.pk})
    assert response.status_code == 400
    assert not Conversation.objects.exists()


def test_alice_starts_a_conversation_with_the_teams_model_from_the_page(client, alice,
                                                                        team_model):
    client.force_login(alice)
    response = client.post("/chat/new/", {"model": team_model.pk})
    conversation = Conversation.objects.get()
    assert response.status_code == 302 and response.url == f"/chat/c/{conversation.pk}/"
    assert (conversation.owner, conversation.model) == (alice, team_model)


def test_the_service_refuses_bob_the_teams_model(alice, bob, carol, team_model):
    with pytest.raises(ValidationError, match=f"you may not use {team_model.name}"):
        conversation_create(owner=bob, model=team_model)
    assert not Conversation.objects.filter(owner=bob).exists()
    assert conversation_create(owner=alice, model=team_model).model == team_model
    assert conversation_create(owner=carol, model=team_model).model == team_model


def test_a_disabled_model_outside_bobs_groups_reads_as_refused_not_disabled(bob, team_model):
    team_model.enabled = False
    team_model.save()
    with pytest.raises(ValidationError, match="you may not use"):
        conversation_create(owner=bob, model=team_model)


def test_after_leaving_the_team_alice_can_no_longer_post_to_her_conversation(alice, team,
                                                                              team_model):
    conversation = conversation_create(owner=alice, model=team_model)
    alice.groups.remove(team)
    with pytest.raises(ValidationError, match="you may not use"):
        message_post(conversation=conversation, text="Hello")
    assert not Message.objects.exists()


def test_the_websocket_refuses_a_message_to_a_model_alice_lost_access_to(hub_url, alice, team,
                                                                         team_model):
    conversation = conversation_create(owner=alice, model=team_model)
    alice.groups.remove(team)
    with chat_connect(hub_url, conversation.pk, alice) as ws:
        send(ws, {"type": "send", "text": "Hello"})
        event = receive(ws, timeout=10)
    assert event == {"type": "error", "error": f"you may not use {team_model.name}"}
    assert not conversation.messages.exists()
