// Nodes and replicas, live. The server sends the whole cluster whenever it changes (at most
// once a second); each message redraws the tables the page rendered. On a model card only
// that model's replicas are shown. Names come from users: set as text, never as HTML.
const nodesBody = document.querySelector("#nodes tbody");
const replicasTable = document.getElementById("replicas");
const liveStatus = document.getElementById("live-status");
const modelId = replicasTable.dataset.modelId ? Number(replicasTable.dataset.modelId) : null;
const NODE_COLUMNS = 10;
const RECONNECT_MS = 2000;

// gettext(), pgettext(), interpolate() and get_format() come from the page's
// JavaScript catalog (base.html), in the page's language.

// Placement.State's labels, as registry_words.py words them.
const STATE_LABELS = {
  pending: gettext("Waiting for the node"),
  pulling: gettext("Downloading"),
  loading: gettext("Loading"),
  ready: gettext("Serving"),
  failed: gettext("Failed"),
};

// Worded as models_registry/templatetags/registry_words.py words the first render.
function decimal(number) {
  return number.toFixed(1).replace(".", get_format("DECIMAL_SEPARATOR"));
}

function bytesInWords(size) {
  const units = [[pgettext("bytes", "GB"), 1e9], [pgettext("bytes", "MB"), 1e6], [pgettext("bytes", "kB"), 1e3]];
  for (const [unit, scale] of units) {
    if (size >= scale) return `${decimal(size / scale)} ${unit}`;
  }
  const count = size || 0;
  return interpolate(ngettext("%(count)s byte", "%(count)s bytes", count), { count }, true);
}

function rateWords(bytesPerSecond) {
  return interpolate(gettext("%(rate)s MB/s"), { rate: decimal((bytesPerSecond || 0) / 1e6) }, true);
}

function etaWords(seconds) {
  if (seconds === null || seconds === undefined) return gettext("time left unknown");
  const s = Math.round(seconds);
  if (s < 60) return interpolate(gettext("%(s)s s left"), { s }, true);
  if (s < 3600) {
    return interpolate(gettext("%(min)s min %(s)s s left"), { min: Math.floor(s / 60), s: s % 60 }, true);
  }
  const parts = { h: Math.floor(s / 3600), min: Math.floor((s % 3600) / 60) };
  return interpolate(gettext("%(h)s h %(min)s min left"), parts, true);
}

function gpuWords(gpu) {
  const parts = { name: gpu.name || "GPU", free: bytesInWords(gpu.memory_free || 0), total: bytesInWords(gpu.memory_total || 0) };
  return interpolate(gettext("%(name)s: %(free)s free of %(total)s"), parts, true);
}

function ofWords(done, total) {
  return interpolate(gettext("%(done)s of %(total)s"), { done, total }, true);
}

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

function emptyRow(columns, text) {
  const row = element("tr", undefined, "empty");
  const cell = element("td", text);
  cell.colSpan = columns;
  row.append(cell);
  return row;
}

function nodeStateCell(node) {
  const cell = element("td");
  cell.append(element("span", node.ready ? gettext("ready") : gettext("not ready"), `pill ${node.ready ? "ready" : "not-ready"}`));
  if (!node.accepts_placements) {
    cell.append(" ", element("small", gettext("pinned: takes no new replicas"), "pinned"));
  }
  return cell;
}

function gpusCell(gpus) {
  const cell = element("td");
  if (!gpus.length) cell.textContent = gettext("none");
  for (const gpu of gpus) cell.append(element("div", gpuWords(gpu)));
  return cell;
}

function nodeRow(node) {
  const row = element("tr");
  row.dataset.name = node.name;
  const name = element("th", node.name);
  name.scope = "row";
  const load = element("td", `${node.active_tasks} / ${node.task_slots}`, "number");
  load.title = gettext("replies being written / replies it can write at once");
  row.append(
    name,
    nodeStateCell(node),
    element("td", node.host),
    element("td", String(node.cpu_count), "number"),
    element("td", bytesInWords(node.ram_bytes), "number"),
    gpusCell(node.gpus),
    element("td", bytesInWords(node.disk_free_bytes), "number"),
    element("td", node.models.join(", ") || gettext("nothing")),
    load,
    element("td", ofWords(bytesInWords(node.free_bytes), bytesInWords(node.capacity_bytes)), "number"),
  );
  return row;
}

function pullElement(progress) {
  const box = element("div", undefined, "pull");
  const bar = element("progress");
  let done = bytesInWords(progress.done);
  if (progress.total) {
    bar.max = progress.total;
    bar.value = progress.done;
    done = ofWords(done, bytesInWords(progress.total));
  }
  box.append(bar, element("small", `${done} · ${rateWords(progress.rate)} · ${etaWords(progress.eta)}`));
  return box;
}

function replicaStateCell(placement) {
  const cell = element("td", undefined, "state");
  cell.append(element("span", STATE_LABELS[placement.state] || placement.state, "state-label"));
  if (placement.state === "pulling" && placement.progress) cell.append(pullElement(placement.progress));
  if (placement.state === "failed" && placement.error) cell.append(element("p", placement.error, "error"));
  return cell;
}

function modelCell(placement) {
  const link = element("a", placement.model);
  link.href = replicasTable.dataset.cardUrl.replace(/\/0\/$/, `/${placement.model_id}/`);
  const cell = element("td");
  cell.append(link);
  return cell;
}

function replicaRow(placement) {
  const row = element("tr");
  row.dataset.id = placement.id;
  row.dataset.state = placement.state;
  if (modelId === null) row.append(modelCell(placement));
  row.append(
    element("td", placement.node),
    element("td", String(placement.slots), "number"),
    element("td", bytesInWords(placement.memory_bytes), "number"),
    replicaStateCell(placement),
  );
  return row;
}

function render(cluster) {
  if (nodesBody) {
    const rows = cluster.nodes.map(nodeRow);
    nodesBody.replaceChildren(...(rows.length ? rows : [emptyRow(NODE_COLUMNS, gettext("No node has reported yet: start a worker."))]));
  }
  const placements = cluster.placements.filter((p) => modelId === null || p.model_id === modelId);
  const rows = placements.map(replicaRow);
  const columns = modelId === null ? 5 : 4;
  replicasTable.tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(columns, gettext("No replica is placed."))]));
}

function statusShow(text) {
  // Only on a change of connection state: a screen reader reads every new text aloud.
  if (liveStatus && liveStatus.textContent !== text) liveStatus.textContent = text;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/cluster/`);
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.type !== "cluster") return;
    render(data);
    statusShow(gettext("Live: changes show as they happen."));
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) {
      statusShow(gettext("Your session has ended. Log in again to see live changes."));
    } else if (event.code === 4403) {
      statusShow(gettext("Only staff see live changes."));
    } else {
      statusShow(gettext("Connection lost; reconnecting…"));
      setTimeout(connect, RECONNECT_MS);
    }
  });
}

connect();
