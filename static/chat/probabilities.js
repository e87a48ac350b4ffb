// The token-probability view: a finished reply shown token by token, each tinted by how
// unlikely the model found it; a token opens the candidates the model weighed at that
// step. The tokens come from tokens.json once per reply: [[text, logprob, [[candidate,
// logprob], ...]], ...], best candidate first. Model text only ever goes in textContent.

const replies = new Map(); // reply id -> Promise of its tokens (null: it has none)
const shown = new WeakMap(); // a view's .tokens-text -> the tokens it shows
let conversation = "";
let percentFormat = null;

export function probabilitiesInit(list, conversationId) {
  conversation = conversationId;
  percentFormat = new Intl.NumberFormat(document.documentElement.lang || undefined,
    { style: "percent", maximumFractionDigits: 1 });
  list.addEventListener("click", onClick);
  list.addEventListener("keydown", onKeydown);
}

// Called again each time conversation.js redraws the reply's actions: the button is
// made once per reply element, and shows whether the view is open.
export function probabilitiesAttach(article) {
  let toggle = article.querySelector(".probabilities-toggle");
  if (!toggle) {
    toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "action probabilities-toggle";
    toggle.textContent = gettext("Probabilities");
    toggle.setAttribute("aria-controls", viewId(article));
    const actions = article.querySelector(".message-actions");
    (actions || article).append(toggle);
  }
  toggle.setAttribute("aria-pressed", String(isOpen(article)));
}

function viewId(article) {
  return `tokens-${article.dataset.id}`;
}

function isOpen(article) {
  const view = article.querySelector(".tokens");
  return Boolean(view && !view.hidden);
}

function onClick(event) {
  const toggle = event.target.closest(".probabilities-toggle");
  if (toggle) {
    viewToggle(toggle.closest(".message"), toggle);
    return;
  }
  const token = event.target.closest("button.token");
  if (token) {
    if (token.getAttribute("aria-expanded") === "true") panelClose(token.closest(".tokens"));
    else panelOpen(token);
  } else if (event.target.closest(".token-panel-close")) panelClose(event.target.closest(".tokens"));
}

function onKeydown(event) {
  if (event.key !== "Escape") return;
  const view = event.target.closest(".tokens");
  if (!view || !view.querySelector(".token-panel")) return;
  event.preventDefault(); // closes the panel; the page's Esc would stop a reply
  panelClose(view);
}

// --- the view ------------------------------------------------------------------------------
function viewToggle(article, toggle) {
  const open = !isOpen(article);
  toggle.setAttribute("aria-pressed", String(open));
  const markdown = article.querySelector(".markdown");
  const content = article.querySelector(".content");
  if (open) {
    if (markdown) markdown.hidden = true;
    content.hidden = true;
    viewShow(article);
  } else {
    const view = article.querySelector(".tokens");
    panelClose(view, { refocus: false });
    view.hidden = true;
    // As conversation.js draws a reply: its Markdown, or the plain text when it has none.
    if (markdown) markdown.hidden = false;
    else content.hidden = false;
  }
}

async function viewShow(article) {
  let view = article.querySelector(".tokens");
  if (view) {
    view.hidden = false;
    if (view.dataset.state !== "error") return;
  } else {
    view = document.createElement("div");
    view.className = "tokens";
    view.id = viewId(article);
    view.setAttribute("role", "group");
    view.setAttribute("aria-label", gettext("Token probabilities"));
    article.querySelector(".content").after(view);
  }
  viewMessage(view, "loading", gettext("Loading the token probabilities…"));
  let tokens;
  try {
    tokens = await tokensFetch(article.dataset.id);
  } catch {
    viewMessage(view, "error", gettext("Could not load the token probabilities. Try again."));
    return;
  }
  if (tokens === null) {
    viewMessage(view, "none", gettext("No token probabilities for this reply."));
  } else {
    view.dataset.state = "ready";
    view.replaceChildren(legend(), tokenText(tokens));
  }
}

function viewMessage(view, state, text) {
  const message = document.createElement("p");
  message.className = "tokens-message";
  message.textContent = text;
  view.dataset.state = state;
  view.replaceChildren(message);
}

function tokensFetch(replyId) {
  if (!replies.has(replyId)) {
    const url = `/chat/c/${conversation}/m/${replyId}/tokens.json`;
    const request = fetch(url, { headers: { Accept: "application/json" } }).then(async (response) => {
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`tokens.json answered ${response.status}`);
      return (await response.json()).tokens;
    });
    // A failure is not kept: the next try asks again.
    request.catch(() => replies.delete(replyId));
    replies.set(replyId, request);
  }
  return replies.get(replyId);
}

function legend() {
  const box = document.createElement("p");
  box.className = "tokens-legend";
  const likely = document.createElement("span");
  likely.textContent = gettext("likely");
  const scale = document.createElement("span");
  scale.className = "tokens-scale";
  scale.setAttribute("aria-hidden", "true");
  const unlikely = document.createElement("span");
  unlikely.textContent = gettext("unlikely");
  const help = document.createElement("span");
  help.className = "tokens-help";
  help.textContent = gettext("The stronger a token’s shade, the less likely the model found it. Select a token to see the candidates it weighed.");
  box.append(likely, scale, unlikely, help);
  return box;
}

function tokenText(tokens) {
  const text = document.createElement("div");
  text.className = "tokens-text";
  tokens.forEach(([token, logprob], index) => {
    const probability = Math.exp(logprob);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "token";
    button.dataset.index = index;
    // A newline shows as ↵ in its button; the line still breaks after it.
    button.textContent = invisible(token) ? codePoints(token) : token.replaceAll("\n", "↵") || "∅";
    button.style.setProperty("--unlikely", (1 - probability).toFixed(3));
    button.setAttribute("aria-label", interpolate(gettext("%(token)s, %(probability)s"),
      { token: tokenName(token), probability: percent(probability) }, true));
    button.setAttribute("aria-haspopup", "dialog");
    button.setAttribute("aria-expanded", "false");
    text.append(button);
    const breaks = token.split("\n").length - 1;
    if (breaks) text.append("\n".repeat(breaks));
  });
  shown.set(text, tokens);
  return text;
}

