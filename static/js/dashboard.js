import { anomalyShapes, call, draw, whenPlotly } from "./panels.js";

// A dashboard: each panel runs its query through POST /api/v1/query and is drawn with Plotly
// (line, area, bar, gauge, heatmap), as a big number (stat) or as a table. Refreshes patch the
// charts in place. Editors move panels by their handle and resize them by the corner; the layout
// saves itself 500 ms after the last change and is rolled back, with a message, if saving fails.

const grid = document.getElementById("dashboard");
const project = Number(grid.dataset.project);
const dashboardId = grid.dataset.dashboard;
const canEdit = grid.hasAttribute("data-can-edit");
const panels = new Map(JSON.parse(document.getElementById("panels-data").textContent)
  .map((p) => [String(p.id), p]));
const PUBLIC_BASE_EARLY = grid.dataset.publicBase;
const ZOOM_FROM = new URLSearchParams(location.search).get("from");
const ZOOM_TO = new URLSearchParams(location.search).get("to");
const START = ZOOM_FROM || `now-${grid.dataset.range}`;
const END = ZOOM_TO || "now";
const REFRESH_MS = { off: 0, "5s": 5000, "10s": 10000, "30s": 30000, "1m": 60000 }[
  grid.dataset.refresh];
const COLUMNS = 12;
const params = new URLSearchParams(location.search);
const VARIABLES = Object.fromEntries([...document.querySelectorAll("[data-variable]")].map(
  (select) => {
    const chosen = params.getAll(`var-${select.dataset.variable}`);
    return [select.dataset.variable, chosen.length ? chosen : null];
  }));
const ROW_PX = 64;
// -- drawing --------------------------------------------------------------------------------------
// -- annotations ----------------------------------------------------------------------------------
let marks = [];

async function loadAnnotations() {
  if (PUBLIC_BASE_EARLY) return;
  const query = new URLSearchParams({ start: START, end: END, dashboard: dashboardId });
  try {
    marks = await call("GET", `/api/v1/projects/${project}/annotations/?${query}`);
  } catch {
    marks = [];
  }
}

// Alert firing periods (GET /api/v1/projects/<id>/alert-events/?status=firing) are drawn as red
// bands on the panels whose query is the rule's, and a FIRING badge marks a panel while one of
// its rules fires; the WebSocket says when alert states change.
let firing = [];

async function loadFiring() {
  if (PUBLIC_BASE_EARLY) return;
  const query = new URLSearchParams({ start: START, end: END, status: "firing" });
  try {
    firing = await call("GET", `/api/v1/projects/${project}/alert-events/?${query}`);
  } catch {
    firing = [];
  }
  for (const [id, panel] of panels) {
    const section = grid.querySelector(`[data-panel="${id}"]`);
    const open = firing.some((f) => f.query === panel.query && !f.resolved_at);
    let badge = section.querySelector(".panel-alert");
    if (open && !badge) {
      badge = Object.assign(document.createElement("span"),
        { className: "badge state-firing panel-alert", textContent: "Firing" });
      section.querySelector(".panel-head").append(badge);
    } else if (!open && badge) {
      badge.remove();
    }
  }
}

function alertShapes(panel) {
  return firing.filter((f) => f.query === panel.query).map((f) => ({
    type: "rect", xref: "x", yref: "paper", x0: new Date(f.triggered_at),
    x1: f.resolved_at ? new Date(f.resolved_at) : new Date(), y0: 0, y1: 1,
    fillcolor: "rgba(224, 49, 49, 0.13)", line: { width: 0 }, layer: "below" }));
}

function markLayout(panel) {
  const shapes = marks.map((m) => (m.ends_at
    ? { type: "rect", xref: "x", yref: "paper", x0: new Date(m.at), x1: new Date(m.ends_at),
      y0: 0, y1: 1, fillcolor: "rgba(232, 89, 12, 0.12)", line: { width: 0 }, layer: "below" }
    : { type: "line", xref: "x", yref: "paper", x0: new Date(m.at), x1: new Date(m.at), y0: 0,
      y1: 1, line: { color: "#e8590c", width: 1.5, dash: "dot" } }));
  const labels = marks.map((m) => ({ x: new Date(m.at), xref: "x", yref: "paper", y: 1,
    yanchor: "bottom", text: "▾", hovertext: m.text, showarrow: false,
    font: { color: "#e8590c", size: 12 }, captureevents: true }));
  return { shapes: [...shapes, ...(panel ? alertShapes(panel) : [])], annotations: labels };
}

