"""Browser tests: Playwright's sync API driving Debian's chromium, headless.

The browser is always Debian's /usr/bin/chromium; Playwright never downloads one. Where it
is missing, the session installs it with apt-get (we run as root); if that fails, the tests
error out loudly: a missing browser never turns into a skip.
"""
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
INSTALL_LOCK = Path("/tmp/llmhub-chromium-install.lock")

# Seen by the page before any of its own scripts: keeps every websocket the page opens
# and, for each reply, the text shown just before its final frame replaces it, so a test
# can check that the streamed deltas alone added up to the reply.
PAGE_PROBE = """
(() => {
  const probe = { sockets: [], frames: [], beforeFinal: {} };
  window.__llmhub = probe;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      probe.sockets.push(this);
      // Registered before the page's own listener, so it runs first.
      this.addEventListener("message", (event) => {
        let data;
        try { data = JSON.parse(event.data); } catch { return; }
        probe.frames.push({ type: data.type, reply_id: data.reply_id, seq: data.seq });
        if (data.type === "final") {
          const content = document.querySelector(`.message[data-id="${data.reply_id}"] .content`);
          probe.beforeFinal[data.reply_id] = content ? content.textContent : null;
        }
      });
    }
  };
})();
"""


def _run(command: list[str]) -> None:
    result = subprocess.run(
        command, env=os.environ | {"DEBIAN_FRONTEND": "noninteractive"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited with {result.returncode}; the browser tests need "
            f"Debian's chromium at {CHROMIUM}:\n{result.stdout[-4000:]}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's chromium, installed with apt-get on first use where it is missing."""
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None:
            pytest.fail(f"{CHROMIUM} is missing and there is no apt-get to install it",
                        pytrace=False)
        with open(INSTALL_LOCK, "w") as lock:  # one installer at a time (e.g. pytest-xdist)
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not CHROMIUM.exists():
                _run(["apt-get", "update"])
                _run(["apt-get", "install", "-y", "chromium"])
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is still missing (or not executable) after apt-get install",
                    pytrace=False)
    return str(CHROMIUM)


@pytest.fixture(autouse=True)
def _async_unsafe_orm(monkeypatch):
    """Let the test's own ORM calls run while Playwright's sync API is in use.

    Between two sync calls Playwright leaves its event loop marked as running in this
    thread, so Django would refuse ORM calls as coming from an async context. Set only
    for browser tests, in this process: the hub's subprocesses get their environment
    from the session's ``processes_env``, made without it.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="package")
def browser(chromium_executable):
    # Imported here so that collecting the other tests never needs Playwright.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, hub_url) -> Iterator:
    """A fresh browser context (no cookies) per test; uncaught page errors fail the test."""
    context = browser.new_context(base_url=hub_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(PAGE_PROBE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.page_errors = errors
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
