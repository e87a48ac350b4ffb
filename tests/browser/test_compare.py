"""Compare mode in a real browser: alice sends one prompt to two models and reads both
replies stream side by side, with their speed and memory.

Real daphne, real Redis and two real Celery workers: the session's (demo model) and the
one tests/chat/test_compare.py starts for Gemma 3 270M.
"""
import contextlib
import re

import pytest
from playwright.sync_api import expect

from chat.models import Comparison, Message
from models_registry.explain import bytes_in_words
from models_registry.models import model_queue_name
from models_registry.placement import placement_memory_needed
from tests.browser.test_chat_page import log_in
from tests.chat.test_compare import (  # noqa: F401 (fixtures)
    PROMPT,
    second_model,
    second_worker,
    two_models,
)

pytestmark = pytest.mark.browser

COLUMN = ".compare-column"
REPLY_TIMEOUT_MS = 240_000
PHONE = {"width": 390, "height": 844}


def compare_start(page, models, prompt: str = PROMPT, screenshot=None) -> Comparison:
    page.goto("/chat/compare/")
    for model in models:
        page.get_by_role("checkbox", name=model.name).check()
    page.get_by_label("Prompt").fill(prompt)
    if screenshot:
        page.screenshot(path=screenshot, full_page=True)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url(re.compile(r"/chat/compare/\d+/$"))
    return Comparison.objects.get(pk=int(re.search(r"/compare/(\d+)/$", page.url).group(1)))


@contextlib.contextmanager
def replies_held(models):
    """Keep the workers off the models' queues, through Celery's remote control as the
    hub itself adds and cancels consumers. A 48-token reply of the demo model can end
    before the page showing it has loaded, and then comes whole with the page: held, the
    replies are still queued when the page opens its sockets, and must stream to it."""
    from llmhub.celery import app

    holders = _queue_consumers([model_queue_name(model.name) for model in models])
    for queue, workers in holders.items():
        app.control.cancel_consumer(queue, destination=workers, reply=True, timeout=10)
    try:
        yield
    finally:
        for queue, workers in holders.items():
            app.control.add_consumer(queue, destination=workers, reply=True, timeout=10)


def _queue_consumers(queues: list[str]) -> dict[str, list[str]]:
    from llmhub.celery import app

    consumed = app.control.inspect(timeout=5).active_queues() or {}
    holders = {queue: [worker for worker, worker_queues in consumed.items()
                       if any(q["name"] == queue for q in worker_queues)]
               for queue in queues}
    assert all(holders.values()), f"no worker consumes one of the queues: {holders}"
    return holders


def column_of(page, model):
    return page.locator(COLUMN, has=page.get_by_role("heading", name=model.name, exact=True))


def rendered(column):
    """The reply's Markdown view, drawn: its first element. Not its text, which a sampled
    base model may leave blank (a list of empty items)."""
    return column.locator(".markdown > *").first


def deltas_seen(page, reply_id: int) -> int:
    return page.evaluate(
        "(id) => window.__llmhub.frames.filter((f) => f.type === 'delta' && f.reply_id === id)"
        ".length", reply_id)


