// The query builder of the panel editor, the alert rule form and the metrics explorer: named
// query rows (aggregation, metric, tag filters, `by` groups, functions) and a formula over their
// names, beside a text mode — both kept in sync with the page's query textarea, which stays the
// form's source of truth. There is one grammar, the engine's: every change composes the JSON
// form and asks POST /api/v1/query/parse for the canonical text, and the text is read back into
// rows through the same endpoint. Network calls are debounced and late answers dropped.
//
//   mountQueryBuilder(textarea, { project, onChange, showError })
//
// `showError(error | null)` is the page's own display of the engine's messages (the builder
// shows them itself without one); `onChange(text)` follows each text the builder writes.

import { call } from "./panels.js";
import { el, rowControls } from "./query_builder_controls.js";

const NAMES = "abcdefghij".split("");  // at most 10 named queries, as the engine allows
const COMPOSE_MS = 250;

let catalogueAsked = null;

/** The language's aggregations and functions (with their argument kinds), as the
 * autocompletion lists them — asked once per page. */
function catalogue(project) {
  catalogueAsked ??= call("GET", `/api/v1/query/autocomplete?${new URLSearchParams({
    project, kind: "function", limit: "100" })}`).then((answer) => {
    const functions = {};
    const aggregations = [];
    for (const item of answer.results) {
      if (item.kind === "aggregation") aggregations.push(item.value);
      else functions[item.value] = { name: item.value, args: item.args || [],
        choices: item.choices || [], signature: item.signature, summary: item.description };
    }
    return { aggregations, functions };
  });
  return catalogueAsked;
}

const emptyRow = () => ({ aggregation: "avg", source: "", filters: [], by: [], limit: 10,
  functions: [] });

// -- rows ↔ the JSON form ---------------------------------------------------------------------
function argValue(kind, text) {
  const numeric = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text);
  if ((kind === "count" || kind === "number" || kind === "fill") && numeric) return Number(text);
  return text;
}

function rowJson(row, catalogueNow) {
  const source = row.source.trim();
  if (!source) return null;
  const events = source.startsWith("events.");
  let json = { aggregation: row.aggregation, source: events ? "events" : source,
    filters: row.filters.filter((f) => f.key && f.value).map((f) => ({ key: f.key, op: f.op,
      values: f.op === "in" ? f.value.split("|").map((v) => v.trim()).filter(Boolean)
        : [f.value] })),
    by: [...row.by] };
  if (events) json.field = source.slice("events.".length);
  if (row.by.length) json.limit = /^\d+$/.test(String(row.limit)) ? Number(row.limit) : row.limit;
  for (const applied of row.functions) {
    const fn = catalogueNow.functions[applied.name];
    const kinds = fn ? fn.args : applied.args.map(() => "text");
    json = { function: applied.name,
      args: [json, ...applied.args.map((a, i) => argValue(kinds[i], String(a)))] };
  }
  return json;
}

/** A query, or functions over one query, as a row; anything else is not a row. */
function rowOf(json) {
  if (json && typeof json === "object" && json.aggregation) {
    return { aggregation: json.aggregation,
      source: json.field ? `${json.source}.${json.field}` : json.source,
      filters: json.filters.map((f) => ({ key: f.key, op: f.op, value: f.values.join("|") })),
      by: [...json.by], limit: json.limit ?? 10, functions: [] };
  }
  if (json && typeof json === "object" && json.function) {
    const row = rowOf(json.args[0]);
    if (row) row.functions.push({ name: json.function, args: json.args.slice(1).map(String) });
    return row;
  }
  return null;
}

/** Rows and a formula over their names for the JSON form of a whole query: each distinct query
 * (with the functions right around it) becomes a named row, the arithmetic the formula.
 * Null when the builder cannot show it (no query in it, or more queries than names). */
