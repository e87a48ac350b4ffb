// The conversation page: one websocket per conversation; replies stream as text frames
// with sequence numbers, so a reconnect asks only for what it has not seen yet.
//
// A reply's .content keeps the text exactly as received (the stored text, and what
// deltas append to); its .markdown sibling shows that text rendered, at most once per
// animation frame while it streams.
//
// A conversation is a tree: regenerating a reply or editing a message adds a version
// beside it, and the page shows one branch; the server sends that branch whole after
// each change ("branch" events) and the page redraws it.
import { conversationSocket } from "./conversation_socket.js";
import { codeCopy, markdownRender } from "./markdown.js";
import { oneDecimal } from "./numbers.js";
import { probabilitiesAttach, probabilitiesInit } from "./probabilities.js";

const root = document.getElementById("chat");
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const prompt = document.getElementById("prompt");
const stopButton = document.getElementById("stop");
const errorBox = document.getElementById("chat-error");
const announcer = document.getElementById("reply-status");
const modelName = root.dataset.modelName;
const modelQuant = root.dataset.modelQuant;
const TERMINAL = ["done", "cancelled", "failed"];
const seen = new Map(); // reply id -> last sequence number shown
let socket = null; // the conversation's, opened last, once the page is drawn
const renderPending = new Set(); // replies whose text changed since they were last drawn
let renderFrame = 0;

function activeReplies() {
  return [...list.querySelectorAll('.message[data-status="queued"], .message[data-status="streaming"]')];
}

function statsText(m) {
  if (m.completion_tokens === null || m.completion_tokens === undefined) return "";
  const parts = [modelQuant ? `${modelName} · ${modelQuant}` : modelName,
    interpolate(gettext("%s prompt tokens"), [m.prompt_tokens]),
    interpolate(ngettext("%s token", "%s tokens", m.completion_tokens), [m.completion_tokens])];
  if (m.ttft_ms !== null && m.ttft_ms !== undefined) {
    parts.push(interpolate(gettext("first token %s ms"), [Math.round(m.ttft_ms)]));
  }
  if (m.tokens_per_second) {
    parts.push(interpolate(gettext("%s tokens/s"), [oneDecimal(m.tokens_per_second)]));
  }
  if (m.status === "cancelled") parts.push(gettext("stopped"));
  return parts.join(" · ");
}

// The page's server-rendered replies carry their figures as data attributes.
function statsFromPage(el) {
  const stats = el.querySelector(".stats");
  const number = (value) => (value === "" || value === undefined ? null : Number(value));
  stats.textContent = statsText({
    status: el.dataset.status,
    prompt_tokens: number(stats.dataset.promptTokens),
    completion_tokens: number(stats.dataset.completionTokens),
    ttft_ms: number(stats.dataset.ttftMs),
    tokens_per_second: number(stats.dataset.tokensPerSecond),
  });
}

function messageElement(m) {
  const article = document.createElement("article");
  article.className = `message ${m.role}`;
  article.dataset.id = m.id;
  article.dataset.role = m.role;
  article.dataset.status = m.status;
  article.dataset.versions = (m.versions || [m.id]).join(",");
  if (m.status === "queued" || m.status === "streaming") article.setAttribute("aria-busy", "true");
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = m.content; // model text is never inserted as HTML
  article.append(content);
  if (m.role === "assistant") {
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = m.error || "";
    error.hidden = !m.error;
    const stats = document.createElement("p");
    stats.className = "stats";
    stats.textContent = statsText(m);
    article.append(error, stats);
  }
  const actions = document.createElement("div");
  actions.className = "message-actions";
  article.append(actions);
  return article;
}

// --- actions: edit, regenerate, versions -------------------------------------------------
function actionButton(action, label, text = label) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `action ${action}`;
  button.dataset.action = action;
  button.textContent = text;
  if (text !== label) button.setAttribute("aria-label", label);
  return button;
}

function versionSwitcher(el) {
  const versions = el.dataset.versions.split(",").map(Number);
  const index = versions.indexOf(Number(el.dataset.id));
  const group = document.createElement("span");
  group.className = "versions";
  group.setAttribute("role", "group");
  group.setAttribute("aria-label", gettext("Versions"));
  const previous = actionButton("previous-version", gettext("Previous version"), "‹");
  previous.dataset.target = versions[index - 1] ?? "";
  previous.disabled = index <= 0;
  const next = actionButton("next-version", gettext("Next version"), "›");
  next.dataset.target = versions[index + 1] ?? "";
  next.disabled = index >= versions.length - 1;
  const position = document.createElement("span");
  position.className = "version-position";
  position.textContent = interpolate(gettext("%s of %s"), [index + 1, versions.length]);
  group.append(previous, position, next);
  return group;
}

