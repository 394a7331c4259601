// The ML pages: a model's chart (its series with the expected band shaded and the anomalies
// marked, from GET /api/v1/anomaly-models/<id>/predictions/), anomalies arriving live over the
// project's WebSocket, and the correlation heat-map (POST /api/v1/projects/<id>/correlations/)
// whose cells open the two series overlaid (lag applied) and their scatter plot. Everything
// user-supplied is written with textContent.

import { PALETTE, call, whenPlotly } from "./panels.js";

const LAYOUT = { margin: { l: 48, r: 12, t: 8, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)", legend: { orientation: "h", y: -0.2 } };
const CONFIG = { displayModeBar: false, responsive: true };

function status(element, text, error = false) {
  element.replaceChildren(Object.assign(document.createElement("p"),
    { className: `panel-status ${error ? "error" : "muted"}`, textContent: text }));
}

function tagsText(tags) {
  return Object.entries(tags || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "all";
}

// -- a model's chart ----------------------------------------------------------------------------
// Each point: [ms, value, expected, lower, upper, score]; an anomaly scores 1 or more.
async function drawModel(chart) {
  let answer;
  try {
    answer = await call("GET", `/api/v1/anomaly-models/${chart.dataset.model}/predictions/`);
  } catch (error) {
    status(chart, error.message, true);
    return;
  }
  await whenPlotly();
  const traces = [];
  let anomalies = 0;
  answer.series.forEach((series, i) => {
    const color = PALETTE[i % PALETTE.length];
    const x = series.points.map((p) => new Date(p[0]));
    const name = tagsText(series.tags);
    traces.push({ x, y: series.points.map((p) => p[3]), mode: "lines", line: { width: 0 },
      hoverinfo: "skip", showlegend: false, name: `${name} lower` });
    traces.push({ x, y: series.points.map((p) => p[4]), mode: "lines", line: { width: 0 },
      fill: "tonexty", fillcolor: "rgba(76, 110, 245, 0.15)", name: `${name} band`,
      hoverinfo: "skip", showlegend: false });
    traces.push({ x, y: series.points.map((p) => p[2]), mode: "lines", name: `${name} expected`,
      line: { color, width: 1, dash: "dot" } });
    traces.push({ x, y: series.points.map((p) => p[1]), mode: "lines", name,
      line: { color, width: 1.5 } });
    const marked = series.points.filter((p) => p[5] !== null && p[5] >= 1);
    anomalies += marked.length;
    traces.push({ x: marked.map((p) => new Date(p[0])), y: marked.map((p) => p[1]),
      mode: "markers", name: `${name} anomalies`, marker: { color: "#e03131", size: 8 } });
  });
  if (!answer.series.length) {
    status(chart, "No data in the last 24 hours.");
    return;
  }
  chart.replaceChildren();
  window.Plotly.react(chart, traces, { ...LAYOUT, height: 320, xaxis: { type: "date" } },
    CONFIG);
  chart.dataset.anomalies = String(anomalies);
  chart.dataset.series = String(answer.series.length);
}

// -- anomalies live -----------------------------------------------------------------------------
function anomalyItem(project, anomaly) {
  const item = document.createElement("li");
  item.className = `anomaly severity-${anomaly.severity}`;
  item.dataset.anomaly = String(anomaly.id);
  const badge = Object.assign(document.createElement("span"),
    { className: `badge severity-${anomaly.severity}`, textContent: anomaly.severity });
  const link = Object.assign(document.createElement("a"), {
    href: `/projects/${project}/ml/anomalies/${anomaly.id}/`,
    textContent: new Date(anomaly.started_at).toISOString().slice(0, 16).replace("T", " ") });
  item.append(badge, " ", link, ` · ${tagsText(anomaly.tags)}`);
  if (anomaly.summary) item.append(` — ${anomaly.summary}`);
  return item;
}

function followAnomalies(section) {
  const project = section.dataset.project;
  const onlyModel = section.dataset.model ? Number(section.dataset.model) : null;
  const list = document.getElementById("anomaly-list");
  const state = document.getElementById("live-state");
  let retries = 0;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${project}/`);
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type === "hello") {
        retries = 0;
        state.textContent = "live";
      } else if (data.type === "anomalies" && (onlyModel === null || data.model === onlyModel)) {
        document.getElementById("no-anomalies")?.remove();
        for (const anomaly of data.anomalies) {
          const item = anomalyItem(project, anomaly);
          const old = list.querySelector(`[data-anomaly="${anomaly.id}"]`);
          if (old) old.replaceWith(item);
          else list.prepend(item);
        }
      }
    });
    socket.addEventListener("close", (event) => {
      state.textContent = "offline";
      if (event.code === 4401 || event.code === 4404) return;
      retries += 1;
      setTimeout(connect, Math.min(30000, 1000 * 2 ** retries));
    });
  }
  connect();
}

// -- correlations -------------------------------------------------------------------------------
function shifted(values, lag) {
  // Series j follows series i by `lag` steps: j's value at t + lag drawn at t.
  return values.map((_, t) => (t + lag >= 0 && t + lag < values.length ? values[t + lag] : null));
}

function drawPair(answer, i, j) {
  const a = answer.series[i];
  const b = answer.series[j];
  const lag = answer.lags[i][j];
  const x = a.points.map((p) => new Date(p[0]));
  const va = a.points.map((p) => p[1]);
  const vb = shifted(b.points.map((p) => p[1]), lag);
  document.getElementById("pair-title").textContent =
    `${a.label} and ${b.label}: r ${answer.matrix[i][j]} at lag ${lag} steps`;
  window.Plotly.react(document.getElementById("pair-overlay"), [
    { x, y: va, mode: "lines", name: a.label, line: { color: PALETTE[0] } },
    { x, y: vb, mode: "lines", name: `${b.label} (lag ${lag})`, yaxis: "y2",
      line: { color: PALETTE[1] } },
  ], { ...LAYOUT, height: 280, xaxis: { type: "date" },
    yaxis2: { overlaying: "y", side: "right" } }, CONFIG);
  const both = va.map((v, t) => [v, vb[t]]).filter(([p, q]) => p !== null && q !== null);
  window.Plotly.react(document.getElementById("pair-scatter"), [
    { x: both.map((p) => p[0]), y: both.map((p) => p[1]), mode: "markers",
      marker: { size: 5, color: PALETTE[2] } },
  ], { ...LAYOUT, height: 280, xaxis: { title: { text: a.label } },
    yaxis: { title: { text: b.label } } }, CONFIG);
}

function correlations(form) {
  const project = form.dataset.project;
  const heatmap = document.getElementById("heatmap");
  const error = document.getElementById("correlation-error");
  async function run() {
    const hours = Number(form.elements.range.value);
    const body = { start: `now-${hours}h`, end: "now", step: Number(form.elements.step.value),
      method: form.elements.method.value, max_lag: Number(form.elements.max_lag.value || 0),
      changes: form.elements.changes.checked };
    const queries = form.elements.queries.value.split("\n").map((q) => q.trim()).filter(Boolean);
    if (form.elements.related_to.value.trim()) body.related_to = form.elements.related_to.value.trim();
    else body.queries = queries;
    error.hidden = true;
    status(heatmap, "Correlating…");
    let answer;
    try {
      answer = await call("POST", `/api/v1/projects/${project}/correlations/`, body);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      status(heatmap, "");
      return;
    }
    await whenPlotly();
    if (answer.series.length < 2) {
      status(heatmap, "Fewer than two series with data in this range.");
      return;
    }
    const labels = answer.series.map((s) => s.label);
    heatmap.replaceChildren();
    window.Plotly.react(heatmap, [{
      type: "heatmap", z: answer.matrix, x: labels, y: labels, zmin: -1, zmax: 1,
      colorscale: "RdBu", reversescale: true,
      text: answer.lags.map((row) => row.map((lag) => `lag ${lag}`)),
      hovertemplate: "%{y}<br>%{x}<br>r %{z:.2f}, %{text}<extra></extra>",
    }], { ...LAYOUT, height: Math.max(320, 28 * labels.length + 120),
      margin: { l: 200, r: 12, t: 8, b: 160 } }, CONFIG);
    heatmap.dataset.series = String(labels.length);
    heatmap.on("plotly_click", (event) => {
      const point = event.points[0];
      drawPair(answer, labels.indexOf(point.y), labels.indexOf(point.x));
    });
    const i = 0;
    const j = answer.matrix[0].reduce((best, r, k) => (k !== 0 && r !== null
      && (best < 0 || Math.abs(r) > Math.abs(answer.matrix[0][best])) ? k : best), -1);
    if (j > 0) drawPair(answer, i, j);
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  if (form.elements.related_to.value.trim()) run();
}

const chart = document.getElementById("model-chart");
if (chart) drawModel(chart);
const section = document.getElementById("anomalies");
if (section) followAnomalies(section);
const form = document.getElementById("correlation-form");
if (form) correlations(form);
