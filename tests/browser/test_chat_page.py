"""The chat page in a real browser: login form, new conversation, streaming, reload, stop.

Real daphne, a real Celery worker, real Redis and the real demo model behind the page.
"""
import re
import time
from itertools import pairwise

import pytest
from playwright.sync_api import expect

from chat.models import Conversation, Message
from chat.services import conversation_create

pytestmark = pytest.mark.browser

STORY = "Tell me a long story about a dragon who learns to bake bread."
REPLY = ".message.assistant"
LAST_REPLY = f"{REPLY} >> nth=-1"
REPLY_TIMEOUT_MS = 120_000

# Every 20 ms, the length and status of the last reply on the page.
SAMPLER_START = """
() => {
  const samples = [];
  window.__samples = samples;
  window.__sampler = setInterval(() => {
    const replies = document.querySelectorAll(".message.assistant");
    const last = replies[replies.length - 1];
    if (!last) return;
    samples.push([last.querySelector(".content").textContent.length, last.dataset.status]);
  }, 20);
}
"""
SAMPLER_STOP = "() => { clearInterval(window.__sampler); return window.__samples; }"


def log_in(page, username: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/chat/$"))


def new_conversation(page, model) -> Conversation:
    page.select_option("select[name=model]", value=str(model.pk))
    page.get_by_role("button", name="New conversation").click()
    page.wait_for_url(re.compile(r"/chat/c/\d+/$"))
    conversation_id = int(re.search(r"/chat/c/(\d+)/$", page.url).group(1))
    socket_open(page)
    return Conversation.objects.get(pk=conversation_id)


def socket_open(page) -> None:
    """The page's websocket is open: a message typed now reaches the server."""
    page.wait_for_function(
        "() => window.__llmhub.sockets.some((s) => s.readyState === WebSocket.OPEN)"
    )


def send_message(page, text: str) -> None:
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")


def wait_for_text(page) -> None:
    """The last reply is streaming and shows some text."""
    page.wait_for_function(
        """() => {
          const replies = document.querySelectorAll(".message.assistant");
          const last = replies[replies.length - 1];
          return last && last.dataset.status === "streaming"
            && last.querySelector(".content").textContent.length > 0;
        }""",
        timeout=REPLY_TIMEOUT_MS,
    )


def wait_for_status(page, status: str):
    reply = page.locator(LAST_REPLY)
    expect(reply).to_have_attribute("data-status", status, timeout=REPLY_TIMEOUT_MS)
    return reply


def shown_text(reply) -> str:
    # textContent, not inner_text: the exact characters, whitespace included.
    return reply.locator(".content").evaluate("(el) => el.textContent")


def text_before_final(page, reply_id: int) -> str | None:
    return page.evaluate("(id) => window.__llmhub.beforeFinal[id]", reply_id)


def test_a_reply_streams_into_the_page_and_matches_the_stored_message(
    page, alice, demo_model, artifacts
):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    page.evaluate(SAMPLER_START)

    send_message(page, STORY)
    reply = wait_for_status(page, "done")
    samples = page.evaluate(SAMPLER_STOP)

    lengths_while_streaming = [length for length, status in samples if status != "done"]
    steps = [b for a, b in pairwise([0, *lengths_while_streaming]) if b > a]
    assert len(steps) >= 3, f"the reply grew in {len(steps)} steps only: {samples}"
    assert page.locator("#prompt").input_value() == ""
    assert page.locator(".message.user .content").text_content() == STORY
    expect(page.locator(".conversation-title .title")).to_have_text(STORY)
    expect(page.locator(".conversations li.current a")).to_have_text(STORY)

    stored = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert stored.status == Message.Status.DONE
    assert reply.get_attribute("data-id") == str(stored.pk)
    assert shown_text(reply) == stored.content != ""
    assert text_before_final(page, stored.pk) == stored.content
    assert steps[-1] <= len(stored.content)

    stats = reply.locator(".stats").text_content()
    assert re.search(rf"\b{stored.completion_tokens} tokens\b", stats), stats
    assert re.search(r"\b\d+(\.\d)? tokens/s\b", stats), stats
    assert "stopped" not in stats
    assert page.locator("#stop").is_hidden()
    assert page.locator("#chat-error").is_hidden()
    page.screenshot(path=artifacts / "chat.png", full_page=True)


def test_a_reload_in_the_middle_of_a_reply_loses_and_repeats_nothing(
    page, alice, demo_model, artifacts
):
    demo_model.max_tokens = 400
    demo_model.save()
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    send_message(page, STORY)
    wait_for_text(page)
    reply_id = int(page.locator(LAST_REPLY).get_attribute("data-id"))

    response = page.reload()
    served = re.search(rf'data-id="{reply_id}"[^>]*data-status="(\w+)"', response.text())
    assert served and served.group(1) in ("queued", "streaming"), (
        "the reply had already finished when the page was reloaded: the test proves nothing"
    )
    socket_open(page)
    reply = wait_for_status(page, "done")

    stored = Message.objects.get(pk=reply_id)
    assert stored.status == Message.Status.DONE
    assert stored.completion_tokens > 100
    assert reply.get_attribute("data-id") == str(reply_id)
    # What the deltas after the reload added up to, before the final frame replaced it.
    assert text_before_final(page, reply_id) == stored.content
    assert shown_text(reply) == stored.content
    assert page.locator(REPLY).count() == 1
    assert conversation.messages.count() == 2
    page.screenshot(path=artifacts / "chat-reload.png", full_page=True)


def test_stop_ends_a_streaming_reply(page, alice, demo_model, artifacts):
    demo_model.max_tokens = 2000
    demo_model.save()
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    assert page.locator("#stop").is_hidden()
    send_message(page, STORY)
    wait_for_text(page)

    page.locator("#stop").click()
    reply = wait_for_status(page, "cancelled")

    assert "stopped" in reply.locator(".stats").text_content()
    assert page.locator("#stop").is_hidden()
    stored = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert stored.status == Message.Status.CANCELLED
    assert stored.completion_tokens < 2000
    assert shown_text(reply) == stored.content
    page.screenshot(path=artifacts / "chat-stopped.png", full_page=True)


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_an_empty_message_shows_an_error_and_stores_nothing(page, alice, demo_model, text):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)

    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    error = page.locator("#chat-error")
    error.wait_for(state="visible")
    assert error.text_content() == "Message is empty."

    page.fill("#prompt", text)
    page.get_by_role("button", name="Send").click()
    assert error.text_content() == "Message is empty."
    time.sleep(1)  # anything sent would have been stored by now
    assert not conversation.messages.exists()
    assert page.locator(".message").count() == 0
    assert not [f for f in page.evaluate("() => window.__llmhub.frames") if f["type"] != "error"]