// What a screen reader says for a token, and the panel's title: blank ones get a name.
function tokenName(token) {
  if (token === "") return gettext("empty token");
  if (token === " ") return gettext("space");
  if (/^\n+$/.test(token)) return gettext("new line");
  if (!token.trim()) return gettext("blank space");
  return invisible(token) ? codePoints(token) : token;
}

// A candidate as the panel shows it: blank ones made visible (␣ for a space).
function visible(token) {
  if (token === "") return "∅";
  if (invisible(token)) return codePoints(token);
  const shown = token.replaceAll("\n", "↵");
  return shown.trim() ? shown : shown.replaceAll(" ", "␣").replaceAll("\t", "⇥");
}

// Characters that draw nothing on their own: controls, format characters, a lone
// variation selector (U+FE0F comes up as a candidate after emoji-like tokens).
function invisible(token) {
  return /^[\p{Cc}\p{Cf}\p{Mn}]+$/u.test(token) && !/^\s+$/.test(token);
}

function codePoints(token) {
  return [...token].map((c) => `U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`)
    .join(" ");
}

function percent(probability) {
  if (probability > 0 && probability < 0.001) {
    return interpolate(gettext("under %s"), [percentFormat.format(0.001)]);
  }
  return percentFormat.format(probability);
}

// --- the candidates panel -------------------------------------------------------------------
function panelOpen(button) {
  const view = button.closest(".tokens");
  panelClose(view, { refocus: false });
  const [token, logprob, candidates] = shown.get(button.parentElement)[Number(button.dataset.index)];
  const panel = document.createElement("div");
  panel.className = "token-panel";
  panel.id = `${view.id}-panel`;
  panel.setAttribute("role", "dialog");
  panel.tabIndex = -1;
  const title = document.createElement("p");
  title.className = "token-panel-title";
  title.id = `${panel.id}-title`;
  title.textContent = interpolate(gettext("Candidates for “%s”"), [tokenName(token)]);
  panel.setAttribute("aria-labelledby", title.id);
  const close = document.createElement("button");
  close.type = "button";
  close.className = "token-panel-close";
  close.textContent = "×";
  close.setAttribute("aria-label", gettext("Close"));
  panel.append(title, close, candidateList(token, logprob, candidates));
  view.append(panel);
  panelPlace(panel, button, view);
  button.setAttribute("aria-expanded", "true");
  button.setAttribute("aria-controls", panel.id);
  button.classList.add("selected");
  panel.focus();
}

function candidateList(token, logprob, candidates) {
  const list = document.createElement("ol");
  list.className = "candidates";
  // The chosen token's text is what it added to the reply: "" or a whole character
  // where a character spans two tokens, which the candidates show alone. Then its
  // logprob, stored as the candidate's, finds it.
  let chosenAt = candidates.findIndex(([candidate]) => candidate === token);
  if (chosenAt < 0) chosenAt = candidates.findIndex(([, value]) => value === logprob);
  candidates.forEach(([candidate, candidateLogprob], index) => {
    list.append(candidateRow(candidate, candidateLogprob, index === chosenAt));
  });
  const chosenListed = chosenAt >= 0;
  // Sampling may pick a token outside the best few: it is shown after them.
  if (!chosenListed) {
    const row = candidateRow(token, logprob, true);
    row.classList.add("outside");
    list.append(row);
  }
  return list;
}

function candidateRow(candidate, logprob, chosen) {
  const probability = Math.exp(logprob);
  const row = document.createElement("li");
  row.className = chosen ? "candidate chosen" : "candidate";
  const text = document.createElement("span");
  text.className = "candidate-token";
  text.textContent = visible(candidate);
  if (!candidate.trim() || invisible(candidate)) text.setAttribute("aria-label", tokenName(candidate));
  const bar = document.createElement("span");
  bar.className = "candidate-bar";
  bar.setAttribute("aria-hidden", "true");
  const fill = document.createElement("span");
  fill.style.width = `${(probability * 100).toFixed(1)}%`;
  bar.append(fill);
  const value = document.createElement("span");
  value.className = "candidate-probability";
  value.textContent = percent(probability);
  const mark = document.createElement("span");
  mark.className = "candidate-chosen";
  mark.setAttribute("aria-hidden", "true");
  row.append(mark, text, bar, value);
  if (chosen) {
    mark.textContent = "✓";
    mark.title = gettext("The model chose this token.");
    const spoken = document.createElement("span");
    spoken.className = "visually-hidden";
    spoken.textContent = gettext("chosen");
    row.append(spoken);
  }
  return row;
}

// Below the token, kept inside the view's width (390 px phones included).
function panelPlace(panel, button, view) {
  const room = view.clientWidth - panel.offsetWidth;
  panel.style.left = `${Math.max(0, Math.min(button.offsetLeft, room))}px`;
  panel.style.top = `${button.offsetTop + button.offsetHeight + 4}px`;
}

function panelClose(view, { refocus = true } = {}) {
  const panel = view?.querySelector(".token-panel");
  if (!panel) return;
  const button = view.querySelector('button.token[aria-expanded="true"]');
  panel.remove();
  button.setAttribute("aria-expanded", "false");
  button.removeAttribute("aria-controls");
  button.classList.remove("selected");
  if (refocus) button.focus();
}
