"""The token-probability view in a real browser: a finished reply shown token by token, a
token's top candidates in a panel, Esc to close it; a phone-sized dark page too.

Real daphne, a real Celery worker, real Redis and the real demo model behind the page.
"""
import re

import pytest
from playwright.sync_api import expect

from chat.models import Conversation, Message
from chat.services import conversation_create
from tests.browser.test_chat_page import (
    LAST_REPLY,
    log_in,
    new_conversation,
    send_message,
    socket_open,
    wait_for_status,
)

pytestmark = pytest.mark.browser

QUESTION = "Name three kinds of bread and say where each comes from."
PERCENT = re.compile(r"^(under )?\d+(\.\d)?\s?%$")


def shown_tokens(reply) -> str:
    """The view's text, as the model wrote it (a newline shows as ↵ in its token)."""
    return "".join(reply.locator("button.token").all_text_contents()).replace("↵", "\n")


def candidates(panel) -> list[tuple[str, str]]:
    rows = panel.locator(".candidate")
    return [(row.locator(".candidate-token").text_content(),
             row.locator(".candidate-probability").text_content()) for row in rows.all()]


def test_a_token_shows_its_top_candidates_and_esc_closes_them(
    page, alice, demo_model, artifacts
):
    demo_model.max_tokens = 60
    demo_model.save()
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    send_message(page, QUESTION)
    reply = wait_for_status(page, "done")
    stored = conversation.messages.get(role=Message.Role.ASSISTANT)

    toggle = reply.get_by_role("button", name="Probabilities")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    expect(reply.locator(".markdown")).to_be_hidden()
    expect(reply.locator("button.token")).to_have_count(len(stored.tokens))
    assert shown_tokens(reply) == stored.content

    token = reply.locator("button.token").nth(1)
    token.click()
    panel = reply.get_by_role("dialog")
    expect(panel).to_be_visible()
    expect(panel).to_be_focused()
    listed = candidates(panel)
    assert len(listed) == 5
    assert all(PERCENT.match(value) for _, value in listed), listed
    chosen = panel.locator(".candidate.chosen")
    expect(chosen).to_have_count(1)
    # Greedy: the chosen token is the best candidate, listed first.
    assert chosen.locator(".candidate-token").text_content() == listed[0][0] == stored.tokens[1][0]
    page.screenshot(path=artifacts / "chat-probabilities.png", full_page=True)

    page.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    expect(token).to_be_focused()
    expect(token).to_have_attribute("aria-expanded", "false")
    assert stored.__class__.objects.get(pk=stored.pk).status == Message.Status.DONE

    # From the keyboard: Enter on the next token opens its panel; the close button ends it.
    page.keyboard.press("Tab")
    following = reply.locator("button.token").nth(2)
    expect(following).to_be_focused()
    page.keyboard.press("Enter")
    expect(reply.get_by_role("dialog")).to_be_visible()
    reply.get_by_role("button", name="Close").click()
    expect(reply.get_by_role("dialog")).to_have_count(0)
    expect(following).to_be_focused()

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(reply.locator(".tokens")).to_be_hidden()
    expect(reply.locator(".markdown")).to_be_visible()


def test_on_a_phone_in_dark_mode_the_panel_stays_on_screen(page, alice, demo_model, artifacts):
    demo_model.max_tokens = 60
    demo_model.save()
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    log_in(page, "alice", "alice-password-1")
    new_conversation(page, demo_model)
    send_message(page, QUESTION)
    reply = wait_for_status(page, "done")

    reply.get_by_role("button", name="Probabilities").click()
    tokens = reply.locator("button.token")
    expect(tokens.first).to_be_visible()
    # The last token of the first line ends far right: its panel must not leave the page.
    tokens.nth(min(8, tokens.count() - 1)).click()
    panel = reply.get_by_role("dialog")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.screenshot(path=artifacts / "chat-probabilities-phone-dark.png", full_page=True)


@pytest.fixture
def reply_without_tokens(alice, demo_model) -> Message:
    """A finished reply from before the view existed: no tokens stored (no worker needed)."""
    conversation = conversation_create(owner=alice, model=demo_model, title="Old chat")
    question = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                      content="Hi")
    return Message.objects.create(conversation=conversation, parent=question,
                                  role=Message.Role.ASSISTANT, content="Hello **there**.")


def test_a_reply_without_tokens_says_so(page, reply_without_tokens):
    log_in(page, "alice", "alice-password-1")
    page.goto(f"/chat/c/{reply_without_tokens.conversation_id}/")
    socket_open(page)
    reply = page.locator(LAST_REPLY)

    reply.get_by_role("button", name="Probabilities").click()

    expect(reply.locator(".tokens")).to_have_text("No token probabilities for this reply.")
    expect(reply.locator(".markdown")).to_be_hidden()


def test_bob_cannot_read_alices_tokens(page, bob, reply_without_tokens):
    reply_without_tokens.tokens = [["Hello", -0.1, [["Hello", -0.1]]]]
    reply_without_tokens.save()
    conversation: Conversation = reply_without_tokens.conversation
    log_in(page, "bob", "bob-password-1")

    response = page.request.get(
        f"/chat/c/{conversation.pk}/m/{reply_without_tokens.pk}/tokens.json")

    assert response.status == 404
    assert "Hello" not in response.text()