// -- anomaly band ---------------------------------------------------------------------------------
// A line or area panel with the option anomaly_band draws the band and the anomalies of the
// project's anomaly model whose query is the panel's (ml's API: the models list, the model's
// predictions and its anomalies over the panel's range). No such model: a note, not an error.
let models = null;

function headNote(id, kind, text) {
  // A short note beside the panel's title (kind: band-note, compare-note); none without text.
  const head = grid.querySelector(`[data-panel="${id}"] .panel-head`);
  let note = head.querySelector(`.${kind}`);
  if (text && !note) {
    note = Object.assign(document.createElement("span"), { className: `muted ${kind}` });
    head.querySelector("h2").after(note);
  }
  if (note && text) note.textContent = note.title = text;
  else if (note) note.remove();
}

async function loadBand(panel, fresh) {
  const options = panel.options || {};
  if (PUBLIC_BASE || !options.anomaly_band || !["line", "area"].includes(panel.type)) return null;
  try {
    models ||= call("GET", `/api/v1/projects/${project}/anomaly-models/`);
    const model = (await models).find((m) => m.query === panel.query);
    if (!model) return { note: "No anomaly model has this query." };
    const end = fresh && !ZOOM_TO ? new Date().toISOString() : END;
    const [predictions, anomalies] = await Promise.all([
      call("GET", `/api/v1/anomaly-models/${model.id}/predictions/?${
        new URLSearchParams({ start: START, end })}`),
      call("GET", `/api/v1/projects/${project}/anomalies/?${new URLSearchParams(
        { model: model.id, start: START, end, include_dismissed: false })}`)]);
    return { model, series: predictions.series, anomalies, note: "" };
  } catch (error) {
    models = null;  // asked again next time
    return { note: `Anomaly band: ${error.message}` };
  }
}

function zoomTo(event) {
  // Drag-to-zoom on a time chart narrows the range of the whole dashboard (kept in the URL).
  const from = event["xaxis.range[0]"];
  const to = event["xaxis.range[1]"];
  if (!from || !to) return;
  const next = new URLSearchParams(location.search);
  next.set("from", new Date(from).toISOString());
  next.set("to", new Date(to).toISOString());
  next.set("refresh", "off");
  location.search = next.toString();
}

