// The comparison page: one column per model, each reply in a conversation of its own.
// A column whose reply is still being written opens a websocket to that conversation and
// follows the reply's frames (resuming after the last one shown if the connection drops);
// a reply that had already ended is shown as the page brought it, with no socket at all.
import { conversationSocket } from "./conversation_socket.js";
import { codeCopy, markdownRender } from "./markdown.js";
import { oneDecimal } from "./numbers.js";

const root = document.getElementById("compare");
const columns = [...root.querySelectorAll(".compare-column[data-reply-id]")];
const stopButton = document.getElementById("compare-stop");
const errorBox = document.getElementById("compare-error");
const announcer = document.getElementById("compare-status");
const ACTIVE = ["queued", "streaming"];
const state = new Map(); // column -> { socket, seen: last sequence number shown }
const renderPending = new Set();
let renderFrame = 0;

function isActive(column) {
  return ACTIVE.includes(column.dataset.status);
}

function replyId(column) {
  return Number(column.dataset.replyId);
}

// --- showing a reply and its figures ------------------------------------------------------
function replyRender(column) {
  const content = column.querySelector(".content");
  let view = column.querySelector(".markdown");
  if (!view) {
    view = document.createElement("div");
    view.className = "markdown";
    content.after(view);
  }
  // Sanitized by markdownRender: a model's text never reaches the page as raw HTML.
  view.replaceChildren(markdownRender(content.textContent));
  content.hidden = true;
}

function renderPendingReplies() {
  renderFrame = 0;
  renderPending.forEach(replyRender);
  renderPending.clear();
}

function replyRenderSoon(column) {
  renderPending.add(column);
  renderFrame ||= requestAnimationFrame(renderPendingReplies);
}

const STAT_TEXT = {
  ttft: (value) => interpolate(gettext("%s ms"), [Math.round(value)]),
  speed: (value) => interpolate(gettext("%s tokens/s"), [oneDecimal(value)]),
  tokens: (value) => interpolate(ngettext("%s token", "%s tokens", value), [value]),
};

function statShow(column, name, value) {
  const cell = column.querySelector(`[data-stat="${name}"]`);
  const known = value !== null && value !== undefined && value !== "";
  cell.dataset.value = known ? value : "";
  cell.textContent = known ? STAT_TEXT[name](Number(value)) : "—";
}

function statsShow(column, figures) {
  statShow(column, "ttft", figures.ttft_ms);
  statShow(column, "speed", figures.tokens_per_second);
  statShow(column, "tokens", figures.completion_tokens);
}

// The page's stored replies carry their figures as data attributes.
function statsFromPage(column) {
  const value = (name) => column.querySelector(`[data-stat="${name}"]`).dataset.value;
  statsShow(column, {
    ttft_ms: value("ttft"), tokens_per_second: value("speed"), completion_tokens: value("tokens"),
  });
}

function announce(text) {
  announcer.textContent = text;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

function refreshControls() {
  stopButton.hidden = !columns.some(isActive);
}

// --- frames ---------------------------------------------------------------------------------
function onDelta(column, frame) {
  const entry = state.get(column);
  if (frame.seq <= entry.seen) return;
  entry.seen = frame.seq;
  column.dataset.status = "streaming";
  column.querySelector(".content").textContent += frame.text;
  replyRenderSoon(column);
}

function finalAnnounce(column, frame) {
  const model = column.dataset.modelName;
  if (frame.status === "failed") {
    announce(interpolate(gettext("%(model)s failed: %(error)s"), { model, error: frame.error }, true));
  } else if (frame.status === "cancelled") {
    announce(interpolate(gettext("%(model)s was stopped."), { model }, true));
  } else {
    announce(interpolate(gettext("%(model)s has finished its reply."), { model }, true));
  }
}

function onFinal(column, frame) {
  state.get(column).seen = frame.seq;
  column.dataset.status = frame.status;
  column.removeAttribute("aria-busy");
  column.querySelector(".content").textContent = frame.text;
  renderPending.delete(column);
  replyRender(column);
  const error = column.querySelector(".error");
  error.textContent = frame.error;
  error.hidden = !frame.error;
  statsShow(column, frame);
  finalAnnounce(column, frame);
  refreshControls();
  state.get(column).socket.close(); // nothing more will come for this reply
}

function onFrame(column, frame) {
  if (frame.reply_id !== undefined && frame.reply_id !== replyId(column)) return;
  if (frame.type === "delta") onDelta(column, frame);
  else if (frame.type === "final") onFinal(column, frame);
  else if (frame.type === "error") showError(frame.error);
}

// --- one websocket per column still being written ------------------------------------------
function resume(column) {
  const entry = state.get(column);
  if (entry.seen === 0) {
    // The stream starts over from its first frame: drop what the page brought.
    column.querySelector(".content").textContent = "";
    replyRender(column);
  }
  entry.socket.send({ type: "resume", reply_id: replyId(column), after_seq: entry.seen });
}

function connect(column) {
  state.get(column).socket = conversationSocket(column.dataset.conversationId, {
    onOpen: () => resume(column),
    onFrame: (frame) => onFrame(column, frame),
    onRefused: showError,
    wanted: () => isActive(column), // resumes after the last frame shown
  });
}

function stopAll() {
  for (const column of columns.filter(isActive)) {
    state.get(column).socket.send({ type: "stop", reply_id: replyId(column) });
  }
}

stopButton.addEventListener("click", stopAll);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || event.defaultPrevented || !columns.some(isActive)) return;
  event.preventDefault();
  stopAll();
});
root.addEventListener("click", async (event) => {
  const button = event.target.closest(".copy-code");
  if (button) {
    announce((await codeCopy(button)) ? gettext("Code copied.") : gettext("Could not copy the code."));
  }
});

for (const column of columns) {
  replyRender(column);
  statsFromPage(column);
  if (isActive(column)) {
    state.set(column, { socket: null, seen: 0 });
    connect(column);
  }
}
refreshControls();
