// The report builder: settings, a palette of blocks, the blocks in order (drag ⠿ to reorder:
// saved 500 ms after the last move and put back, with a message, if saving fails), a block
// editor whose query is checked by the engine as you type (its message and position in place),
// and a preview of the whole report as it will be e-mailed. Everything goes through the
// reports API.

import { call } from "./panels.js";

const root = document.getElementById("builder");
const reportId = root.dataset.report;
const report = JSON.parse(document.getElementById("report-data").textContent);
const list = document.getElementById("blocks");
const blockForm = document.getElementById("block-form");
const reportForm = document.getElementById("report-form");
const preview = document.getElementById("preview");
const previewState = document.getElementById("preview-state");
const orderError = document.getElementById("order-error");
let blocks = report.blocks.slice().sort((a, b) => a.position - b.position);
let errors = new Map();  // block id -> the engine's message in the last preview
let editing = null;

const DEFAULTS = {
  kpi: { title: "Events", query: "count:events{}", options: {} },
  chart: { title: "Events by name", query: "count:events{} by {event}", options: { type: "line" } },
  table: { title: "Top events", query: "count:events{} by {event}",
    options: { mode: "breakdown" } },
  text: { title: "", query: "", options: { markdown: "## Notes\n\nWhat happened this period." } },
};

// -- settings -------------------------------------------------------------------------------------
function variablesText(variables) {
  return (variables || []).map((v) => `${v.name}=${v.metric}:${v.tag}` +
    (v.values && v.values.length ? `:${v.values.join("|")}` : "")).join("; ");
}

function parseVariables(text) {
  return text.split(";").map((part) => part.trim()).filter(Boolean).map((part) => {
    const [name, rest = ""] = part.split("=");
    const [metric = "", tag = "", values = ""] = rest.split(":");
    return { name: name.trim(), metric: metric.trim(), tag: tag.trim(),
      values: values.split("|").map((v) => v.trim()).filter(Boolean) };
  });
}

function fillSettings() {
  reportForm.title.value = report.title;
  reportForm.description.value = report.description || "";
  reportForm.range.value = report.range;
  reportForm.timezone.value = report.timezone || "";
  reportForm.compare.checked = report.compare;
  reportForm.custom_start.value = report.custom_start || "";
  reportForm.custom_end.value = report.custom_end || "";
  reportForm.variables.value = variablesText(report.variables);
  toggleCustom();
}

function toggleCustom() {
  reportForm.querySelector(".custom-range-fields").hidden = reportForm.range.value !== "custom";
}

reportForm.range.addEventListener("change", toggleCustom);
reportForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("report-error");
  const body = { title: reportForm.title.value.trim(), description: reportForm.description.value,
    range: reportForm.range.value, timezone: reportForm.timezone.value.trim(),
    compare: reportForm.compare.checked, variables: parseVariables(reportForm.variables.value) };
  if (body.range === "custom") {
    body.custom_start = reportForm.custom_start.value.trim() || null;
    body.custom_end = reportForm.custom_end.value.trim() || null;
  }
  try {
    Object.assign(report, await call("PATCH", `/api/v1/reports/${reportId}/`, body));
    error.hidden = true;
    document.getElementById("report-title-text").textContent = report.title;
    document.getElementById("report-saved").textContent = "Saved.";
    refreshPreview();
  } catch (problem) {
    error.hidden = false;
    error.textContent = `Not saved: ${problem.message}`;
  }
});

// -- the list -------------------------------------------------------------------------------------
function describe(block) {
  if (block.kind === "text") return (block.options.markdown || "").split("\n")[0].slice(0, 60);
  if (block.kind === "product") return block.options.report;
  if (block.kind === "kpi" && block.options.metric) return block.options.metric;
  return block.query;
}

function drawList() {
  list.replaceChildren(...blocks.map((block) => {
    const item = document.createElement("li");
    item.className = "block-item";
    item.dataset.block = block.id;
    item.draggable = true;
    const handle = Object.assign(document.createElement("span"),
      { className: "block-drag", textContent: "⠿", title: "Drag to reorder" });
    const kind = Object.assign(document.createElement("span"),
      { className: `badge block-kind-${block.kind}`, textContent: block.kind });
    const title = Object.assign(document.createElement("button"), { type: "button",
      className: "link block-open", textContent: block.title || describe(block) || "(untitled)" });
    title.addEventListener("click", () => openEditor(block.id));
    const detail = Object.assign(document.createElement("code"),
      { className: "muted small", textContent: describe(block) });
    item.append(handle, kind, title, detail);
    if (errors.has(block.id)) {
      item.append(Object.assign(document.createElement("p"),
        { className: "error small block-error", textContent: errors.get(block.id) }));
    }
    return item;
  }));
}

