// The controls of the query builder (query_builder.js): a text input with a list of suggestions
// from GET /api/v1/query/autocomplete (metrics, tag keys, tag values), and one named query's row —
// aggregation, metric, tag filters, `by` keys with a limit, functions with their arguments.
// A row edits a plain state object and calls `changed(structural)`; the builder composes the
// query from the state. Everything is built with createElement and set as text.

import { call } from "./panels.js";

export const OPS = [["eq", "is"], ["ne", "is not"], ["in", "one of"], ["prefix", "starts with"]];
const DEFAULTS = { count: "5", duration: "1w", number: "0" };

export function el(tag, className = "", text = "") {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text) node.textContent = text;
  return node;
}

function button(className, text, title, onClick) {
  const b = el("button", className, text);
  b.type = "button";  // never submits the page's form
  if (title) b.title = title;
  b.setAttribute("aria-label", title || text);
  b.addEventListener("click", onClick);
  return b;
}

function select(className, label, options, value) {
  const s = el("select", className);
  s.setAttribute("aria-label", label);
  for (const [v, text] of options) s.append(Object.assign(el("option", "", text), { value: v }));
  s.value = value;
  return s;
}

/** What the autocompletion answers for `kind` (metric, tag_key, tag_value) and `q`. */
export async function suggestions(project, kind, q, extra = {}) {
  const params = new URLSearchParams({ project, kind, q, limit: "20", ...extra });
  const answer = await call("GET", `/api/v1/query/autocomplete?${params}`);
  return answer.results;
}

/** An input with a list of suggestions (`suggest(text)` → [{value, hint}]) under it; picking
 * one, or leaving the input, calls `onPick(value)`. Answers to older keystrokes are dropped. */
export function picker({ className, label, value = "", placeholder = "", suggest, onPick }) {
  const wrap = el("span", `qb-picker ${className}`);
  const input = el("input");
  Object.assign(input, { type: "text", value, placeholder, autocomplete: "off",
    spellcheck: false });
  input.setAttribute("aria-label", label);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-expanded", "false");
  const list = el("ul", "qb-suggestions");
  list.setAttribute("role", "listbox");
  list.hidden = true;
  let asked = 0;
  let timer = 0;
  let active = -1;

  const items = () => [...list.children];
  function open(shown) {
    list.hidden = !shown;
    input.setAttribute("aria-expanded", String(shown));
  }
  function choose(text) {
    clearTimeout(timer);
    asked += 1;  // an answer still on its way must not open the list again
    input.value = text;
    open(false);
    onPick(text);
  }
  function mark(index) {
    const all = items();
    active = all.length ? (index + all.length) % all.length : -1;
    all.forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
  }
  async function refresh() {
    const mine = ++asked;
    let found = [];
    try {
      found = await suggest(input.value.trim());
    } catch {
      found = [];  // no suggestions is not an error worth showing here
    }
    if (mine !== asked) return;
    list.replaceChildren(...found.map((item) => {
      const li = el("li", "", item.value);
      li.setAttribute("role", "option");
      li.dataset.value = item.value;
      if (item.hint) li.append(el("span", "muted small", ` ${item.hint}`));
      // mousedown, not click: the input's blur would hide the list first.
      li.addEventListener("mousedown", (event) => {
        event.preventDefault();
        choose(item.value);
      });
      return li;
    }));
    active = -1;
    open(found.length > 0 && document.activeElement === input);
  }
  input.addEventListener("focus", refresh);
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
  input.addEventListener("change", () => onPick(input.value.trim()));
  input.addEventListener("blur", () => open(false));
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (list.hidden) refresh();
      else mark(active + (event.key === "ArrowDown" ? 1 : -1));
    } else if (event.key === "Enter") {
      event.preventDefault();  // never submits the page's form
      const li = items()[active];
      if (!list.hidden && li) choose(li.dataset.value);
      else choose(input.value.trim());
    } else if (event.key === "Escape") {
      open(false);
    }
  });
  wrap.append(input, list);
  return wrap;
}

function argInput(fn, kind, value, onInput, label) {
  if (kind === "agg") {
    const s = select("qb-arg", label, fn.choices.map((c) => [c, c]), value);
    s.addEventListener("change", () => onInput(s.value));
    return s;
  }
  const input = el("input", "qb-arg");
  Object.assign(input, { type: kind === "count" || kind === "number" ? "number" : "text",
    value, size: 6 });
  if (kind === "count") Object.assign(input, { min: 1, max: 1000, step: 1 });
  if (kind === "number") input.step = "any";
  if (kind === "fill") input.placeholder = fn.choices.join(", ");
  input.setAttribute("aria-label", label);
  input.addEventListener("input", () => onInput(input.value.trim()));
  return input;
}

/** A new function's arguments, as text, from its argument kinds. */
export function defaultArgs(fn) {
  return fn.args.map((kind) => DEFAULTS[kind] ?? fn.choices[0] ?? "");
}

/** One named query's controls over `row` ({aggregation, source, filters: [{key, op, value}],
 * by, limit, functions: [{name, args}]}); `catalogue` holds the aggregations and functions. */
