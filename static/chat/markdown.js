// A model's reply shown as Markdown. marked parses, highlight.js colours code, and
// DOMPurify has the last word on every tag and attribute: whatever the model writes, the
// page gets text, Markdown's own elements and links that leave the hub, never script.
import { Marked } from "../vendor/marked-18.2.1/marked.esm.js";
import DOMPurify from "../vendor/dompurify-3.5.0/purify.es.mjs";
import hljs from "../vendor/highlight.js-11.12.0/highlight.min.js";

const SAFE_HREF = /^(?:https?:|mailto:)/i;
const LANGUAGE_NAME = /^[\w+#.-]{1,40}$/;
// highlight.js's own classes ("hljs-keyword", sub-scopes such as "function_") and the
// "language-x" of a fence; a reply cannot borrow the page's classes to dress up as its UI.
const CODE_CLASS = /^(?:hljs(?:-[\w-]+)?|language-[\w+#.-]+|[a-z]+_+)$/;
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

function languageOf(info) {
  const name = (info || "").trim().split(/\s+/)[0].toLowerCase();
  return LANGUAGE_NAME.test(name) ? name : "";
}

function codeHtml({ text, lang }) {
  const language = languageOf(lang);
  // No guessing for a fence without a language: highlightAuto tries every grammar, on
  // every animation frame while a reply streams.
  const known = language && hljs.getLanguage(language);
  const body = known
    ? hljs.highlight(text, { language, ignoreIllegals: true }).value
    : escapeHtml(text);
  const classes = language ? `hljs language-${language}` : "hljs";
  return `<pre><code class="${classes}">${body}</code></pre>\n`;
}

// Raw HTML in a reply is shown as the text it is: a model explaining "<div>" keeps its
// words, and a prompt-injected reply cannot draw forms or buttons that look like the hub's.
function htmlAsText({ text, block }) {
  return block ? `<p>${escapeHtml(text)}</p>\n` : escapeHtml(text);
}

// An image would be fetched as soon as it is shown, and its URL can carry what the model
// read (the Markdown-image exfiltration trick): show a link the reader may choose to open.
function imageAsLink({ href, text }) {
  return `<a href="${escapeHtml(href)}">${escapeHtml(text || "image")}</a>`;
}

const markdown = new Marked({
  gfm: true,
  breaks: true, // small models write plain lines; keep their line breaks
  renderer: { code: codeHtml, html: htmlAsText, image: imageAsLink },
});

const purifier = DOMPurify(window);
const PURIFY_CONFIG = {
  ALLOWED_TAGS: [
    "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "input", "li", "ol", "p", "pre", "s", "span", "strong", "table", "tbody", "td", "th",
    "thead", "tr", "ul",
  ],
  ALLOWED_ATTR: ["align", "checked", "class", "disabled", "href", "start", "title", "type"],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.hasAttribute("class")) {
    const kept = [...node.classList].filter((name) => CODE_CLASS.test(name));
    if (kept.length) node.setAttribute("class", kept.join(" "));
    else node.removeAttribute("class");
  }
  if (node.tagName === "A") {
    if (SAFE_HREF.test(node.getAttribute("href") || "")) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    } else {
      node.removeAttribute("href"); // the words stay, the link goes
    }
  }
  if (node.tagName === "INPUT") {
    // Only GFM task-list boxes are inputs here, and they are read-only.
    node.setAttribute("type", "checkbox");
    node.setAttribute("disabled", "");
  }
});

function codeBlockDecorate(pre) {
  const code = pre.querySelector("code");
  const language = [...(code?.classList || [])].find((name) => name.startsWith("language-"));
  const block = document.createElement("div");
  block.className = "code-block";
  const toolbar = document.createElement("div");
  toolbar.className = "code-toolbar";
  const label = document.createElement("span");
  const name = language ? language.slice("language-".length) : "";
  label.textContent = name || gettext("code");
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-code";
  copy.textContent = gettext("Copy");
  copy.setAttribute("aria-label", name
    ? interpolate(gettext("Copy %(language)s code"), { language: name }, true)
    : gettext("Copy code"));
  toolbar.append(label, copy);
  pre.replaceWith(block);
  block.append(toolbar, pre);
}

function tableScrollWrap(table) {
  // A wide table scrolls on its own instead of widening the page on a phone.
  const wrapper = document.createElement("div");
  wrapper.className = "table-scroll";
  table.replaceWith(wrapper);
  wrapper.append(table);
}

/** Markdown text -> sanitized DOM: safe to insert as it is, whatever the text holds. */
export function markdownRender(text) {
  const fragment = purifier.sanitize(markdown.parse(text), PURIFY_CONFIG);
  fragment.querySelectorAll("pre").forEach(codeBlockDecorate);
  fragment.querySelectorAll("table").forEach(tableScrollWrap);
  return fragment;
}

function copyWithSelection(text) {
  // navigator.clipboard exists only in secure contexts; a hub reached over plain http on
  // the LAN still copies through a selection.
  const scratch = document.createElement("textarea");
  scratch.value = text;
  scratch.setAttribute("readonly", "");
  scratch.className = "visually-hidden";
  document.body.append(scratch);
  scratch.select();
  const copied = document.execCommand("copy");
  scratch.remove();
  return copied;
}

/** Puts the code of the block holding `button` on the clipboard; true when it did. */
export async function codeCopy(button) {
  const text = button.closest(".code-block").querySelector("code").textContent;
  let copied;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    copied = copyWithSelection(text);
    button.focus();
  }
  button.textContent = copied ? gettext("Copied") : gettext("Copy failed");
  setTimeout(() => { button.textContent = gettext("Copy"); }, 1500);
  return copied;
}