export function decompose(json) {
  const single = rowOf(json);
  if (single) return { rows: [single], formula: "" };
  const rows = [];
  const named = new Map();
  const walk = (node) => {
    const row = rowOf(node);
    if (row) {
      const key = JSON.stringify(node);
      if (!named.has(key)) {
        named.set(key, NAMES[rows.length]);
        rows.push(row);
      }
      return named.get(key);
    }
    if ("number" in node) return String(node.number);
    if (node.op) return `(${walk(node.left)} ${node.op} ${walk(node.right)})`;
    return `${node.function}(${[walk(node.args[0]), ...node.args.slice(1).map(String)]
      .join(", ")})`;
  };
  const formula = walk(json);
  if (!rows.length || rows.length > NAMES.length) return null;
  const bare = formula.startsWith("(") && formula.endsWith(")") ? formula.slice(1, -1) : formula;
  return { rows, formula: bare };
}

// -- the builder ------------------------------------------------------------------------------
export function mountQueryBuilder(textarea, { project, onChange = null, showError = null } = {}) {
  const root = el("div", "qb");
  const toggle = el("div", "qb-toggle");
  toggle.setAttribute("role", "group");
  toggle.setAttribute("aria-label", "Query editor");
  const modeButtons = {};
  for (const [mode, text] of [["builder", "Builder"], ["text", "Text"]]) {
    const b = el("button", "qb-mode", text);
    b.type = "button";
    b.dataset.mode = mode;
    b.addEventListener("click", () => (mode === "builder" ? toBuilder() : toText()));
    modeButtons[mode] = b;
    toggle.append(b);
  }
  const panel = el("div", "qb-builder");
  const rowsBox = el("div", "qb-rows");
  const addRow = el("button", "qb-add-query link", "+ Query");
  addRow.type = "button";
  const formulaLabel = el("label", "qb-formula", "Formula ");
  const formulaInput = el("input", "mono");
  Object.assign(formulaInput, { type: "text", placeholder: "a / b * 100", spellcheck: false,
    autocomplete: "off" });
  formulaLabel.append(formulaInput);
  panel.append(rowsBox, addRow, formulaLabel);
  const message = el("p", "qb-message muted small");
  message.setAttribute("role", "status");
  message.hidden = true;
  const ownError = el("p", "qb-error error");
  ownError.setAttribute("role", "alert");
  ownError.hidden = true;
  root.append(toggle, panel, message, ownError);
  const host = textarea.closest("label") || textarea;
  host.before(root);
  // The builder's own inputs are not the page's fields: the page hears the textarea only.
  for (const type of ["input", "change"]) root.addEventListener(type, (e) => e.stopPropagation());
  root.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.tagName === "INPUT") event.preventDefault();
  });

  const state = { mode: "builder", rows: [emptyRow()], formula: "", written: null };
  let known = null;  // the catalogue, once it has answered
  let timer = 0;
  let composeAsked = 0;
  let parseAsked = 0;
  let writing = false;  // the input event the builder fires, not a keystroke

  let showing = false;  // clear only a message the builder showed, not the page's own
  const error = (e) => {
    if (!e && !showing) return;
    showing = Boolean(e);
    if (showError) showError(e);
    ownError.hidden = showError ? true : !e;
    if (!showError && e) ownError.textContent = e.message;
  };
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  function setMode(mode) {
    state.mode = mode;
    root.dataset.mode = mode;
    panel.hidden = mode !== "builder";
    textarea.classList.toggle("qb-written", mode === "builder");
    for (const [m, b] of Object.entries(modeButtons)) {
      b.setAttribute("aria-pressed", String(m === mode));
    }
  }

  function render() {
    if (!known) return;
    rowsBox.replaceChildren(...state.rows.map((row, i) => rowControls(row, {
      name: NAMES[i], project, catalogue: known, removable: state.rows.length > 1,
      onRemove: () => {
        state.rows.splice(i, 1);
        changed(true);
      },
      changed,
    })));
    addRow.hidden = state.rows.length >= NAMES.length;
    formulaLabel.hidden = state.rows.length < 2;
    formulaInput.value = state.formula;
    root.dataset.ready = "true";  // the controls are drawn (tests and pages wait on it)
  }

  function changed(structural = false) {
    if (structural) render();
    clearTimeout(timer);
    timer = setTimeout(compose, COMPOSE_MS);
  }

  async function compose() {
    if (!known || state.mode !== "builder") return;
    const names = state.rows.map((_, i) => NAMES[i]);
    const jsons = state.rows.map((row) => rowJson(row, known));
    const missing = jsons.findIndex((j) => !j);
    if (missing >= 0) {
      say(`Pick a metric for ${names[missing]}.`);
      return;
    }
    let body = { project, query: jsons[0] };
    if (jsons.length > 1) {
      if (!state.formula.trim()) {
        say(`Write a formula over ${names.join(", ")}, e.g. ${names[0]} / ${names[1]}.`);
        return;
      }
      body = { project, queries: Object.fromEntries(names.map((n, i) => [n, jsons[i]])),
        formula: state.formula };
    }
    say("");
    const mine = ++composeAsked;
    let answer;
    try {
      answer = await call("POST", "/api/v1/query/parse", body);
    } catch (e) {
      if (mine === composeAsked && state.mode === "builder") error(e);
      return;
    }
    if (mine !== composeAsked || state.mode !== "builder") return;  // a newer change answers
    error(null);
    const text = jsons.length > 1 ? answer.formula.text : answer.text;
    state.written = text;
    if (textarea.value !== text) {
      textarea.value = text;
      writing = true;
      try {
        textarea.dispatchEvent(new Event("input", { bubbles: true }));
      } finally {
        writing = false;
      }
    }
    if (onChange) onChange(text);
  }

  /** The textarea's text read into rows (through the endpoint); stays in text mode, saying
   * why, when the text does not parse or cannot be shown in the builder. */
  async function toBuilder() {
    const text = textarea.value.trim();
    clearTimeout(timer);
    if (!text) {
      state.rows = [emptyRow()];
      state.formula = "";
    } else if (textarea.value !== state.written) {
      const mine = ++parseAsked;
      let answer;
      try {
        answer = await call("POST", "/api/v1/query/parse",
          { project, query: textarea.value });  // as typed: positions are in its text
      } catch (e) {
        if (mine !== parseAsked) return;
        setMode("text");
        say("Fix the query to show it in the builder.");
        error(e);
        return;
      }
      if (mine !== parseAsked) return;
      const shown = decompose(answer.json);
      if (!shown) {
        setMode("text");
        say("This query cannot be shown in the builder (it holds no query to pick); "
          + "edit it as text.");
        error(null);
        return;
      }
      state.rows = shown.rows;
      state.formula = shown.formula;
      state.written = textarea.value;
    }
    error(null);
    say("");
    setMode("builder");
    render();
  }

  function toText({ focus = true } = {}) {
    ++parseAsked;
    ++composeAsked;  // a change composed before the switch must not overwrite the typing
    clearTimeout(timer);
    setMode("text");
    say("");
    if (focus) textarea.focus();
  }

  // Typing into the textarea is text mode: the builder reads the text back on the way in.
  textarea.addEventListener("input", () => {
    if (writing || state.mode !== "builder") return;
    toText({ focus: false });
  });
  addRow.addEventListener("click", () => {
    state.rows.push(emptyRow());
    changed(true);
  });
  formulaInput.addEventListener("input", () => {
    state.formula = formulaInput.value;
    changed();
  });

  setMode("builder");
  catalogue(project).then((loaded) => {
    known = loaded;
    return toBuilder();
  }).catch((e) => {
    setMode("text");
    error(e);
  });
  // Completion while typing, from its own module when the page has it.
  import("./query_autocomplete.js")
    .then((module) => module.attachAutocomplete && module.attachAutocomplete(textarea, { project }))
    .catch(() => {});

  return {
    element: root,
    get mode() { return state.mode; },
    /** Read the textarea again, after the page set its text. */
    reload() {
      state.written = null;
      return state.mode === "builder" ? toBuilder() : Promise.resolve();
    },
    toBuilder,
    toText,
  };
}
