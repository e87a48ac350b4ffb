"""Read-only sharing by link: alice shares a conversation, any logged-in teammate with the
link reads it, and once she stops sharing the link is gone for everyone, her included.
Only alice makes or revokes her links: bob gets a 404 for them."""
import re

import pytest
from django.test import Client
from django.urls import reverse
from websockets.exceptions import ConnectionClosed

from chat.models import Conversation, Message, ShareLink
from chat.payloads import CLOSE_NOT_FOUND
from tests.chat_client import chat_connect

pytestmark = pytest.mark.django_db

REPLY = "Feed it **once a day** at room temperature."


@pytest.fixture
def conversation(alice, demo_model) -> Conversation:
    """Made without chat.services.message_post, which would queue a real generation."""
    conversation = Conversation.objects.create(owner=alice, model=demo_model,
                                               title="Sourdough starter")
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                      content="How often should I feed it?")
    Message.objects.create(conversation=conversation, parent=question,
                           role=Message.Role.ASSISTANT, content=REPLY,
                           prompt_tokens=12, completion_tokens=9)
    return conversation


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def share(client: Client, conversation: Conversation):
    return client.post(reverse("chat:share_create", args=[conversation.pk]))


def revoke(client: Client, conversation: Conversation):
    return client.post(reverse("chat:share_revoke", args=[conversation.pk]))


def shared_url(link: ShareLink) -> str:
    return reverse("chat:shared", args=[link.token])


def test_sharing_makes_a_link_and_sharing_again_shows_the_same_one(alice, conversation):
    alice_client = logged_in(alice)
    response = share(alice_client, conversation)
    assert response.status_code == 302
    assert response.url == reverse("chat:conversation", args=[conversation.pk]) + "#sharing"
    link = ShareLink.objects.get()
    assert link.conversation == conversation and link.is_active
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", link.token)

    assert share(alice_client, conversation).status_code == 302
    assert list(ShareLink.objects.values_list("token", flat=True)) == [link.token]


def test_the_owner_sees_the_link_with_copy_and_stop_sharing(alice, conversation):
    alice_client = logged_in(alice)
    page_url = reverse("chat:conversation", args=[conversation.pk])
    before = alice_client.get(page_url).content.decode()
    assert reverse("chat:share_create", args=[conversation.pk]) in before
    assert "Stop sharing" not in before

    share(alice_client, conversation)
    after = alice_client.get(page_url).content.decode()
    link = ShareLink.objects.get()
    assert f'value="http://testserver{shared_url(link)}"' in after
    assert "Copy link" in after and "Stop sharing" in after
    assert reverse("chat:share_revoke", args=[conversation.pk]) in after


def test_bob_reads_the_shared_conversation_but_gets_nothing_to_write_with(
        alice, bob, conversation):
    share(logged_in(alice), conversation)
    response = logged_in(bob).get(shared_url(ShareLink.objects.get()))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Sourdough starter" in page and conversation.model.name in page
    assert "How often should I feed it?" in page and REPLY in page
    assert "Shared by alice" in page
    assert "<textarea" not in page and 'id="composer"' not in page
    assert "<form" not in page.split("<main", 1)[1]  # nothing to post from the page itself
    assert "no-cache" in response["Cache-Control"]


def test_the_shared_page_shows_the_branch_on_show_only(alice, bob, conversation):
    question = conversation.messages.get(role=Message.Role.USER)
    other = Message.objects.create(conversation=conversation, parent=question,
                                   role=Message.Role.ASSISTANT, content="Twice a day.")
    Conversation.objects.filter(pk=conversation.pk).update(current=other)
    share(logged_in(alice), conversation)
    page = logged_in(bob).get(shared_url(ShareLink.objects.get())).content.decode()
    assert "Twice a day." in page and REPLY not in page


def test_the_shared_page_cannot_be_posted_to(alice, bob, conversation):
    share(logged_in(alice), conversation)
    response = logged_in(bob).post(shared_url(ShareLink.objects.get()), {"text": "hi"})
    assert response.status_code == 405
    assert conversation.messages.count() == 2


def test_an_anonymous_visitor_is_sent_to_log_in(alice, conversation, client):
    share(logged_in(alice), conversation)
    url = shared_url(ShareLink.objects.get())
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={url}"
    for response in (share(client, conversation), revoke(client, conversation)):
        assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_a_revoked_link_is_404_for_bob_and_for_alice_too(alice, bob, conversation):
    alice_client = logged_in(alice)
    share(alice_client, conversation)
    link = ShareLink.objects.get()
    assert alice_client.get(shared_url(link)).status_code == 200

    response = revoke(alice_client, conversation)
    assert response.status_code == 302 and response.url.endswith("#sharing")
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert logged_in(bob).get(shared_url(link)).status_code == 404
    assert alice_client.get(shared_url(link)).status_code == 404
    assert "Stop sharing" not in alice_client.get(
        reverse("chat:conversation", args=[conversation.pk])).content.decode()


def test_sharing_after_a_revocation_makes_a_new_token(alice, bob, conversation):
    alice_client = logged_in(alice)
    share(alice_client, conversation)
    revoke(alice_client, conversation)
    share(alice_client, conversation)
    old, new = ShareLink.objects.order_by("created_at", "id")
    assert old.token != new.token and not old.is_active and new.is_active
    bob_client = logged_in(bob)
    assert bob_client.get(shared_url(old)).status_code == 404
    assert bob_client.get(shared_url(new)).status_code == 200


def test_an_unknown_token_is_404(alice, conversation):
    share(logged_in(alice), conversation)
    response = logged_in(alice).get(reverse("chat:shared", args=["not-a-real-token"]))
    assert response.status_code == 404


def test_bob_can_neither_share_nor_revoke_alices_conversation(alice, bob, conversation):
    bob_client = logged_in(bob)
    assert share(bob_client, conversation).status_code == 404
    assert not ShareLink.objects.exists()

    share(logged_in(alice), conversation)
    assert revoke(bob_client, conversation).status_code == 404
    assert ShareLink.objects.get().is_active


def test_share_and_revoke_take_only_post(alice, conversation):
    alice_client = logged_in(alice)
    assert alice_client.get(reverse("chat:share_create", args=[conversation.pk])).status_code \
        == 405
    assert alice_client.get(reverse("chat:share_revoke", args=[conversation.pk])).status_code \
        == 405
    assert not ShareLink.objects.exists()


def test_links_die_with_their_conversation(alice, bob, conversation):
    share(logged_in(alice), conversation)
    link = ShareLink.objects.get()
    response = logged_in(alice).post(reverse("chat:delete", args=[conversation.pk]),
                                     {"confirmed": "yes"})
    assert response.status_code == 302
    assert not ShareLink.objects.exists()
    assert logged_in(bob).get(shared_url(link)).status_code == 404


def test_bobs_websocket_to_a_shared_conversation_is_still_refused(hub_url, alice, bob,
                                                                  conversation):
    share(logged_in(alice), conversation)
    with chat_connect(hub_url, conversation.pk, bob) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_FOUND
    assert conversation.messages.count() == 2
