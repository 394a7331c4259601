// Autocompletion in a query text box (docs/query-language.md): metric names after `agg:`, tag
// keys inside `{…}` and `by {…}`, a key's values after `key:` (and `!`, `|`), aggregations and
// function names where an expression starts. Suggestions come from
// GET /api/v1/query/autocomplete; the language's grammar stays in the engine's parser — this
// only scans the text before the caret for what is being typed, and tolerates any mistake.

import { call } from "./panels.js";

const DEBOUNCE_MS = 120;
const LIMIT = 20;
const EVENTS = "events";
// Event columns a filter or group can name (the server's tag keys come from metric series only).
const EVENT_KEYS = ["browser", "device", "distinct_id", "event", "os", "page_url", "path",
  "referrer", "session_id"];
// What a word is made of in each place, as the parser reads it (events/query/parser.py).
const CHARS = {
  expr: /[A-Za-z0-9_]/,            // an aggregation, a function, a named query or a number
  source: /[A-Za-z0-9_.:-]/,       // a metric name
  key: /[A-Za-z0-9_.\/$-]/,        // a tag key (in the text form a key holds no ":")
  value: /[^\s,{}|!*"()]/,         // a bare value
};
const BARE_VALUE = /^[^\s,{}|!*"()]+$/;
const OPERATORS = "+-*/";

/** A value as the language takes it: bare when it can be, else in double quotes. */
export function quoteValue(value) {
  if (BARE_VALUE.test(value)) return value;
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function readWhile(text, at, chars) {
  let end = at;
  while (end < text.length && chars.test(text[end])) end += 1;
  return end;
}

function nextNonSpace(text, at) {
  while (at < text.length && /\s/.test(text[at])) at += 1;
  return text[at] || "";
}

/**
 * What is being typed at the end of `before` (the text up to the caret): `{ kind, q, start,
 * metric, key }` with kind "function" | "metric" | "tag_key" | "tag_value", `q` the fragment and
 * `start` where the fragment (with its opening quote, if any) begins; or null where nothing is
 * completed (a number, an argument, after a closed group).
 */
export function completionContext(before) {
  const stack = [];  // frames: { open: "(", fn } or { open: "{", by, metric }
  let state = "expr";
  let metric = "";
  let key = "";
  let at = 0;
  const top = () => stack[stack.length - 1];
  const fragment = (start, q) => ({ state, start, q });
  let last = fragment(0, "");
  while (at < before.length) {
    const char = before[at];
    if (/\s/.test(char)) {
      at += 1;
      last = null;
      continue;
    }
    if (state === "value" && char === '"') {
      let end = at + 1;
      let text = "";
      while (end < before.length && before[end] !== '"') {
        if (before[end] === "\\" && end + 1 < before.length) end += 1;
        text += before[end];
        end += 1;
      }
      if (end >= before.length) return context(fragment(at, text), metric, key);
      at = end + 1;
      state = "afterValue";
      last = null;
      continue;
    }
    const chars = CHARS[state === "byKey" ? "key" : state] || CHARS.expr;
    if (chars.test(char)) {
      const end = readWhile(before, at, chars);
      const word = before.slice(at, end);
      last = fragment(at, word);
      if (end === before.length) break;
      if (state === "expr") {
        const next = nextNonSpace(before, end);
        if (next === "(") stack.push({ open: "(", fn: word });
        state = next === ":" ? "agg" : next === "(" ? "call" : "after";
      } else if (state === "source") {
        metric = word;
        state = "after";
      } else if (state === "key" || state === "byKey") {
        key = word;
        state = state === "key" ? "afterKey" : "afterByKey";
      } else if (state === "value") {
        state = "afterValue";
      } else if (state === "after" && word === "by" && nextNonSpace(before, end) === "{") {
        state = "by";
      }
      at = end;
      continue;
    }
    last = null;
    at += 1;
    if (char === ":" && (state === "agg")) state = "source";
    else if (char === ":" && state === "afterKey") state = "value";
    else if ((char === "!" || char === "|") && (state === "value" || state === "afterValue")) {
      state = "value";
    } else if (char === "{" && (state === "after" || state === "source")) {
      stack.push({ open: "{", by: false, metric });
      state = "key";
    } else if (char === "{" && state === "by") {
      stack.push({ open: "{", by: true, metric });
      state = "byKey";
    } else if (char === "}") {
      while (stack.length && top().open !== "{") stack.pop();
      const frame = stack.pop();
      if (frame) metric = frame.metric;
      state = "after";
    } else if (char === "," && top() && top().open === "{") {
      state = top().by ? "byKey" : "key";
    } else if (char === "," || char === "(") {
      if (char === "(" && state !== "call") stack.push({ open: "(", fn: null });
      state = "expr";
      metric = "";
    } else if (char === ")") {
      while (stack.length && top().open !== "(") stack.pop();
      stack.pop();
      state = "after";
    } else if (OPERATORS.includes(char) && (state === "after" || state === "expr")) {
      state = "expr";
      metric = "";
    }
  }
  if (last === null) last = fragment(before.length, "");
  return context(last, metric, key);
}

function context({ state, start, q }, metric, key) {
  const frame = { start, q };
  if (state === "expr") return /^\d/.test(q) ? null : { kind: "function", ...frame };
  if (state === "source") return { kind: "metric", ...frame };
  if ((state === "key" || state === "byKey") && metric) {
    return { kind: "tag_key", metric, by: state === "byKey", ...frame };
  }
  if (state === "value" && metric && key) return { kind: "tag_value", metric, key, ...frame };
  return null;
}

// -- suggestions ---------------------------------------------------------------------------------
const cache = new Map();  // one per page: the names do not change while it is open

function localMatches(names, q) {
  const lowered = q.toLowerCase();
  const found = names.filter((n) => n.includes(lowered));
  return [...found.filter((n) => n.startsWith(lowered)), ...found.filter((n) => !n.startsWith(lowered))];
}

function fetchSuggestions(project, ctx) {
  const params = { project, kind: ctx.kind, q: ctx.q, limit: LIMIT };
  if (ctx.metric) params.metric = ctx.metric;
  if (ctx.key) params.key = ctx.key;
  const cacheKey = JSON.stringify([project, ctx.kind, ctx.metric || "", ctx.key || "", ctx.q]);
  if (!cache.has(cacheKey)) {
    const asked = (ctx.kind === "tag_key" || ctx.kind === "tag_value")
      && (ctx.metric === EVENTS || ctx.metric.startsWith(`${EVENTS}.`))
      ? Promise.resolve({ results: ctx.kind === "tag_key"
        ? localMatches(EVENT_KEYS, ctx.q).map((value) => ({ value, kind: "column" })) : [] })
      : call("GET", `/api/v1/query/autocomplete?${new URLSearchParams(params)}`);
    const results = asked.then((answer) => {
      const found = answer.results;
      if (ctx.kind === "metric" && EVENTS.includes(ctx.q.toLowerCase())) {
        const entry = { value: EVENTS, description: "product events" };
        if (EVENTS.startsWith(ctx.q.toLowerCase())) found.unshift(entry);
        else found.push(entry);
      }
      return found;
    });
    results.catch(() => cache.delete(cacheKey));  // a failed answer is asked again next time
    cache.set(cacheKey, results);
  }
  return cache.get(cacheKey);
}

function detail(item) {
  if (item.signature) return [item.signature, item.description].filter(Boolean).join(" · ");
  if (item.values !== undefined) return `${item.values} value${item.values === 1 ? "" : "s"}`;
  if (item.series !== undefined) return `${item.series} series`;
  return [item.description, item.unit, item.type].filter(Boolean).join(" · ");
}

// What accepting an item writes: the word, and what must follow it for typing to go on.
function insertion(ctx, item, after) {
  if (ctx.kind === "function") {
    return item.kind === "aggregation" ? `${item.value}:` : `${item.value}(`;
  }
  if (ctx.kind === "metric") return after.trimStart().startsWith("{") ? item.value : `${item.value}{`;
  if (ctx.kind === "tag_key") {
    return ctx.by || after.startsWith(":") ? item.value : `${item.value}:`;
  }
  return quoteValue(item.value);
}

// -- the listbox ---------------------------------------------------------------------------------
let boxes = 0;

/**
 * Autocompletion on a query textarea; calling it again on the same textarea does nothing.
 * `project` is the project id the names come from.
 */
export function attachAutocomplete(textarea, { project }) {
  if (textarea.dataset.autocomplete) return;
  textarea.dataset.autocomplete = "on";
  const id = `query-suggestions-${++boxes}`;
  const list = document.createElement("ul");
  Object.assign(list, { id, className: "query-suggestions", hidden: true });
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Suggestions");
  textarea.after(list);
  textarea.setAttribute("role", "combobox");
  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", id);
  textarea.setAttribute("aria-expanded", "false");

  let items = [];
  let active = -1;
  let shownFor = null;  // the context the open list answers
  let timer = 0;
  let asked = 0;
  let finished = null;  // a word just accepted whole: no list of it again

  function close() {
    asked += 1;  // an answer still on its way is for a list no longer wanted
    clearTimeout(timer);
    list.hidden = true;
    list.replaceChildren();
    items = [];
    active = -1;
    shownFor = null;
    textarea.setAttribute("aria-expanded", "false");
    textarea.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    [...list.children].forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
    const option = list.children[index];
    if (option) {
      textarea.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }
  }

  function show(ctx, found) {
    if (!found.length) {
      close();
      return;
    }
    items = found;
    shownFor = ctx;
    list.replaceChildren(...found.map((item, i) => {
      const option = document.createElement("li");
      option.id = `${id}-${i}`;
      option.setAttribute("role", "option");
      option.dataset.value = item.value;
      const name = document.createElement("span");
      name.className = "suggestion-value";
      name.textContent = item.value;
      const more = document.createElement("span");
      more.className = "suggestion-detail";
      more.textContent = detail(item);
      option.append(name, more);
      return option;
    }));
    // Under the textarea, as wide as it: both share an offset parent, being siblings.
    list.style.top = `${textarea.offsetTop + textarea.offsetHeight}px`;
    list.style.left = `${textarea.offsetLeft}px`;
    list.style.width = `${textarea.offsetWidth}px`;
    list.hidden = false;
    textarea.setAttribute("aria-expanded", "true");
    highlight(0);
  }

  function currentContext() {
    if (textarea.selectionStart !== textarea.selectionEnd) return null;
    return completionContext(textarea.value.slice(0, textarea.selectionStart));
  }

  function update({ explicit = false } = {}) {
    const ctx = textarea.readOnly ? null : currentContext();  // a builder may write it
    const word = ctx ? textarea.value.slice(ctx.start, textarea.selectionStart) : null;
    if (!explicit && finished !== null && word === finished) {
      close();
      return;
    }
    finished = null;
    // Where a name starts, an empty fragment opens no list (Ctrl+Space does); after ":", "{",
    // "," or "|" the names that fit are shown at once.
    if (!ctx || (!ctx.q && ctx.kind === "function" && !explicit)) {
      close();
      return;
    }
    const mine = ++asked;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        const found = await fetchSuggestions(project, ctx);
        if (mine === asked) show(ctx, found);
      } catch {
        if (mine === asked) close();  // no suggestions is no reason to interrupt typing
      }
    }, DEBOUNCE_MS);
  }

  function accept(index) {
    const item = items[index];
    const ctx = shownFor;
    if (!item || !ctx) return;
    const caret = textarea.selectionStart;
    const chars = CHARS[ctx.kind === "metric" ? "source" : ctx.kind === "function" ? "expr"
      : ctx.kind === "tag_key" ? "key" : "value"];
    // The word being typed is replaced whole, also the part of it after the caret.
    let end = readWhile(textarea.value, caret, chars);
    if (ctx.kind === "tag_value" && textarea.value[ctx.start] === '"' && textarea.value[end] === '"') {
      end += 1;
    }
    const after = textarea.value.slice(end);
    const text = insertion(ctx, item, after);
    close();
    finished = text;
    textarea.value = textarea.value.slice(0, ctx.start) + text + after;
    const at = ctx.start + text.length;
    textarea.setSelectionRange(at, at);
    textarea.focus();
    // The page's preview listens for input; so does this, and opens what comes next.
    textarea.dispatchEvent(new Event("input", { bubbles: true }));
  }

  textarea.addEventListener("input", () => {
    if (document.activeElement === textarea) update();  // not when a builder writes the text
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === " " && event.ctrlKey) {
      event.preventDefault();
      update({ explicit: true });
      return;
    }
    if (list.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + items.length) % items.length);
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0
               && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      accept(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (["ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"].includes(event.key)) {
      close();
    }
  });
  textarea.addEventListener("blur", close);
  textarea.addEventListener("click", close);
  // Pressing on the list keeps the focus (and the caret) in the textarea.
  list.addEventListener("mousedown", (event) => event.preventDefault());
  list.addEventListener("click", (event) => {
    const option = event.target.closest("[role=option]");
    if (!option) return;
    event.preventDefault();  // inside a <label>, a click would also "click" the textarea
    accept([...list.children].indexOf(option));
  });
}