def test_bob_gets_a_404_for_alices_conversation(page, alice, demo_model):
    from django.contrib.auth.models import User

    User.objects.create_user("bob", password="bob-password-1")
    conversation = conversation_create(owner=alice, model=demo_model)

    log_in(page, "bob", "bob-password-1")
    response = page.goto(f"/chat/c/{conversation.pk}/")

    assert response.status == 404
    assert "Not found" in page.content()
    assert page.get_by_role("link", name="Back to your conversations").is_visible()
    assert page.locator("#chat").count() == 0
    assert page.locator("#prompt").count() == 0
    page.goto("/chat/")
    assert page.locator(f'a[href="/chat/c/{conversation.pk}/"]').count() == 0


def test_a_message_typed_while_reconnecting_is_kept_and_sent_after(page, alice, demo_model):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    page.evaluate("() => window.__llmhub.sockets.forEach((s) => s.close())")
    send_message(page, "Say hello.")

    error = page.locator("#chat-error")
    expect(error).to_contain_text("Reconnecting")
    assert page.locator("#prompt").input_value() == "Say hello."
    assert not conversation.messages.exists()

    socket_open(page)
    page.press("#prompt", "Enter")
    wait_for_status(page, "done")
    assert conversation.messages.filter(role=Message.Role.USER).get().content == "Say hello."