// Actions are offered only on a message at rest: a new version waits for the reply.
function actionsRender(el) {
  const actions = el.querySelector(".message-actions");
  actions.replaceChildren();
  if (el.dataset.versions.includes(",")) actions.append(versionSwitcher(el));
  const writing = activeReplies().length > 0;
  if (el.dataset.role === "user") {
    const edit = actionButton("edit", gettext("Edit"));
    edit.disabled = writing;
    actions.append(edit);
  } else if (TERMINAL.includes(el.dataset.status)) {
    const regenerate = actionButton("regenerate", gettext("Regenerate"));
    regenerate.disabled = writing;
    actions.append(regenerate);
    if (el.dataset.status !== "failed") probabilitiesAttach(el);
  }
}

function actionsRenderAll() {
  list.querySelectorAll(".message").forEach(actionsRender);
}

function editStart(el) {
  if (el.querySelector(".edit-form")) return;
  const content = el.querySelector(".content");
  const editor = document.createElement("form");
  editor.className = "edit-form";
  const label = document.createElement("label");
  label.className = "visually-hidden";
  label.htmlFor = `edit-${el.dataset.id}`;
  label.textContent = gettext("Edit your message");
  const text = document.createElement("textarea");
  text.id = label.htmlFor;
  text.rows = Math.min(10, content.textContent.split("\n").length + 1);
  text.value = content.textContent;
  const save = document.createElement("button");
  save.type = "submit";
  save.textContent = gettext("Save and send");
  const cancel = actionButton("cancel-edit", gettext("Cancel"));
  editor.append(label, text, save, cancel);
  content.hidden = true;
  el.querySelector(".message-actions").hidden = true;
  content.after(editor);
  text.focus();
}

function editEnd(el) {
  el.querySelector(".edit-form")?.remove();
  el.querySelector(".content").hidden = false;
  el.querySelector(".message-actions").hidden = false;
}

function editSend(el) {
  const text = el.querySelector(".edit-form textarea").value.trim();
  if (!text) {
    showError(gettext("Message is empty."));
    return;
  }
  if (sendRequest({ type: "edit", message_id: Number(el.dataset.id), text })) editEnd(el);
}

function onAction(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const el = button.closest(".message");
  const action = button.dataset.action;
  if (action === "edit") editStart(el);
  else if (action === "cancel-edit") editEnd(el);
  else if (action === "regenerate") sendRequest({ type: "regenerate", reply_id: Number(el.dataset.id) });
  else if (action === "previous-version" || action === "next-version") {
    sendRequest({ type: "switch", message_id: Number(button.dataset.target) });
  }
}

function replyRender(el) {
  const content = el.querySelector(".content");
  let view = el.querySelector(".markdown");
  if (!content.textContent) {
    // Nothing yet (queued, or cleared for a resume): the plain box shows its placeholder.
    view?.remove();
    content.hidden = false;
    return;
  }
  if (!view) {
    view = document.createElement("div");
    view.className = "markdown";
    content.after(view);
  }
  view.replaceChildren(markdownRender(content.textContent));
  content.hidden = true;
}

function nearBottom() {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80;
}

// Follow a growing reply only for a reader who is at the bottom, not one scrolled up.
function followingReplies(draw) {
  const following = nearBottom();
  draw();
  if (following) window.scrollTo({ top: document.documentElement.scrollHeight });
}

function renderPendingReplies() {
  renderFrame = 0;
  followingReplies(() => renderPending.forEach(replyRender));
  renderPending.clear();
}

function replyRenderSoon(el) {
  renderPending.add(el);
  renderFrame ||= requestAnimationFrame(renderPendingReplies);
}

function spokenText(el) {
  const view = el.querySelector(".markdown")?.cloneNode(true);
  if (!view) return "";
  view.querySelectorAll(".code-toolbar").forEach((toolbar) => toolbar.remove());
  return view.textContent.trim();
}

function announce(text) {
  announcer.textContent = text;
}

function replyElement(id) {
  return list.querySelector(`.message[data-id="${id}"]`);
}

function refreshControls() {
  const writing = activeReplies().length > 0;
  stopButton.hidden = !writing;
  list.querySelectorAll('button[data-action="edit"], button[data-action="regenerate"]')
    .forEach((button) => { button.disabled = writing; });
}

function onDelta(frame) {
  const el = replyElement(frame.reply_id);
  if (!el || frame.seq <= (seen.get(frame.reply_id) || 0)) return;
  seen.set(frame.reply_id, frame.seq);
  el.dataset.status = "streaming";
  el.setAttribute("aria-busy", "true");
  el.querySelector(".content").textContent += frame.text;
  replyRenderSoon(el);
}