// -- custom range ---------------------------------------------------------------------------------
// Two local date-times; the URL keeps them as UTC instants (from / to), like a zoom does.
function localInput(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function setUpCustomRange() {
  const from = document.getElementById("range-from");
  const to = document.getElementById("range-to");
  if (!from) return;
  const now = new Date();
  from.value = localInput(ZOOM_FROM ? new Date(ZOOM_FROM) : new Date(now - 3600000));
  to.value = localInput(ZOOM_TO ? new Date(ZOOM_TO) : now);
  document.getElementById("range-apply").addEventListener("click", () => {
    const error = document.getElementById("range-error");
    const a = new Date(from.value);
    const b = new Date(to.value);
    let problem = "";
    if (!from.value || Number.isNaN(a.getTime())) problem = "From: enter a date and time.";
    else if (!to.value || Number.isNaN(b.getTime())) problem = "To: enter a date and time.";
    else if (a >= b) problem = "From must be before To.";
    error.textContent = problem;
    error.hidden = !problem;
    if (problem) return;
    const next = new URLSearchParams(location.search);
    next.set("from", a.toISOString());
    next.set("to", b.toISOString());
    next.set("refresh", "off");
    location.search = next.toString();
  });
}

setUpCustomRange();

let annotating = false;

async function annotateAt(event) {
  if (!annotating || !event.points || !event.points.length) return;
  const text = window.prompt("Annotation (a deploy, an incident …)");
  if (!text) return;
  try {
    await call("POST", `/api/v1/projects/${project}/annotations/`,
      { text, at: new Date(event.points[0].x).toISOString(), dashboard: Number(dashboardId) });
  } catch (error) {
    showLayoutError(`Could not add the annotation: ${error.message}`);
    return;
  }
  toggleAnnotating(false);
  await loadAnnotations();
  await refreshAll();
}

function toggleAnnotating(on) {
  annotating = on;
  const button = document.getElementById("annotate");
  if (button) {
    button.setAttribute("aria-pressed", String(on));
    button.textContent = on ? "Click a chart…" : "Add annotation";
  }
  grid.classList.toggle("annotating", on);
}

document.getElementById("annotate")?.addEventListener("click", () => toggleAnnotating(!annotating));

const PUBLIC_BASE = grid.dataset.publicBase;

// A line, area or bar panel with the option compare is asked through its data endpoint, which
// adds the overlay (the same query one period earlier) to the answer.
const comparing = (panel) => ["previous_period", "1d", "1w"].includes((panel.options || {}).compare)
  && ["line", "area", "bar"].includes(panel.type);

function ask(panel, fresh = false) {
  // A live update asks up to this instant (an absolute end), past the 10 s answer cache.
  const end = fresh && !ZOOM_TO && !PUBLIC_BASE ? new Date().toISOString() : END;
  if (!PUBLIC_BASE && !comparing(panel)) {
    return call("POST", "/api/v1/query",
      { project, query: panel.query, start: START, end, variables: VARIABLES });
  }
  // A panel's endpoint (a public link's too) runs its own stored query: only range and
  // variables go with it.
  const query = new URLSearchParams({ start: START, end });
  for (const [name, values] of Object.entries(VARIABLES)) {
    for (const value of values || []) query.append(`var-${name}`, value);
  }
  return call("GET", PUBLIC_BASE ? `${PUBLIC_BASE}panels/${panel.id}/?${query}`
    : `/api/v1/panels/${panel.id}/data/?${query}`);
}

async function refresh(id, fresh = false) {
  const panel = panels.get(id);
  const body = grid.querySelector(`[data-panel="${id}"] .panel-body`);
  const mine = (panel.asked = (panel.asked || 0) + 1);
  try {
    const [answer, band] = await Promise.all([ask(panel, fresh), loadBand(panel, fresh)]);
    if (mine !== panel.asked) return;  // a newer answer for this panel is on its way
    lastUpdate = Date.now();
    const timeLayout = markLayout(panel);
    if (band && band.anomalies) timeLayout.shapes.push(...anomalyShapes(band));
    if (band) headNote(id, "band-note", band.note);
    headNote(id, "compare-note", answer.compare && answer.compare.error
      ? `Compare: ${answer.compare.error}` : "");
    draw(panel, body, answer, { timeLayout, band, onPlot: (target) => {
      target.on("plotly_relayout", zoomTo);
      if (canEdit) target.on("plotly_click", annotateAt);
    } });
  } catch (error) {
    body.replaceChildren(Object.assign(document.createElement("p"),
      { className: "panel-status error", textContent: error.message }));
  }
}

function refreshAll() {
  return Promise.all([...panels.keys()].map(refresh));
}

// -- layout ---------------------------------------------------------------------------------------
let saved = snapshot();
let saveTimer = 0;

function snapshot() {
  return [...panels.values()].map(({ id, x, y, w, h }) => ({ id, x, y, w, h }));
}

function place(panel) {
  const el = grid.querySelector(`[data-panel="${panel.id}"]`);
  el.style.gridColumn = `${panel.x + 1} / span ${panel.w}`;
  el.style.gridRow = `${panel.y + 1} / span ${panel.h}`;
}

function overlaps(moving) {
  for (const other of panels.values()) {
    if (other.id === moving.id) continue;
    if (moving.x < other.x + other.w && other.x < moving.x + moving.w
        && moving.y < other.y + other.h && other.y < moving.y + moving.h) return true;
  }
  return false;
}

function showLayoutError(message) {
  const box = document.getElementById("layout-error");
  box.textContent = message;
  box.hidden = !message;
}

function scheduleSave() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(async () => {
    const layout = snapshot();
    try {
      await call("PUT", `/api/v1/dashboards/${dashboardId}/layout/`, layout);
      saved = layout;
      showLayoutError("");
    } catch (error) {
      for (const item of saved) Object.assign(panels.get(String(item.id)), item);
      for (const panel of panels.values()) place(panel);
      showLayoutError(`Could not save the layout (${error.message}); it was put back.`);
    }
    grid.dataset.saves = String(Number(grid.dataset.saves || 0) + 1);
  }, 500);
}

function cellAt(event) {
  const box = grid.getBoundingClientRect();
  const column = (box.width + 12) / COLUMNS;
  return { col: Math.floor((event.clientX - box.left) / column),
    row: Math.floor((event.clientY - box.top) / (ROW_PX + 12)) };
}

