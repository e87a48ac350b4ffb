// Sharing by link. On the conversation page: the owner's share box (Copy link, and the
// box opened again after Share or Stop sharing, which reload the page at #sharing). On the
// shared page: the replies shown as sanitized Markdown, read-only.
import { codeCopy, markdownRender } from "./markdown.js";

function announce(status, text) {
  status.textContent = "";
  // A fresh node each time, so the same words twice are read twice.
  requestAnimationFrame(() => { status.textContent = text; });
}

async function linkCopy(input) {
  try {
    await navigator.clipboard.writeText(input.value);
    return true;
  } catch {
    // navigator.clipboard exists only in secure contexts; a hub reached over plain http
    // on the LAN still copies through the selection.
    input.select();
    return document.execCommand("copy");
  }
}

function shareBoxSetUp(box) {
  const input = box.querySelector("#share-url");
  const copy = box.querySelector(".share-copy");
  const status = box.querySelector(".share-status");
  if (location.hash === "#sharing") {
    if (box.tagName === "DETAILS") box.open = true;
    (input || box.querySelector("button")).focus();
    input?.select();
  }
  copy?.addEventListener("click", async () => {
    announce(status, (await linkCopy(input))
      ? gettext("Link copied.")
      : gettext("Could not copy the link: select it and copy it yourself."));
  });
  input?.addEventListener("focus", () => input.select());
}

function sharedPageRender(main) {
  for (const reply of main.querySelectorAll(".message.assistant")) {
    const content = reply.querySelector(".content");
    if (!content.textContent) continue;
    const view = document.createElement("div");
    view.className = "markdown";
    view.append(markdownRender(content.textContent)); // sanitized: never raw model HTML
    content.after(view);
    content.hidden = true;
  }
  const status = main.querySelector("#share-status");
  main.addEventListener("click", async (event) => {
    const button = event.target.closest(".copy-code");
    if (button) {
      announce(status, (await codeCopy(button))
        ? gettext("Code copied.") : gettext("Could not copy the code."));
    }
  });
}

const box = document.querySelector("[data-share-box]");
if (box) shareBoxSetUp(box);
const shared = document.getElementById("shared");
if (shared) sharedPageRender(shared);
