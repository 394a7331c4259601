// The metrics explorer: the project's metrics searched by name or description (debounced,
// GET /api/v1/metrics/), the chosen one's definition, tag keys and top values
// (GET /api/v1/metrics/<name>/) and a chart of avg:<name>{} over the last 24 h
// (POST /api/v1/query) with the y-axis labelled with its unit — a query the query builder
// (query_builder.js) or its text mode changes. The chosen metric lives in the URL (?metric=) and
// the chart's query in the "Add to dashboard" and "Create alert" links. Editors
// change the description, unit and type in place (PATCH), each error beside its field.
// Everything shown is set as text.

import { PALETTE, call, escapeText, label, unitOf, valueScale, whenPlotly } from "./panels.js";
import { mountQueryBuilder } from "./query_builder.js";

const root = document.getElementById("metrics");
const project = root.dataset.project;
const search = document.getElementById("metric-search");
const listTable = document.getElementById("metric-list");
const detail = document.getElementById("metric-detail");
const chart = document.getElementById("metric-chart");
const chartStatus = document.getElementById("metric-chart-status");
const editor = document.getElementById("metric-definition");  // editors only
const dashboardChoice = document.getElementById("metric-dashboard");
const addToDashboard = document.getElementById("add-to-dashboard");
const createAlert = document.getElementById("create-alert");
const queryBox = document.getElementById("metric-query-text");
const FIELDS = ["description", "unit", "type"];
const $ = (id) => document.getElementById(id);

let chosen = "";
let query = "";  // what the chart draws: the metric's average until the builder changes it
let listAsked = 0;
let pageAsked = 0;

const queryOf = (name) => `avg:${name}{}`;

function moment(iso) {
  return iso ? `${new Date(iso).toISOString().slice(0, 19).replace("T", " ")} UTC` : "–";
}

function cell(text) {
  return Object.assign(document.createElement("td"), { textContent: text ?? "" });
}

function show(element, text) {
  element.textContent = text;
  element.hidden = !text;
}

// -- the list ---------------------------------------------------------------------------------
function row(metric) {
  const tr = document.createElement("tr");
  tr.dataset.metric = metric.name;
  const name = document.createElement("td");
  name.append(Object.assign(document.createElement("a"), {
    href: `?metric=${encodeURIComponent(metric.name)}`, textContent: metric.name,
    className: "metric-link" }));
  if (metric.description) {
    name.append(Object.assign(document.createElement("div"),
      { className: "muted small", textContent: metric.description }));
  }
  tr.append(name, cell(metric.unit), cell(metric.type), cell(String(metric.series)));
  if (metric.name === chosen) tr.setAttribute("aria-current", "true");
  return tr;
}

function markChosen() {
  for (const tr of listTable.tBodies[0].rows) {
    if (tr.dataset.metric === chosen) tr.setAttribute("aria-current", "true");
    else tr.removeAttribute("aria-current");
  }
}

async function refreshList() {
  const term = search.value.trim();
  const mine = ++listAsked;
  const params = new URLSearchParams({ project, search: term, limit: "200" });
  try {
    const answer = await call("GET", `/api/v1/metrics/?${params}`);
    if (mine !== listAsked) return;  // a newer keystroke's answer is on its way
    show($("metrics-error"), "");
    listTable.tBodies[0].replaceChildren(...answer.results.map(row));
    $("metrics-empty").hidden = answer.results.length > 0;
    $("metrics-count").textContent = answer.results.length === 200
      ? "the first 200 metrics" : `${answer.results.length} metric(s)`;
    root.dataset.search = term;
  } catch (error) {
    if (mine === listAsked) show($("metrics-error"), error.message);
  }
}

let timer = 0;
search.addEventListener("input", () => {
  clearTimeout(timer);
  timer = setTimeout(refreshList, 250);
});

// -- one metric -------------------------------------------------------------------------------
function showField(field, value) {
  const element = $(`metric-${field}`);
  if (element.tagName === "DD") element.textContent = value || "–";
  else element.value = value;
}

function showEdited(page) {
  $("metric-edited").textContent = page.edited_by || page.edited_at
    ? `by ${page.edited_by || "someone"}, ${moment(page.edited_at)}` : "–";
}

function showPage(page) {
  for (const field of FIELDS) showField(field, page[field]);
  $("metric-source").textContent = page.source || "–";
  $("metric-first-seen").textContent = moment(page.first_seen);
  $("metric-last-seen").textContent = moment(page.last_seen);
  $("metric-series").textContent = String(page.series);
  showEdited(page);
  const rows = page.tags.map((tag) => {
    const tr = document.createElement("tr");
    tr.dataset.key = tag.key;
    const top = tag.top.map((t) => `${t.value} (${t.series})`);
    if (tag.values > tag.top.length) top.push("…");
    tr.append(cell(tag.key), cell(String(tag.values)), cell(top.join(", ")));
    return tr;
  });
  $("metric-tags").tBodies[0].replaceChildren(...rows);
  $("metric-tags-empty").hidden = rows.length > 0;
}

function updateLinks() {
  if (createAlert) {
    createAlert.href = `${createAlert.dataset.base}?${new URLSearchParams({ name: chosen, query })}`;
  }
  if (addToDashboard && dashboardChoice) {
    addToDashboard.href = `${dashboardChoice.value}?${new URLSearchParams({ title: chosen, query })}`;
  }
}