// -- reordering -----------------------------------------------------------------------------------
let saved = blocks.map((b) => b.id);
let orderTimer = 0;
let dragged = null;

list.addEventListener("dragstart", (event) => {
  dragged = event.target.closest("[data-block]");
  if (!dragged) return;
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", dragged.dataset.block);
  dragged.classList.add("dragging");
});

list.addEventListener("dragover", (event) => {
  if (!dragged) return;
  event.preventDefault();
  const over = event.target.closest("[data-block]");
  if (!over || over === dragged) return;
  const box = over.getBoundingClientRect();
  over.parentNode.insertBefore(dragged, event.clientY > box.top + box.height / 2
    ? over.nextSibling : over);
});

list.addEventListener("drop", (event) => event.preventDefault());

list.addEventListener("dragend", () => {
  if (!dragged) return;
  dragged.classList.remove("dragging");
  dragged = null;
  const order = [...list.querySelectorAll("[data-block]")].map((el) => Number(el.dataset.block));
  const byId = new Map(blocks.map((b) => [b.id, b]));
  blocks = order.map((id) => byId.get(id));
  if (order.join() !== saved.join()) scheduleOrderSave();
});

function scheduleOrderSave() {
  clearTimeout(orderTimer);
  orderTimer = setTimeout(async () => {
    const order = blocks.map((b) => b.id);
    try {
      await call("PUT", `/api/v1/reports/${reportId}/order/`, { order });
      saved = order;
      orderError.hidden = true;
      refreshPreview();
    } catch (problem) {
      const byId = new Map(blocks.map((b) => [b.id, b]));
      blocks = saved.filter((id) => byId.has(id)).map((id) => byId.get(id));
      drawList();
      orderError.hidden = false;
      orderError.textContent = `Could not save the order (${problem.message}); it was put back.`;
    }
    root.dataset.saves = String(Number(root.dataset.saves || 0) + 1);
  }, 500);
}

// -- adding ---------------------------------------------------------------------------------------
document.getElementById("palette").addEventListener("click", async (event) => {
  const button = event.target.closest("[data-add]");
  if (!button) return;
  let [kind, product] = button.dataset.add.split(":");
  let draft = { kind, ...(DEFAULTS[kind] || {}) };
  if (product) {
    draft = { kind: "product", title: button.textContent.trim(), query: "",
      options: { report: product, limit: 10 } };
    kind = "product";
  }
  try {
    const block = await call("POST", `/api/v1/reports/${reportId}/blocks/`, draft);
    blocks.push(block);
    saved = blocks.map((b) => b.id);
    drawList();
    openEditor(block.id);
    refreshPreview();
  } catch (problem) {
    orderError.hidden = false;
    orderError.textContent = `Could not add the block: ${problem.message}`;
  }
});

// -- editing --------------------------------------------------------------------------------------
function openEditor(id) {
  editing = blocks.find((b) => b.id === id);
  if (!editing) return;
  const o = editing.options || {};
  blockForm.hidden = false;
  blockForm.dataset.kind = editing.kind;
  document.getElementById("block-kind").textContent = editing.kind;
  blockForm.title.value = editing.title || "";
  blockForm.query.value = editing.query || "";
  blockForm.type.value = o.type || "line";
  blockForm.mode.value = o.mode || "series";
  blockForm.calculation.value = o.calculation || "";
  blockForm.metric.value = o.metric || "";
  blockForm.unit.value = o.unit || "";
  blockForm.step.value = o.step && o.step !== "auto" ? o.step : "";
  blockForm.markdown.value = o.markdown || "";
  blockForm.limit.value = o.limit || 10;
  for (const el of blockForm.querySelectorAll(".o")) {
    el.hidden = !el.classList.contains(`o-${editing.kind}`);
  }
  blockForm.querySelector(".q").hidden = ["text", "product"].includes(editing.kind);
  showQueryError(null);
  document.getElementById("block-error").hidden = true;
  blockForm.scrollIntoView({ block: "nearest" });
  checkBlock();
}