export function rowControls(row, { name, project, catalogue, removable, onRemove, changed }) {
  const box = el("div", "qb-row");
  box.dataset.name = name;
  box.append(el("span", "qb-name", name));

  const agg = select("qb-agg", `Aggregation of ${name}`,
    catalogue.aggregations.map((a) => [a, a]), row.aggregation);
  agg.addEventListener("change", () => { row.aggregation = agg.value; changed(); });
  const metric = picker({
    className: "qb-metric", label: `Metric of ${name}`, value: row.source,
    placeholder: "metric or events",
    suggest: async (q) => {
      const found = (await suggestions(project, "metric", q))
        .map((m) => ({ value: m.value, hint: m.unit }));
      return "events".includes(q.toLowerCase()) || q.startsWith("events")
        ? [{ value: q.startsWith("events.") ? q : "events", hint: "product events" }, ...found]
        : found;
    },
    onPick: (value) => {
      if (value === row.source) return;
      row.source = value;
      changed();
    },
  });
  const head = el("div", "qb-line");
  head.append(agg, el("span", "qb-sep", ":"), metric);
  if (removable) head.append(button("qb-remove link", "×", `Remove query ${name}`, onRemove));
  box.append(head);

  // Tag filters.
  const filters = el("div", "qb-line qb-filters");
  filters.append(el("span", "qb-label muted small", "where"));
  const metricOf = () => row.source.split("{")[0];
  row.filters.forEach((filter, i) => {
    const item = el("span", "qb-filter");
    const key = picker({ className: "qb-filter-key", label: `Tag key of filter ${i + 1} of ${name}`,
      value: filter.key, placeholder: "tag",
      suggest: (q) => suggestions(project, "tag_key", q, { metric: metricOf() })
        .then((r) => r.map((t) => ({ value: t.value }))),
      onPick: (value) => { filter.key = value; changed(); } });
    const op = select("qb-filter-op", `Operator of filter ${i + 1} of ${name}`, OPS, filter.op);
    op.addEventListener("change", () => { filter.op = op.value; changed(); });
    const value = picker({ className: "qb-filter-value",
      label: `Value of filter ${i + 1} of ${name}`, value: filter.value,
      placeholder: filter.op === "in" ? "a|b" : "value",
      suggest: (q) => (filter.key ? suggestions(project, "tag_value", q.split("|").pop(),
        { metric: metricOf(), key: filter.key }) : Promise.resolve([]))
        .then((r) => r.map((t) => ({
          value: filter.op === "in" && q.includes("|")
            ? `${q.slice(0, q.lastIndexOf("|") + 1)}${t.value}` : t.value,
          hint: `${t.series} series` }))),
      onPick: (text) => { filter.value = text; changed(); } });
    item.append(key, op, value, button("qb-remove link", "×", `Remove filter ${i + 1}`, () => {
      row.filters.splice(i, 1);
      changed(true);
    }));
    filters.append(item);
  });
  filters.append(button("qb-add-filter link", "+ Filter", `Add a filter to ${name}`, () => {
    row.filters.push({ key: "", op: "eq", value: "" });
    changed(true);
  }));
  box.append(filters);

  // Group keys and how many groups.
  const by = el("div", "qb-line qb-by");
  by.append(el("span", "qb-label muted small", "by"));
  row.by.forEach((key, i) => {
    const chip = el("span", "qb-chip qb-by-key", key);
    chip.dataset.key = key;
    chip.append(button("qb-remove link", "×", `Stop grouping by ${key}`, () => {
      row.by.splice(i, 1);
      changed(true);
    }));
    by.append(chip);
  });
  by.append(picker({ className: "qb-by-add", label: `Group ${name} by`, placeholder: "tag",
    suggest: (q) => suggestions(project, "tag_key", q, { metric: metricOf() })
      .then((r) => r.filter((t) => !row.by.includes(t.value)).map((t) => ({ value: t.value }))),
    onPick: (value) => {
      if (!value || row.by.includes(value)) return;
      row.by.push(value);
      changed(true);
    } }));
  if (row.by.length) {
    const limit = el("input", "qb-limit");
    Object.assign(limit, { type: "number", min: 1, max: 100, value: String(row.limit) });
    limit.setAttribute("aria-label", `Groups of ${name} (limit)`);
    limit.addEventListener("input", () => { row.limit = limit.value; changed(); });
    const wrap = el("label", "qb-limit-label small muted", "limit ");
    wrap.append(limit);
    by.append(wrap);
  }
  box.append(by);

  // Functions, innermost first.
  const functions = el("div", "qb-line qb-functions");
  functions.append(el("span", "qb-label muted small", "then"));
  row.functions.forEach((applied, i) => {
    const fn = catalogue.functions[applied.name];
    const chip = el("span", "qb-chip qb-function", applied.name);
    chip.dataset.function = applied.name;
    (fn ? fn.args : applied.args.map(() => "text")).forEach((kind, j) => {
      chip.append(argInput(fn || { choices: [] }, kind, applied.args[j] ?? "", (value) => {
        applied.args[j] = value;
        changed();
      }, `${applied.name} ${kind}`));
    });
    chip.append(button("qb-remove link", "×", `Remove ${applied.name}`, () => {
      row.functions.splice(i, 1);
      changed(true);
    }));
    functions.append(chip);
  });
  const add = select("qb-add-function", `Add a function to ${name}`,
    [["", "+ Function"], ...Object.values(catalogue.functions)
      .map((f) => [f.name, `${f.signature} — ${f.summary}`])], "");
  add.addEventListener("change", () => {
    const fn = catalogue.functions[add.value];
    if (!fn) return;
    row.functions.push({ name: fn.name, args: defaultArgs(fn) });
    changed(true);
  });
  functions.append(add);
  box.append(functions);
  return box;
}
