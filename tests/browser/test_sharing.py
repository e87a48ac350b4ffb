"""Sharing by link in a real browser: alice shares and copies the link, bob opens it on a
phone in the dark, reads the replies as inert Markdown with nothing to write with, and
gets the 404 page once alice stops sharing."""
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from chat.models import ShareLink
from tests.browser.conftest import PAGE_PROBE
from tests.browser.test_chat_page import log_in
from tests.browser.test_chat_rendering import (
    INERT_CHECK,
    MARKDOWN,
    XSS,
    background_luminance,
    horizontal_overflow,
    open_conversation,
    seeded_conversation,
)

pytestmark = pytest.mark.browser

SHARED_URL = re.compile(r"^http://[^/]+/chat/s/[A-Za-z0-9_-]{32}/$")


@pytest.fixture
def phone(browser, hub_url) -> Iterator:
    """bob's browser: a phone-sized window, the system in dark mode, a context of its own."""
    context = browser.new_context(base_url=hub_url, viewport={"width": 390, "height": 844},
                                  color_scheme="dark")
    context.set_default_timeout(30_000)
    context.add_init_script(PAGE_PROBE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in bob's page: {errors}"


def share_from_the_conversation_page(page) -> str:
    page.get_by_role("button", name="Share", exact=True).click()
    link = page.get_by_label(re.compile("can read the conversation"))
    expect(link).to_be_focused()
    url = link.input_value()
    assert SHARED_URL.match(url), url
    return url


def log_in_through(page, url: str, username: str, password: str) -> None:
    """Open ``url`` logged out: the login page comes first, then the page asked for."""
    page.goto(url)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/chat/s/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(url)


def test_alice_shares_and_copies_the_link_and_bob_reads_it_inert_on_a_dark_phone(
        page, phone, alice, bob, demo_model, hub_url, artifacts):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub_url)
    conversation = seeded_conversation(alice, demo_model, reply=XSS,
                                       question="<img src=x onerror=alert(9)> hello")
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)
    url = share_from_the_conversation_page(page)
    assert url.endswith(f"/chat/s/{ShareLink.objects.get().token}/")
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status").filter(has_text="Link copied.")).to_have_count(1)
    assert page.evaluate("() => navigator.clipboard.readText()") == url
    page.screenshot(path=artifacts / "share-owner.png", full_page=True)

    dialogs: list[str] = []
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests: list[str] = []
    phone.on("request", lambda request: requests.append(request.url))
    log_in_through(phone, url, "bob", "bob-password-1")
    reply = phone.locator(".message.assistant")
    expect(reply.locator(".markdown")).to_contain_text("<img src=x onerror=alert(1)>")
    assert reply.locator(".content").is_hidden()
    expect(phone.locator(".message.user .content")).to_have_text(
        "<img src=x onerror=alert(9)> hello")
    messages = phone.locator(".messages")
    assert messages.locator("script, img, svg, iframe").count() == 0
    assert messages.evaluate(INERT_CHECK) == []
    assert phone.locator("textarea, #composer, .message-actions").count() == 0
    phone.wait_for_timeout(500)  # time for anything that slipped through to fire
    assert dialogs == []
    assert not [url for url in requests if "attacker.invalid" in url]
    assert phone.evaluate("() => window.__llmhub.sockets.length") == 0
    assert background_luminance(phone) < 0.2
    assert horizontal_overflow(phone) <= 0
    phone.screenshot(path=artifacts / "share-reader-phone-dark.png", full_page=True)

    page.get_by_role("button", name="Stop sharing").click()
    expect(page.get_by_role("button", name="Share", exact=True)).to_be_focused()
    response = phone.reload()
    assert response.status == 404
    expect(phone.get_by_role("heading", name="Not found")).to_be_visible()


def test_the_shared_page_renders_markdown_with_a_working_code_copy_button(
        page, alice, bob, demo_model, hub_url, artifacts):
    conversation = seeded_conversation(alice, demo_model, reply=MARKDOWN)
    log_in(page, "alice", "alice-password-1")
    page.set_viewport_size({"width": 390, "height": 844})
    open_conversation(page, conversation)
    url = share_from_the_conversation_page(page)
    box = page.locator("details.share").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page.locator("details.share").screenshot(path=artifacts / "share-owner-phone.png")

    page.context.clear_cookies()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub_url)
    log_in_through(page, url, "bob", "bob-password-1")
    view = page.locator(".message.assistant .markdown")
    expect(view.locator("h1")).to_have_text("Sorting in Python")
    expect(view.locator("pre code.language-python .hljs-keyword").first).to_have_text("def")
    copy = view.get_by_role("button", name="Copy python")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert "sorted(words, key=len)" in page.evaluate("() => navigator.clipboard.readText()")
    expect(page.locator("#share-status")).to_have_text("Code copied.")