function draftOf() {
  const kind = editing.kind;
  const options = {};
  const step = blockForm.step.value.trim();
  if (kind === "chart") options.type = blockForm.type.value;
  if (kind === "table") options.mode = blockForm.mode.value;
  if ((kind === "kpi" || kind === "table") && blockForm.calculation.value) {
    options.calculation = blockForm.calculation.value;
  }
  if (kind === "kpi") {
    if (blockForm.metric.value) options.metric = blockForm.metric.value;
    if (blockForm.unit.value.trim()) options.unit = blockForm.unit.value.trim();
  }
  if (["chart", "table", "kpi"].includes(kind) && step) options.step = step;
  if (kind === "text") options.markdown = blockForm.markdown.value;
  if (kind === "product") {
    options.report = editing.options.report;
    options.limit = Number(blockForm.limit.value) || 10;
  }
  return { kind, title: blockForm.title.value.trim(), query: blockForm.query.value.trim(),
    options };
}

function showQueryError(problem) {
  const box = document.getElementById("block-query-error");
  if (!problem) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.querySelector(".error").textContent = problem.error;
  const caret = box.querySelector(".caret");
  const position = problem.details ? problem.details.position : undefined;
  caret.hidden = !Number.isInteger(position);
  if (Number.isInteger(position)) caret.textContent = `${blockForm.query.value}\n${" ".repeat(position)}^`;
}

let checkTimer = 0;
let asked = 0;

async function checkBlock() {
  if (!editing) return;
  const mine = ++asked;
  const meta = document.getElementById("block-meta");
  try {
    const answer = await call("POST", `/api/v1/reports/${reportId}/block-preview/`, draftOf());
    if (mine !== asked) return;  // a newer keystroke's answer is on its way
    showQueryError(answer.error);
    const m = answer.meta || {};
    meta.textContent = answer.error ? "" : [m.table, m.series !== undefined ? `${m.series} series` : "",
      m.resolution ? `${m.resolution} s steps` : "",
      answer.table ? `${answer.table.total ?? answer.table.rows.length} rows` : ""]
      .filter(Boolean).join(" · ");
  } catch (problem) {
    if (mine === asked) showQueryError(problem.body || { error: problem.message });
  }
}

blockForm.addEventListener("input", () => {
  clearTimeout(checkTimer);
  checkTimer = setTimeout(checkBlock, 400);
});

blockForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("block-error");
  const draft = draftOf();
  try {
    const block = await call("PATCH", `/api/v1/report-blocks/${editing.id}/`,
      { title: draft.title, query: draft.query, options: draft.options });
    Object.assign(editing, block);
    error.hidden = true;
    drawList();
    refreshPreview();
  } catch (problem) {
    error.hidden = false;
    error.textContent = `Not saved: ${problem.message}`;
    if (problem.body && String(problem.body.code || "").startsWith("QUERY_")) {
      showQueryError(problem.body);
    }
  }
});

document.getElementById("block-delete").addEventListener("click", async () => {
  if (!editing || !window.confirm("Delete this block?")) return;
  await call("DELETE", `/api/v1/report-blocks/${editing.id}/`);
  blocks = blocks.filter((b) => b.id !== editing.id);
  saved = blocks.map((b) => b.id);
  editing = null;
  blockForm.hidden = true;
  drawList();
  refreshPreview();
});

document.getElementById("block-close").addEventListener("click", () => {
  editing = null;
  blockForm.hidden = true;
});

// -- preview --------------------------------------------------------------------------------------
let previewAsked = 0;

async function refreshPreview() {
  const mine = ++previewAsked;
  previewState.textContent = "updating…";
  try {
    const answer = await call("GET", `/api/v1/reports/${reportId}/preview/`);
    if (mine !== previewAsked) return;
    // The server's own rendering of the e-mail: every value escaped there, Markdown made safe.
    preview.innerHTML = answer.html;
    errors = new Map(answer.blocks.filter((b) => b.error).map((b) => [b.id, b.error.error]));
    drawList();
    previewState.textContent = `as it will be e-mailed · ${answer.range}`;
    root.dataset.previewed = String(Number(root.dataset.previewed || 0) + 1);
  } catch (problem) {
    if (mine === previewAsked) previewState.textContent = `preview failed: ${problem.message}`;
  }
}

fillSettings();
drawList();
refreshPreview();
