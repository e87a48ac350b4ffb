"""Regenerate, edit-and-resend and switching between versions, in a real browser, with
the real worker and model; and the conversation's settings panel."""
import re

import pytest
from playwright.sync_api import expect

from chat.models import Message
from tests.browser.test_chat_page import (
    LAST_REPLY,
    REPLY_TIMEOUT_MS,
    log_in,
    new_conversation,
    send_message,
    wait_for_status,
)

pytestmark = pytest.mark.browser

USER_MESSAGE = ".message.user"


@pytest.fixture
def short_replies(demo_model):
    demo_model.max_tokens = 40
    demo_model.temperature = 0.8  # a regenerated reply may differ from the first
    demo_model.save()
    return demo_model


def versions_shown(article) -> str:
    return article.locator(".version-position").text_content()


def test_regenerate_adds_a_version_and_the_arrows_switch_between_them(
        page, alice, short_replies, artifacts):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, short_replies)
    send_message(page, "Name a colour.")
    first = wait_for_status(page, "done")
    first_id = first.get_attribute("data-id")

    first.get_by_role("button", name="Regenerate").click()
    second = page.locator(LAST_REPLY)
    expect(second).not_to_have_attribute("data-id", first_id)
    second = wait_for_status(page, "done")
    second_id = second.get_attribute("data-id")
    expect(second.locator(".version-position")).to_have_text("2 of 2")
    assert page.locator(".message").count() == 2  # the first version is not shown beside it

    second.get_by_role("button", name="Previous version").click()
    expect(page.locator(LAST_REPLY)).to_have_attribute("data-id", first_id)
    expect(page.locator(LAST_REPLY).locator(".version-position")).to_have_text("1 of 2")
    stored_first = Message.objects.get(pk=first_id)
    expect(page.locator(LAST_REPLY).locator(".content")).to_have_text(stored_first.content)
    page.screenshot(path=artifacts / "chat-regenerate.png", full_page=True)

    page.locator(LAST_REPLY).get_by_role("button", name="Next version").click()
    expect(page.locator(LAST_REPLY)).to_have_attribute("data-id", second_id)

    # The branch on show is the server's: a reload shows the same version.
    page.reload()
    expect(page.locator(LAST_REPLY)).to_have_attribute("data-id", second_id)
    conversation.refresh_from_db()
    assert str(conversation.current_id) == second_id


def test_edit_and_resend_answers_the_new_text_and_keeps_the_old_branch(
        page, alice, short_replies, artifacts):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, short_replies)
    send_message(page, "What is the capital of France?")
    wait_for_status(page, "done")
    send_message(page, "And of Spain?")
    expect(page.locator(".message")).to_have_count(4)
    wait_for_status(page, "done")

    first_question = page.locator(USER_MESSAGE).first
    first_question.get_by_role("button", name="Edit").click()
    editor = first_question.get_by_label("Edit your message")
    expect(editor).to_be_focused()
    editor.fill("What is the capital of Italy?")
    page.keyboard.press("Enter")

    expect(page.locator(".message")).to_have_count(2)  # the new branch: question and reply
    wait_for_status(page, "done")
    edited = page.locator(USER_MESSAGE).first
    expect(edited.locator(".content")).to_have_text("What is the capital of Italy?")
    expect(edited.locator(".version-position")).to_have_text("2 of 2")
    page.screenshot(path=artifacts / "chat-edit-branches.png", full_page=True)

    # The first version brings its whole branch back, follow-up included.
    edited.get_by_role("button", name="Previous version").click()
    expect(page.locator(".message")).to_have_count(4)
    expect(page.locator(USER_MESSAGE).nth(1).locator(".content")).to_have_text("And of Spain?")
    assert conversation.messages.count() == 6


def test_esc_cancels_an_edit_without_sending(page, alice, short_replies):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, short_replies)
    send_message(page, "Hello there.")
    wait_for_status(page, "done")
    question = page.locator(USER_MESSAGE).first
    question.get_by_role("button", name="Edit").click()
    question.get_by_label("Edit your message").fill("Something else")
    page.keyboard.press("Escape")
    expect(question.locator(".edit-form")).to_have_count(0)
    expect(question.locator(".content")).to_have_text("Hello there.")
    assert conversation.messages.count() == 2


def long_reply_streaming(page, model) -> None:
    """Alice's new conversation with a long reply being written."""
    model.max_tokens = 400
    model.save()
    log_in(page, "alice", "alice-password-1")
    new_conversation(page, model)
    send_message(page, "Tell me a long story about a lighthouse.")
    expect(page.locator(LAST_REPLY)).to_have_attribute("data-status", "streaming",
                                                       timeout=REPLY_TIMEOUT_MS)


def test_actions_wait_while_a_reply_is_written(page, alice, demo_model):
    long_reply_streaming(page, demo_model)
    expect(page.locator(USER_MESSAGE).first.get_by_role("button", name="Edit")).to_be_disabled()
    page.get_by_role("button", name="Stop").click()
    wait_for_status(page, "cancelled")
    expect(page.locator(USER_MESSAGE).first.get_by_role("button", name="Edit")).to_be_enabled()
    expect(page.locator(LAST_REPLY).get_by_role("button", name="Regenerate")).to_be_enabled()


def test_the_settings_panel_saves_a_system_prompt_and_refuses_a_bad_value(
        page, alice, short_replies, artifacts):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, short_replies)
    page.get_by_text("Settings", exact=True).click()
    expect(page.get_by_label("Max tokens")).to_have_attribute("placeholder", "40")
    page.get_by_label("System prompt").fill("Answer in one word.")
    page.get_by_label("Temperature").fill("5")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert").filter(has_text=re.compile("2"))).to_be_visible()
    conversation.refresh_from_db()
    assert conversation.settings == {} and conversation.system_prompt == ""

    page.get_by_label("Temperature").fill("0")
    page.get_by_role("button", name="Save settings").click()
    page.wait_for_url(re.compile(rf"/chat/c/{conversation.pk}/$"))
    conversation.refresh_from_db()
    assert conversation.system_prompt == "Answer in one word."
    assert conversation.settings == {"temperature": 0.0}
    page.get_by_text("Settings", exact=True).click()
    expect(page.get_by_label("System prompt")).to_have_value("Answer in one word.")
    page.screenshot(path=artifacts / "chat-settings.png", full_page=True)


def test_esc_in_another_field_does_not_stop_the_reply(page, alice, demo_model):
    long_reply_streaming(page, demo_model)
    page.get_by_label("Search conversations").press("Escape")
    page.wait_for_timeout(500)
    expect(page.locator(LAST_REPLY)).to_have_attribute("data-status", "streaming")
    page.locator("#prompt").press("Escape")
    wait_for_status(page, "cancelled")
