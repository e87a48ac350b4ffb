// The conversation page: one websocket per conversation; replies stream as text frames
// with sequence numbers, so a reconnect asks only for what it has not seen yet.
//
// A reply's .content keeps the text exactly as received (the stored text, and what
// deltas append to); its .markdown sibling shows that text rendered, at most once per
// animation frame while it streams.
import { codeCopy, markdownRender } from "./markdown.js";

const root = document.getElementById("chat");
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const prompt = document.getElementById("prompt");
const stopButton = document.getElementById("stop");
const errorBox = document.getElementById("chat-error");
const announcer = document.getElementById("reply-status");
const modelName = root.dataset.modelName;
const seen = new Map(); // reply id -> last sequence number shown
let socket = null;
const renderPending = new Set(); // replies whose text changed since they were last drawn
let renderFrame = 0;

function activeReplies() {
  return [...list.querySelectorAll('.message[data-status="queued"], .message[data-status="streaming"]')];
}

function statsText(m) {
  if (m.completion_tokens === null || m.completion_tokens === undefined) return "";
  const parts = [modelName, `${m.prompt_tokens} prompt tokens`, `${m.completion_tokens} tokens`];
  if (m.ttft_ms !== null) parts.push(`first token ${Math.round(m.ttft_ms)} ms`);
  if (m.tokens_per_second) parts.push(`${m.tokens_per_second.toFixed(1)} tokens/s`);
  if (m.status === "cancelled") parts.push("stopped");
  return parts.join(" · ");
}

function messageElement(m) {
  const article = document.createElement("article");
  article.className = `message ${m.role}`;
  article.dataset.id = m.id;
  article.dataset.role = m.role;
  article.dataset.status = m.status;
  const content = document.createElement("div");
  content.className = "content";
  content.textContent = m.content; // model text is never inserted as HTML
  article.append(content);
  if (m.role === "assistant") {
    const error = document.createElement("p");
    error.className = "error";
    error.hidden = true;
    const stats = document.createElement("p");
    stats.className = "stats";
    article.append(error, stats);
  }
  return article;
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
  stopButton.hidden = activeReplies().length === 0;
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
    announce(`The reply failed. ${frame.error}`);
  } else if (frame.status === "cancelled") {
    announce(`Reply stopped. ${spokenText(el)}`);
  } else {
    announce(`${modelName} replied. ${spokenText(el)}`);
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

function onEvent(event) {
  const data = JSON.parse(event.data);
  if (data.type === "conversation") {
    onTitle(data.title);
  } else if (data.type === "message") {
    list.append(messageElement(data.message));
    refreshControls();
  } else if (data.type === "delta") {
    onDelta(data);
  } else if (data.type === "final") {
    onFinal(data);
  } else if (data.type === "error") {
    showError(data.error);
  }
}

function resumeActiveReplies() {
  for (const el of activeReplies()) {
    const id = Number(el.dataset.id);
    if (!seen.has(id)) {
      el.querySelector(".content").textContent = "";
      replyRender(el);
    }
    socket.send(JSON.stringify({ type: "resume", reply_id: id, after_seq: seen.get(id) || 0 }));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/chat/${root.dataset.conversationId}/`);
  socket.addEventListener("open", resumeActiveReplies);
  socket.addEventListener("message", onEvent);
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) {
      showError("Your session has ended. Log in again to go on.");
      return;
    }
    if (event.code === 4404) {
      showError("This conversation is not available.");
      return;
    }
    setTimeout(connect, 1000); // resumes after the last frame shown
  });
}

function send() {
  const text = prompt.value.trim();
  errorBox.hidden = true;
  if (!text) {
    showError("Message is empty.");
    return;
  }
  if (socket.readyState !== WebSocket.OPEN) {
    // Keep what was typed: it is sent once the connection is back.
    showError("Reconnecting… your message is kept; send it again in a moment.");
    return;
  }
  socket.send(JSON.stringify({ type: "send", text }));
  prompt.value = "";
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
  if (socket.readyState !== WebSocket.OPEN) return;
  for (const el of activeReplies()) {
    socket.send(JSON.stringify({ type: "stop", reply_id: Number(el.dataset.id) }));
  }
}

stopButton.addEventListener("click", stopActiveReplies);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented || activeReplies().length === 0) return;
  event.preventDefault();
  stopActiveReplies();
});
list.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-code");
  if (button) announce((await codeCopy(button)) ? "Code copied." : "Could not copy the code.");
});

list.querySelectorAll('.message[data-role="assistant"]').forEach(replyRender);
refreshControls();
connect();
