// The panel editor: the query (a builder beside the text, query_builder.js) with a live preview (debounced, through POST /api/v1/query) and
// the engine's messages in place — for a syntax error, the position marked under the query.
// Saving goes through the panels API; its errors show beside the form.

import { call, draw, whenPlotly } from "./panels.js";
import { mountQueryBuilder } from "./query_builder.js";

const root = document.getElementById("editor");
const form = document.getElementById("panel-form");
const preview = document.getElementById("preview");
const meta = document.getElementById("preview-meta");
const queryError = document.getElementById("query-error");
const saveError = document.getElementById("save-error");
const project = Number(root.dataset.project);
const dashboardId = root.dataset.dashboard;
const initial = JSON.parse(document.getElementById("panel-data").textContent);

function fill(panel) {
  const options = panel.options || {};
  form.title.value = panel.title || "";
  form.type.value = panel.type || "line";
  form.query.value = panel.query || "";
  form.unit.value = options.unit || "";
  if (options.color) form.color.value = options.color;
  form.calculation.value = options.calculation || "last";
  form.min.value = options.min ?? "";
  form.max.value = options.max ?? "";
  form.legend.checked = options.legend !== false;
  form.anomaly_band.checked = options.anomaly_band === true;
  form.compare.value = options.compare || "none";
  form.thresholds.value = (options.thresholds || []).map((t) => `${t.value}:${t.color}`)
    .join(", ");
}

function thresholds(text) {
  return text.split(",").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [value, color] = part.split(":").map((x) => x.trim());
    return { value: Number(value), color };
  });
}

function current() {
  const options = { legend: form.legend.checked, calculation: form.calculation.value };
  if (form.unit.value.trim()) options.unit = form.unit.value.trim();
  if (form.color.value) options.color = form.color.value;
  if (form.min.value !== "") options.min = Number(form.min.value);
  if (form.max.value !== "") options.max = Number(form.max.value);
  if (form.thresholds.value.trim()) options.thresholds = thresholds(form.thresholds.value);
  // The band is drawn on the dashboard (line and area panels), not in this preview.
  if (form.anomaly_band.checked && ["line", "area"].includes(form.type.value)) {
    options.anomaly_band = true;
  }
  // The overlay too is drawn on the dashboard (line, area and bar panels).
  if (form.compare.value !== "none" && ["line", "area", "bar"].includes(form.type.value)) {
    options.compare = form.compare.value;
  }
  return { id: initial.id, title: form.title.value.trim(), type: form.type.value,
    query: form.query.value.trim(), options };
}

function showQueryError(error) {
  if (!error) {
    queryError.hidden = true;
    return;
  }
  queryError.hidden = false;
  queryError.querySelector(".error").textContent = error.message;
  const caret = queryError.querySelector(".caret");
  const position = error.body && error.body.details ? error.body.details.position : undefined;
  if (Number.isInteger(position)) {
    caret.hidden = false;
    caret.textContent = `${form.query.value}\n${" ".repeat(position)}^`;
  } else {
    caret.hidden = true;
  }
}

let timer = 0;
let asked = 0;

async function refreshPreview() {
  const panel = current();
  preview.closest(".panel").dataset.type = panel.type;
  if (!panel.query) return;
  const mine = ++asked;
  try {
    const answer = await call("POST", "/api/v1/query",
      { project, query: panel.query, start: "now-6h", end: "now" });
    if (mine !== asked) return;  // a newer keystroke's answer is on its way
    showQueryError(null);
    draw(panel, preview, answer);
    meta.textContent = `${answer.meta.table} · ${answer.meta.series} series · ` +
      `${answer.meta.resolution} s steps · ${Math.round(answer.meta.took_ms)} ms`;
  } catch (error) {
    if (mine === asked) showQueryError(error);
  }
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(refreshPreview, 400);
}

form.addEventListener("input", schedule);
form.addEventListener("change", schedule);

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const panel = current();
  const body = { title: panel.title, type: panel.type, query: panel.query,
    options: panel.options };
  try {
    if (initial.id) await call("PATCH", `/api/v1/panels/${initial.id}/`, body);
    else await call("POST", `/api/v1/dashboards/${dashboardId}/panels/`, body);
  } catch (error) {
    saveError.hidden = false;
    saveError.textContent = `Not saved: ${error.message}`;
    if (error.body && error.body.code && error.body.code.startsWith("QUERY_")) {
      showQueryError(error);
    }
    return;
  }
  window.location.assign(root.dataset.back);
});

fill(initial);
// The builder writes the textarea (and fires its input event): saving and the preview read it.
mountQueryBuilder(form.query, { project, showError: showQueryError });
whenPlotly().then(refreshPreview);

// Autocompletion in the query box: metric names, tag keys and values, functions.
import { attachAutocomplete } from "./query_autocomplete.js";
attachAutocomplete(form.query, { project });