async function drawChart(name) {
  chart.dataset.state = "loading";
  const asked = query;
  let answer;
  try {
    answer = await call("POST", "/api/v1/query",
      { project: Number(project), query: asked, start: "now-24h", end: "now" });
  } catch (error) {
    if (name !== chosen || asked !== query) return;
    window.Plotly.purge(chart);
    chartStatus.className = "panel-status error";
    chartStatus.textContent = error.message;
    chart.dataset.state = "error";
    return;
  }
  if (name !== chosen || asked !== query) return;
  if (!answer.data.length) {
    window.Plotly.purge(chart);
    chartStatus.className = "panel-status muted";
    chartStatus.textContent = answer.meta.notes.join(" ") || "No data in the last 24 hours.";
    chart.dataset.state = "empty";
    return;
  }
  chartStatus.textContent = "";
  // A sparse series (a new metric) shows its points: a lone point draws no line.
  const sparse = (series) => series.points.filter((p) => p[1] !== null).length < 60;
  // In a readable scale of the series' unit (the catalogue's, through the query): 1.2 s.
  const { axisLabel, y, hover } = valueScale(answer.data, unitOf({}, answer.data));
  window.Plotly.react(chart, answer.data.map((series, i) => ({
    type: "scatter", mode: sparse(series) ? "lines+markers" : "lines", name: label(series),
    marker: { size: 5 }, ...hover(series),
    x: series.points.map((p) => new Date(p[0])), y: y(series),
    line: { color: PALETTE[i % PALETTE.length], width: 2 },
  })), { margin: { l: 60, r: 12, t: 8, b: 30 }, height: 300, hovermode: "x unified",
    showlegend: answer.data.length > 1, legend: { orientation: "h", y: -0.2 },
    xaxis: { type: "date", range: [new Date(answer.meta.start), new Date(answer.meta.end)] },
    yaxis: { title: { text: escapeText(axisLabel) }, rangemode: "tozero", fixedrange: true },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", font: { size: 11 } },
  { displayModeBar: false, responsive: true });
  chart.dataset.state = "drawn";
}

async function choose(name, { push = false } = {}) {
  chosen = name;
  if (push) {
    const url = new URL(window.location.href);
    if (name) url.searchParams.set("metric", name);
    else url.searchParams.delete("metric");
    window.history.pushState({ metric: name }, "", url);
  }
  markChosen();
  $("metric-placeholder").hidden = Boolean(name);
  detail.hidden = !name;
  if (!name) return;
  const mine = ++pageAsked;
  detail.dataset.state = "loading";
  $("metric-name").textContent = name;
  query = queryOf(name);
  $("metric-query").textContent = query;
  queryBox.value = query;
  builder.reload();
  for (const box of detail.querySelectorAll(".field-error")) show(box, "");
  if (editor) $("definition-state").textContent = "";
  updateLinks();
  let page;
  try {
    page = await call("GET", `/api/v1/metrics/${encodeURIComponent(name)}/?project=${project}`);
  } catch (error) {
    if (mine !== pageAsked) return;
    show($("metric-error"), error.message);
    $("metric-body").hidden = true;
    detail.dataset.state = "error";
    return;
  }
  if (mine !== pageAsked) return;
  show($("metric-error"), "");
  $("metric-body").hidden = false;
  showPage(page);
  detail.dataset.state = "loaded";
  await whenPlotly();
  if (mine === pageAsked) await drawChart(name);
}

// The chart follows the query box (typed, or written by the builder), debounced.
let queryTimer = 0;
queryBox.addEventListener("input", () => {
  clearTimeout(queryTimer);
  queryTimer = setTimeout(() => {
    const typed = queryBox.value.trim();
    if (!chosen || !typed || typed === query) return;
    query = typed;
    $("metric-query").textContent = query;
    updateLinks();
    whenPlotly().then(() => drawChart(chosen));
  }, 400);
});

listTable.addEventListener("click", (event) => {
  const link = event.target.closest("a.metric-link");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
  event.preventDefault();
  choose(link.closest("tr").dataset.metric, { push: true });
});

window.addEventListener("popstate", () => {
  choose(new URLSearchParams(window.location.search).get("metric") || "");
});

if (dashboardChoice) dashboardChoice.addEventListener("change", updateLinks);

// -- editing the definition (editors) ---------------------------------------------------------
function fieldError(field, text) {
  const box = editor.querySelector(`.field-error[data-error-for="${field}"]`);
  show(box, text);
}

async function save(field, value) {
  const name = chosen;
  const state = $("definition-state");
  fieldError(field, "");
  state.textContent = "Saving…";
  let page;
  try {
    page = await call("PATCH", `/api/v1/metrics/${encodeURIComponent(name)}/?project=${project}`,
      { [field]: value });
  } catch (error) {
    if (name !== chosen) return;
    const details = (error.body && error.body.details) || {};
    const said = details[field];
    fieldError(field, Array.isArray(said) ? said.join(" ") : (said || error.message));
    state.textContent = "";
    return;
  }
  if (name !== chosen) return;
  showField(field, page[field]);
  showEdited(page);
  state.textContent = `Saved ${field}.`;
  const tr = [...listTable.tBodies[0].rows].find((r) => r.dataset.metric === name);
  if (tr && field !== "description") tr.cells[field === "unit" ? 1 : 2].textContent = page[field];
  // The answer carries the unit as the catalogue has it now: drawn again, in its scale.
  if (field === "unit" && chart.dataset.state === "drawn") drawChart(chosen);
}

if (editor) {
  editor.addEventListener("change", (event) => {
    const field = event.target.name;
    if (FIELDS.includes(field) && chosen) save(field, event.target.value);
  });
  // Enter in the unit field saves it (through its change event), never submits the page.
  editor.addEventListener("submit", (event) => event.preventDefault());
}

const builder = mountQueryBuilder(queryBox, { project: Number(project) });
refreshList();
choose(new URLSearchParams(window.location.search).get("metric") || "");
