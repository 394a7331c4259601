// An alert rule's chart: the query over the last 24 h with the threshold (dashed) and where the
// rule fired or would have fired (shaded), from POST /api/v1/projects/<id>/alert-rules/preview/
// — the evaluator's own reducer, condition and `for`. On the rule form the chart follows the
// fields (debounced) and saving goes through the rules API, with each error beside its field.

import { PALETTE, call, escapeText, label, unitOf, valueScale, whenPlotly } from "./panels.js";
import { mountQueryBuilder } from "./query_builder.js";

const data = JSON.parse(document.getElementById("rule-data").textContent);
const chart = document.getElementById("rule-chart");
const editor = document.getElementById("rule-editor");
const form = document.getElementById("rule-form");
const project = Number((editor || chart).dataset.project);
const FIELDS = ["name", "query", "reducer", "window_minutes", "condition", "threshold",
  "for_seconds", "interval_seconds", "severity", "no_data", "renotify_minutes", "message"];
const NUMBERS = new Set(["window_minutes", "threshold", "for_seconds", "interval_seconds",
  "renotify_minutes"]);

function status(text, error = false) {
  chart.replaceChildren(Object.assign(document.createElement("p"),
    { className: `panel-status ${error ? "error" : "muted"}`, textContent: text }));
}

function drawBacktest(answer) {
  if (!answer.fired.length) {
    status(answer.meta.notes.join(" ") || "No data in the last 24 hours.");
    return 0;
  }
  const bands = [];
  for (const fired of answer.fired) {
    for (const [start, end] of fired.periods) {
      bands.push({ type: "rect", xref: "x", yref: "paper", x0: new Date(start),
        x1: new Date(end ?? answer.meta.end), y0: 0, y1: 1, fillcolor: "rgba(224, 49, 49, 0.15)",
        line: { width: 0 }, layer: "below" });
    }
  }
  // In a readable scale of the query's unit (every reducer keeps it), the threshold with it.
  const reduced = answer.fired.map((g) => ({ points: g.reduced }));
  const { divisor, axisLabel, y, hover } = valueScale(
    [...reduced, { points: [[0, answer.threshold]] }], unitOf({}, answer.data));
  const threshold = { type: "line", xref: "paper", x0: 0, x1: 1, y0: answer.threshold / divisor,
    y1: answer.threshold / divisor, line: { color: "#e03131", width: 1.5, dash: "dash" } };
  if (chart.querySelector(".panel-status")) chart.replaceChildren();
  // The line is what the condition compares: the reducer over the window at every bucket.
  const reducer = answer.reducer_label;
  window.Plotly.react(chart, answer.fired.map((g, i) => ({
    type: "scatter", mode: "lines", name: `${label({ tags: g.group, name: reducer })}`,
    x: g.reduced.map((p) => new Date(p[0])), y: y(reduced[i]), ...hover(reduced[i]),
    line: { color: PALETTE[i % PALETTE.length], width: 1.5 },
  })), { margin: { l: 48, r: 12, t: 8, b: 30 }, height: 280, shapes: [threshold, ...bands],
    showlegend: answer.data.length > 1, legend: { orientation: "h", y: -0.2 },
    xaxis: { type: "date", range: [new Date(answer.meta.start), new Date(answer.meta.end)] },
    yaxis: { title: axisLabel ? { text: escapeText(axisLabel) } : undefined, automargin: true },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" },
  { displayModeBar: false, responsive: true });
  chart.dataset.bands = String(bands.length);
  return bands.length;
}

function parseLabels(text) {
  const labels = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at > 0) labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

function current() {
  const rule = {};
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (NUMBERS.has(name)) rule[name] = value === "" ? null : Number(value);
    else rule[name] = value;
  }
  rule.enabled = form.elements.enabled.checked;
  rule.labels = parseLabels(form.elements.labels.value);
  rule.channels = [...form.querySelectorAll("input[name=channels]:checked")]
    .map((box) => Number(box.value));
  if (form.elements.report) {
    rule.report = form.elements.report.value ? Number(form.elements.report.value) : null;
  }
  // An anomaly rule watches its model's query; the others name no model.
  const model = form.elements.anomaly_model.value;
  rule.anomaly_model = rule.condition === "anomaly" && model ? Number(model) : null;
  if (rule.condition === "anomaly") delete rule.query;
  return rule;
}

function fill(rule) {
  for (const name of FIELDS) {
    if (rule[name] !== null && rule[name] !== undefined) form.elements[name].value = rule[name];
  }
  form.elements.enabled.checked = rule.enabled !== false;
  form.elements.labels.value = Object.entries(rule.labels || {}).map(([k, v]) => `${k}=${v}`)
    .join(", ");
  for (const box of form.querySelectorAll("input[name=channels]")) {
    box.checked = (rule.channels || []).includes(Number(box.value));
  }
  if (form.elements.report) form.elements.report.dataset.chosen = rule.report ?? "";
  form.elements.anomaly_model.value = rule.anomaly_model ?? "";
}

function showErrors(error) {
  for (const box of form.querySelectorAll(".field-error")) box.hidden = true;
  const saveError = document.getElementById("save-error");
  saveError.hidden = true;
  if (!error) return;
  const details = (error.body && error.body.details) || {};
  // The engine's errors (QUERY_SYNTAX with a position, QUERY_INVALID) are about the query;
  // validation errors name their field in details.
  const code = (error.body && error.body.code) || "";
  const field = code.startsWith("QUERY") ? "query" : Object.keys(details)[0];
  const box = field && [...form.querySelectorAll(".field-error")]
    .find((p) => p.dataset.errorFor.split(" ").includes(field));
  const target = box || saveError;
  target.textContent = error.message;
  target.hidden = false;
}

async function preview(rule) {
  if (rule.condition === "anomaly") {
    status("An anomaly rule fires on its model's anomalies: the model's page shows them.");
    return;
  }
  if (!rule.query || rule.threshold === null) return;
  try {
    const answer = await call("POST", `/api/v1/projects/${project}/alert-rules/preview/`, rule);
    if (form) showErrors(null);
    const fired = drawBacktest(answer);
    const summary = document.getElementById("backtest-summary");
    if (summary) summary.textContent = fired ? `would have fired ${fired} time(s)` : "would not have fired";
  } catch (error) {
    if (form) showErrors(error);
    else status(error.message, true);
  }
}

await whenPlotly();
if (form) {
  fill(data);
  // The query builder writes the query field; its messages go beside the field.
  mountQueryBuilder(form.elements.query, { project, showError: (error) => {
    const box = form.querySelector('.field-error[data-error-for="query"]');
    box.textContent = error ? error.message : "";
    box.hidden = !error;
  } });
  let timer = 0;
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => preview(current()), 400);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const rule = current();
    try {
      const saved = data.id
        ? await call("PATCH", `/api/v1/alert-rules/${data.id}/`, rule)
        : await call("POST", `/api/v1/projects/${project}/alert-rules/`, rule);
      window.location.assign(`${editor.dataset.list}${saved.id}/`);
    } catch (error) {
      showErrors(error);
    }
  });
  preview(current());
} else {
  preview(data);
}

// Autocompletion in the rule's query box (the form only; the detail page has none).
import { attachAutocomplete } from "./query_autocomplete.js";
if (form) attachAutocomplete(form.elements.query, { project });