def test_compare_mode_with_two_models(page, alice, two_models, second_worker, artifacts):  # noqa: F811
    log_in(page, "alice", "alice-password-1")
    with replies_held(two_models):
        comparison = compare_start(page, two_models, screenshot=artifacts / "compare-form.png")
        columns = [column_of(page, model) for model in two_models]
        for column in columns:
            expect(column).to_have_attribute("data-status", "queued")

    for column in columns:
        expect(column).to_have_attribute("data-status", "done", timeout=REPLY_TIMEOUT_MS)
    expect(page.locator("#compare-stop")).to_be_hidden()

    for model, column in zip(two_models, columns, strict=True):
        reply = Message.objects.get(conversation__comparison=comparison,
                                    conversation__model=model, role=Message.Role.ASSISTANT)
        assert reply.status == Message.Status.DONE
        assert column.get_attribute("data-reply-id") == str(reply.pk)
        assert deltas_seen(page, reply.pk) >= 2, "the reply did not stream into its column"
        assert column.locator(".content").evaluate("(el) => el.textContent") == reply.content
        expect(rendered(column)).to_be_attached()
        expect(column.locator('[data-stat="speed"]')).to_have_text(
            re.compile(r"^\d+(\.\d)? tokens/s$"))
        expect(column.locator('[data-stat="tokens"]')).to_have_text(
            f"{reply.completion_tokens} tokens")
        expect(column.locator('[data-stat="ttft"]')).to_have_text(re.compile(r"^\d+ ms$"))
        memory = bytes_in_words(placement_memory_needed(model=model, slots=model.slots))
        expect(column.locator('[data-stat="memory"]')).to_contain_text(memory)
        expect(column.get_by_role("link", name=re.compile("Continue in chat"))).to_have_attribute(
            "href", f"/chat/c/{reply.conversation_id}/")
    page.screenshot(path=artifacts / "compare.png", full_page=True)

    # Side by side on a desktop: the two columns share a row.
    boxes = [column.bounding_box() for column in columns]
    assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] != boxes[1]["x"]


def test_a_finished_comparison_is_shown_from_the_page_and_fits_a_phone(
        page, alice, two_models, second_worker, artifacts):  # noqa: F811
    log_in(page, "alice", "alice-password-1")
    comparison = compare_start(page, two_models)
    for model in two_models:
        expect(column_of(page, model)).to_have_attribute("data-status", "done",
                                                         timeout=REPLY_TIMEOUT_MS)

    page.set_viewport_size(PHONE)
    page.goto(f"/chat/compare/{comparison.pk}/")

    # Ended replies come with the page: no socket opened, nothing streamed again.
    assert page.evaluate("() => window.__llmhub.sockets.length") == 0
    columns = [column_of(page, model) for model in two_models]
    for column in columns:
        expect(rendered(column)).to_be_attached()
        expect(column.locator('[data-stat="speed"]')).to_have_text(re.compile(r"tokens/s$"))
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways at 390 px: {widths}"
    top, below = sorted((column.bounding_box() for column in columns), key=lambda b: b["y"])
    assert below["y"] >= top["y"] + top["height"], "the columns are not stacked"
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=artifacts / "compare-phone-dark.png", full_page=True)


def test_stop_ends_every_column(page, alice, two_models, second_worker):  # noqa: F811
    for model in two_models:
        # Greedy: on this prompt both models go on for hundreds of tokens (sampled, the
        # base Gemma may end its turn after a few).
        model.max_tokens = 2000
        model.temperature = 0.0
        model.save()
    log_in(page, "alice", "alice-password-1")
    comparison = compare_start(page, two_models, prompt="Tell me a very long story.")
    page.wait_for_function(
        """() => [...document.querySelectorAll(".compare-column")].every(
             (c) => c.dataset.status === "streaming"
               && c.querySelector(".content").textContent.length > 0)""",
        timeout=REPLY_TIMEOUT_MS)

    page.get_by_role("button", name="Stop all replies").click()

    for model in two_models:
        expect(column_of(page, model)).to_have_attribute("data-status", "cancelled",
                                                         timeout=60_000)
    replies = Message.objects.filter(conversation__comparison=comparison,
                                      role=Message.Role.ASSISTANT)
    assert [r.status for r in replies] == [Message.Status.CANCELLED] * 2
    assert all(r.completion_tokens < 2000 for r in replies)
    expect(page.locator("#compare-stop")).to_be_hidden()


def test_bob_sees_not_found_for_alices_comparison(page, alice, bob, two_models):  # noqa: F811
    from chat.compare import comparison_create

    comparison = comparison_create(owner=alice, models=two_models, prompt=PROMPT)
    log_in(page, "bob", "bob-password-1")

    response = page.goto(f"/chat/compare/{comparison.pk}/")

    assert response.status == 404
    assert PROMPT not in page.content()