// The reply is announced once, whole, when it ends: read token by token it would be noise.
function finalAnnounce(el, frame) {
  if (frame.status === "failed") {
    announce(interpolate(gettext("The reply failed. %s"), [frame.error]));
  } else if (frame.status === "cancelled") {
    announce(interpolate(gettext("Reply stopped. %s"), [spokenText(el)]));
  } else {
    announce(interpolate(gettext("%(model)s replied. %(reply)s"),
      { model: modelName, reply: spokenText(el) }, true));
  }
}

function onFinal(frame) {
  const el = replyElement(frame.reply_id);
  if (!el) return;
  seen.set(frame.reply_id, frame.seq);
  el.dataset.status = frame.status;
  el.removeAttribute("aria-busy");
  el.querySelector(".content").textContent = frame.text;
  renderPending.delete(el);
  followingReplies(() => replyRender(el));
  const error = el.querySelector(".error");
  error.textContent = frame.error;
  error.hidden = !frame.error;
  el.querySelector(".stats").textContent = statsText(frame);
  finalAnnounce(el, frame);
  actionsRender(el);
  refreshControls();
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

function onTitle(title) {
  document.querySelector(".conversation-title .title").textContent = title;
  document.title = `${title} · llmhub`;
  const current = document.querySelector(".conversations li.current a");
  if (current) current.textContent = title;
}

function onFrame(data) {
  if (data.type === "conversation") {
    onTitle(data.title);
  } else if (data.type === "message") {
    const el = messageElement(data.message);
    list.append(el);
    actionsRender(el);
    refreshControls();
  } else if (data.type === "branch") {
    onBranch(data.messages);
  } else if (data.type === "delta") {
    onDelta(data);
  } else if (data.type === "final") {
    onFinal(data);
  } else if (data.type === "error") {
    showError(data.error);
  }
}

// The branch on show changed (a new version, or a switch): draw it whole. Its replies
// still being written are followed by the server, from their first frame.
function onBranch(messages) {
  followingReplies(() => {
    list.replaceChildren(...messages.map(messageElement));
    for (const el of list.querySelectorAll(".message")) {
      if (el.dataset.role === "assistant") replyRender(el);
      if (el.getAttribute("aria-busy")) seen.delete(Number(el.dataset.id));
    }
  });
  actionsRenderAll();
  refreshControls();
}

function resumeActiveReplies() {
  for (const el of activeReplies()) {
    const id = Number(el.dataset.id);
    if (!seen.has(id)) {
      el.querySelector(".content").textContent = "";
      replyRender(el);
    }
    socket.send({ type: "resume", reply_id: id, after_seq: seen.get(id) || 0 });
  }
}

// False when the connection is down: the caller keeps what was typed.
function sendRequest(request) {
  errorBox.hidden = true;
  if (!socket.send(request)) {
    showError(gettext("Reconnecting… what you typed is kept; send it again in a moment."));
    return false;
  }
  return true;
}

function send() {
  const text = prompt.value.trim();
  if (!text) {
    showError(gettext("Message is empty."));
    return;
  }
  if (sendRequest({ type: "send", text })) prompt.value = "";
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
prompt.addEventListener("keydown", (event) => {
  // isComposing: Enter that confirms an input method's candidate is not a send.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

function stopActiveReplies() {
  for (const el of activeReplies()) {
    socket.send({ type: "stop", reply_id: Number(el.dataset.id) });
  }
}

stopButton.addEventListener("click", stopActiveReplies);
// Esc stops from the composer or the page, not while typing in another field (search,
// rename, settings), where Esc belongs to that field.
function escapeStops(event) {
  const target = event.target;
  const typing = target instanceof HTMLElement && target.matches("input, textarea, select")
    && target !== prompt;
  return event.key === "Escape" && !event.defaultPrevented && !typing
    && activeReplies().length > 0;
}

document.addEventListener("keydown", (event) => {
  if (!escapeStops(event)) return;
  event.preventDefault();
  stopActiveReplies();
});
list.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-code");
  if (button) {
    announce((await codeCopy(button)) ? gettext("Code copied.") : gettext("Could not copy the code."));
  }
});
list.addEventListener("click", onAction);
list.addEventListener("submit", (event) => {
  event.preventDefault();
  editSend(event.target.closest(".message"));
});
list.addEventListener("keydown", (event) => {
  if (!event.target.closest(".edit-form")) return;
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    editSend(event.target.closest(".message"));
  } else if (event.key === "Escape") {
    event.preventDefault(); // cancels the edit, not a reply
    editEnd(event.target.closest(".message"));
  }
});

list.querySelectorAll('.message[data-role="assistant"]').forEach((el) => {
  replyRender(el);
  statsFromPage(el);
});
probabilitiesInit(list, root.dataset.conversationId);
actionsRenderAll();
refreshControls();
socket = conversationSocket(root.dataset.conversationId, {
  onOpen: resumeActiveReplies,
  onFrame,
  onRefused: showError,
});