function startDrag(event, id, mode) {
  event.preventDefault();
  const panel = panels.get(id);
  const origin = { ...panel };
  const start = cellAt(event);
  const el = grid.querySelector(`[data-panel="${id}"]`);
  el.classList.add("dragging");
  const move = (moved) => {
    const at = cellAt(moved);
    const next = { ...panel };
    if (mode === "move") {
      next.x = Math.min(COLUMNS - panel.w, Math.max(0, origin.x + at.col - start.col));
      next.y = Math.max(0, origin.y + at.row - start.row);
    } else {
      next.w = Math.min(COLUMNS - panel.x, Math.max(1, origin.w + at.col - start.col));
      next.h = Math.min(24, Math.max(1, origin.h + at.row - start.row));
    }
    if (!overlaps(next)) {
      Object.assign(panel, next);
      place(panel);
    }
  };
  const stop = () => {
    el.classList.remove("dragging");
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", stop);
    if (["x", "y", "w", "h"].some((k) => panel[k] !== origin[k])) {
      scheduleSave();
      if (mode === "resize" && window.Plotly) {
        const plot = el.querySelector(".plot");
        if (plot) window.Plotly.Plots.resize(plot);
      }
    }
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", stop);
}

if (canEdit) {
  grid.addEventListener("pointerdown", (event) => {
    const section = event.target.closest("[data-panel]");
    if (!section) return;
    if (event.target.closest(".panel-drag")) startDrag(event, section.dataset.panel, "move");
    else if (event.target.closest(".panel-resize")) startDrag(event, section.dataset.panel, "resize");
  });
}

// -- live updates ---------------------------------------------------------------------------------
// The project's WebSocket says which panels got new data (at most once a second each); they are
// asked again. The page counts as connected when the server says hello (a proxy may accept a
// socket and pass nothing). After a drop it reconnects with backoff and asks every panel again,
// so what arrived meanwhile is drawn and the chart has no gap. When sockets keep failing
// (blocked by a proxy) it polls at the refresh interval (10 s when refresh is off) meanwhile.
let lastUpdate = 0;
let socket = null;
let retries = 0;
let everConnected = false;
let polling = 0;
const state = document.getElementById("live-state");
const POLL_AFTER_RETRIES = 3;
const FAILED_AFTER_RETRIES = 6;

function setState(name, label) {
  if (!state) return;
  state.dataset.state = name;
  state.querySelector(".label").textContent = label;
}

function startPolling() {
  if (!polling) polling = setInterval(() => refreshAll(), REFRESH_MS || 10000);
}

function stopPolling() {
  clearInterval(polling);
  polling = 0;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${project}/`);
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ type: "subscribe", panels: [...panels.keys()].map(Number) }));
  });
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "hello") {
      if (everConnected) refreshAll();  // catch up what arrived while disconnected
      everConnected = true;
      retries = 0;
      stopPolling();
      setState("connected", "Live");
    } else if (data.type === "alerts") {
      loadFiring().then(refreshAll);
    } else if (data.type === "panels") {
      for (const id of data.panels) if (panels.has(String(id))) refresh(String(id), true);
    }
  });
  socket.addEventListener("close", (closed) => {
    if (closed.code === 4401 || closed.code === 4404) {
      setState("failed", "Not allowed");
      return;
    }
    retries += 1;
    if (retries >= POLL_AFTER_RETRIES) startPolling();
    const delay = Math.min(30000, 500 * 2 ** retries);
    if (retries >= FAILED_AFTER_RETRIES) {
      setState("failed", `Live updates failed: polling every ${(REFRESH_MS || 10000) / 1000} s`);
    } else {
      setState("reconnecting", `Reconnecting in ${Math.round(delay / 1000)} s…`);
    }
    setTimeout(connect, delay);
  });
}

function tick() {
  if (!state || !lastUpdate) return;
  const seconds = Math.round((Date.now() - lastUpdate) / 1000);
  const age = state.querySelector(".age");
  age.textContent = `updated ${seconds} s ago`;
  age.classList.toggle("stale", seconds > 30 && state.dataset.state !== "connected");
}

whenPlotly().then(() => Promise.all([loadAnnotations(), loadFiring()])).then(refreshAll)
  .then(() => {
    grid.dataset.drawn = "true";
    performance.mark("dashboard-drawn");  // bench/live.py reads it: ms since navigation start
  });
if (REFRESH_MS) setInterval(refreshAll, REFRESH_MS);
if (!PUBLIC_BASE && !ZOOM_TO) connect();
else setState("paused", ZOOM_TO ? "Zoomed: not live" : "Not live");
setInterval(tick, 1000);
