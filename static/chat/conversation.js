// The conversation page: one websocket per conversation; replies stream as text frames
// with sequence numbers, so a reconnect asks only for what it has not seen yet.
const root = document.getElementById("chat");
const list = document.getElementById("messages");
const form = document.getElementById("composer");
const prompt = document.getElementById("prompt");
const stopButton = document.getElementById("stop");
const errorBox = document.getElementById("chat-error");
const seen = new Map(); // reply id -> last sequence number shown
let socket = null;

function activeReplies() {
  return [...list.querySelectorAll('.message[data-status="queued"], .message[data-status="streaming"]')];
}

function statsText(m) {
  if (m.completion_tokens === null || m.completion_tokens === undefined) return "";
  const parts = [`${m.prompt_tokens} prompt tokens`, `${m.completion_tokens} tokens`];
  if (m.ttft_ms !== null) parts.push(`TTFT ${Math.round(m.ttft_ms)} ms`);
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
  const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  el.querySelector(".content").textContent += frame.text;
  // Follow the reply only for a reader who is at the bottom, not one scrolled up to read.
  if (nearBottom) el.scrollIntoView({ block: "end" });
}

function onFinal(frame) {
  const el = replyElement(frame.reply_id);
  if (!el) return;
  seen.set(frame.reply_id, frame.seq);
  el.dataset.status = frame.status;
  el.querySelector(".content").textContent = frame.text;
  const error = el.querySelector(".error");
  error.textContent = frame.error;
  error.hidden = !frame.error;
  el.querySelector(".stats").textContent = statsText(frame);
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
    if (!seen.has(id)) el.querySelector(".content").textContent = "";
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
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    send();
  }
});
stopButton.addEventListener("click", () => {
  for (const el of activeReplies()) {
    socket.send(JSON.stringify({ type: "stop", reply_id: Number(el.dataset.id) }));
  }
});

refreshControls();
connect();
