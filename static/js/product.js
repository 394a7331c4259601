// Product analytics pages (funnels, retention, paths, sessions, people, event explorer): each
// page is a shell; this reads events' API and draws. Everything from the data is written with
// textContent (never as HTML). The form state lives in the URL, so a report is a link.

const root = document.getElementById("product");
const project = root.dataset.project;
const api = `/api/v1/projects/${project}`;
const number = new Intl.NumberFormat();
const PLOT = { displayModeBar: false, responsive: true };

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function get(path, params) {
  const response = await fetch(`${path}?${params}`, { headers: { Accept: "application/json" },
    credentials: "same-origin" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showError(error) {
  const box = document.getElementById("product-error");
  box.textContent = error ? error.message : "";
  box.hidden = !error;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (className) td.className = className;
  return td;
}

function link(row, text, href) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  row.insertCell().append(a);
}

function percent(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)} %`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function empty(tbody, columns, text = "Nothing in this range") {
  tbody.replaceChildren();
  const row = tbody.insertRow();
  const td = cell(row, text, "muted");
  td.colSpan = columns;
}

function plotly() {
  return new Promise((resolve) => {
    if (window.Plotly) return resolve(window.Plotly);
    window.addEventListener("load", () => resolve(window.Plotly), { once: true });
  });
}

// The form's fields as API parameters (range, filters, bots and the page's own fields).
function formParams(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (name === "range") params.set("start", value);
    else if (name === "filter") {
      for (const part of value.split(",").map((p) => p.trim()).filter(Boolean)) {
        params.append("filter", part);
      }
    } else if (name === "bots") params.set("bots", "true");
    else if (value !== "") params.set(name, value);
  }
  return params;
}

// Puts the URL's state into the form (and keeps the URL in step when the form is sent).
function restore(form) {
  const query = new URLSearchParams(location.search);
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.name === "range" && query.get("start")) {
      const start = query.get("start");
      if (![...element.options].some((o) => o.value === start)) element.add(new Option(start, start));
      element.value = start;
    }
    else if (element.name === "filter") element.value = query.getAll("filter").join(", ");
    else if (element.name === "bots") element.checked = query.get("bots") === "true";
    else if (query.has(element.name)) element.value = query.get(element.name);
  }
}

function remember(params) {
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

// -- funnel ---------------------------------------------------------------------------------------
function stepRow(step = { event: "", filters: [] }) {
  const box = document.createElement("div");
  box.className = "step";
  const event = document.createElement("input");
  event.name = "step-event";
  event.placeholder = "event, e.g. page_view";
  event.required = true;
  event.value = step.event;
  event.setAttribute("aria-label", "Step event");
  const filters = document.createElement("input");
  filters.name = "step-filters";
  filters.placeholder = "filters, e.g. path:/pricing";
  filters.value = (step.filters || []).join(", ");
  filters.setAttribute("aria-label", "Step filters");
  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "×";
  remove.setAttribute("aria-label", "Remove step");
  remove.addEventListener("click", () => box.remove());
  box.append(event, filters, remove);
  return box;
}

function funnelPage() {
  const form = document.getElementById("funnel-form");
  const steps = document.getElementById("steps");
  const query = new URLSearchParams(location.search);
  let current = [{ event: "page_view", filters: [] }, { event: "signup", filters: [] }];
  try {
    if (query.get("steps")) current = JSON.parse(query.get("steps"));
  } catch { /* keep the default */ }
  for (const step of current) steps.append(stepRow(step));
  restore(form);
  document.getElementById("add-step").addEventListener("click", () => steps.append(stepRow()));

  function spec() {
    return [...steps.querySelectorAll(".step")].map((box) => ({
      event: box.querySelector("[name=step-event]").value.trim(),
      filters: box.querySelector("[name=step-filters]").value.split(",").map((f) => f.trim())
        .filter(Boolean),
    }));
  }

  function params() {
    const p = formParams(form);
    p.delete("step-event");
    p.delete("step-filters");
    p.set("steps", JSON.stringify(spec()));
    return p;
  }

  async function showPeople(step, outcome) {
    const p = params();
    p.set("step", step);
    p.set("outcome", outcome);
    const card = document.getElementById("people-card");
    card.hidden = false;
    document.getElementById("people-title").textContent =
      outcome === "dropped" ? `People who dropped off before step ${step}`
        : `People who reached step ${step}`;
    const tbody = document.querySelector("#people-table tbody");
    try {
      const body = await get(`${api}/funnel/people/`, p);
      tbody.replaceChildren();
      if (!body.results.length) empty(tbody, 4, "Nobody");
      for (const person of body.results) {
        const row = tbody.insertRow();
        link(row, person.person_id, `/projects/${project}/people/${encodeURIComponent(person.person_id)}/`);
        cell(row, when(person.first_seen));
        cell(row, when(person.last_seen));
        cell(row, number.format(person.events || 0));
      }
      card.scrollIntoView({ behavior: "smooth", block: "nearest" });
    } catch (error) {
      showError(error);
    }
  }

  async function load() {
    showError(null);
    const p = params();
    remember(p);
    try {
      const body = await get(`${api}/funnel/`, p);
      root.dataset.loaded = "true";
      const tbody = document.querySelector("#funnel-table tbody");
      tbody.replaceChildren();
      for (const step of body.steps) {
        const row = tbody.insertRow();
        row.dataset.step = step.step;
        cell(row, `${step.step}. ${step.event}${step.filters.length ? ` (${step.filters.join(", ")})` : ""}`);
        cell(row, number.format(step.people));
        cell(row, percent(step.conversion));
        cell(row, step.step === 1 ? "" : percent(step.from_previous));
        const dropped = row.insertCell();
        if (step.step > 1 && step.dropped > 0) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "link-button drop-off";
          button.textContent = number.format(step.dropped);
          button.addEventListener("click", () => showPeople(step.step, "dropped"));
          dropped.append(button);
        } else dropped.textContent = step.step > 1 ? "0" : "";
        cell(row, step.step === 1 ? "" : duration(step.median_s));
      }
      document.getElementById("funnel-title").textContent =
        `Conversion ${percent(body.conversion)}`;
      const Plotly = await plotly();
      Plotly.react("funnel-chart", [{ type: "bar", x: body.steps.map((s) => `${s.step}. ${s.event}`),
        y: body.steps.map((s) => s.people), marker: { color: "#4c6ef5" },
        text: body.steps.map((s) => percent(s.conversion)), textposition: "auto",
        hovertemplate: "%{x}: %{y} people<extra></extra>" }],
      { margin: { l: 48, r: 16, t: 8, b: 48 }, height: 300, yaxis: { rangemode: "tozero" },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" }, PLOT);
      const card = document.getElementById("breakdown-card");
      card.hidden = !body.breakdown;
      if (body.breakdown) {
        document.getElementById("breakdown-name").textContent = body.breakdown;
        const head = document.querySelector("#breakdown-table thead");
        head.replaceChildren();
        const hrow = head.insertRow();
        for (const title of ["Value", ...body.steps.map((s) => `${s.step}. ${s.event}`), "Conversion"]) {
          const th = document.createElement("th");
          th.textContent = title;
          hrow.append(th);
        }
        const rows = document.querySelector("#breakdown-table tbody");
        rows.replaceChildren();
        for (const group of body.breakdowns) {
          const row = rows.insertRow();
          cell(row, group.value ?? "(none)");
          for (const step of group.steps) cell(row, number.format(step.people));
          cell(row, percent(group.steps[group.steps.length - 1].conversion));
        }
      }
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
}

// -- retention ------------------------------------------------------------------------------------
function retentionPage() {
  const form = document.getElementById("retention-form");
  restore(form);

  async function load() {
    showError(null);
    const p = formParams(form);
    remember(p);
    try {
      const body = await get(`${api}/retention/`, p);
      root.dataset.loaded = "true";
      const longest = Math.max(0, ...body.cohorts.map((c) => c.values.length));
      const head = document.querySelector("#retention-table thead");
      head.replaceChildren();
      const hrow = head.insertRow();
      for (const title of ["Cohort", "People", ...Array.from({ length: longest }, (_, n) => `${body.period} ${n}`)]) {
        const th = document.createElement("th");
        th.textContent = title;
        hrow.append(th);
      }
      const tbody = document.querySelector("#retention-table tbody");
      tbody.replaceChildren();
      if (!body.cohorts.length) empty(tbody, 2);
      for (const cohort of body.cohorts) {
        const row = tbody.insertRow();
        cell(row, cohort.cohort.slice(0, 10));
        cell(row, number.format(cohort.size));
        cohort.rates.forEach((rate, n) => {
          const td = cell(row, `${percent(rate)} (${number.format(cohort.values[n])})`, "heat");
          td.style.setProperty("--heat", String(rate || 0));
        });
      }
      const average = Array.from({ length: longest }, (_, n) => {
        const reached = body.cohorts.filter((c) => c.values.length > n && c.size);
        const people = reached.reduce((sum, c) => sum + c.size, 0);
        return people ? reached.reduce((sum, c) => sum + c.values[n], 0) / people : null;
      });
      const Plotly = await plotly();
      Plotly.react("retention-chart", [{ type: "scatter", mode: "lines+markers",
        x: average.map((_, n) => `${body.period} ${n}`), y: average.map((v) => (v === null ? null : v * 100)),
        line: { color: "#12b886" }, hovertemplate: "%{x}: %{y:.1f} %<extra></extra>" }],
      { margin: { l: 48, r: 16, t: 8, b: 36 }, height: 260, yaxis: { range: [0, 100], ticksuffix: " %" },
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" }, PLOT);
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
}

// -- paths ----------------------------------------------------------------------------------------
function pathsPage() {
  const form = document.getElementById("paths-form");
  restore(form);

  async function load() {
    showError(null);
    const p = formParams(form);
    remember(p);
    try {
      const [body, entries] = await Promise.all([get(`${api}/paths/`, p),
        get(`${api}/entry-pages/`, p)]);
      root.dataset.loaded = "true";
      document.getElementById("paths-title").textContent =
        `${number.format(body.sessions)} sessions ${body.direction === "next" ? "from" : "to"} ${body.start}`;
      const Plotly = await plotly();
      Plotly.react("paths-chart", [{ type: "sankey", orientation: "h",
        node: { label: body.nodes.map((n) => `${n.value} (${number.format(n.count)})`),
          pad: 14, thickness: 14,
          color: body.nodes.map((n) => (n.value === "(end)" ? "#adb5bd" : "#4c6ef5")) },
        link: { source: body.links.map((l) => l.source), target: body.links.map((l) => l.target),
          value: body.links.map((l) => l.count), color: "rgba(76,110,245,0.25)" } }],
      { margin: { l: 8, r: 8, t: 8, b: 8 }, height: 480, paper_bgcolor: "rgba(0,0,0,0)" }, PLOT);
      for (const [id, rows] of [["entry-table", entries.entry_pages], ["exit-table", entries.exit_pages]]) {
        const tbody = document.querySelector(`#${id} tbody`);
        tbody.replaceChildren();
        if (!rows.length) empty(tbody, 2);
        for (const item of rows) {
          const row = tbody.insertRow();
          cell(row, item.value);
          cell(row, number.format(item.sessions));
        }
      }
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  load();
}

// -- lists with "more" ----------------------------------------------------------------------------
function pagedList({ form, url, tbody, columns, draw, count }) {
  let offset = 0;
  const more = document.getElementById("more");
  restore(form);

  async function load(reset) {
    showError(null);
    if (reset) offset = 0;
    const p = formParams(form);
    if (reset) remember(p);
    p.set("offset", offset);
    p.set("limit", 50);
    try {
      const body = await get(url, p);
      root.dataset.loaded = "true";
      if (reset) tbody.replaceChildren();
      if (reset && !body.results.length) empty(tbody, columns);
      for (const item of body.results) draw(tbody.insertRow(), item);
      offset += body.results.length;
      more.hidden = offset >= body.count;
      count.textContent = `${number.format(body.count)} ${count.dataset.noun}`;
    } catch (error) {
      showError(error);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
  more.addEventListener("click", () => load(false));
  load(true);
}

function propertiesText(properties) {
  return Object.entries(properties || {}).slice(0, 4).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

function peoplePage() {
  const count = document.getElementById("people-count");
  count.dataset.noun = "people";
  pagedList({ form: document.getElementById("people-form"), url: `${api}/people/`, columns: 5,
    tbody: document.querySelector("#people-table tbody"), count,
    draw(row, person) {
      link(row, person.person_id, `/projects/${project}/people/${encodeURIComponent(person.person_id)}/`);
      cell(row, propertiesText(person.properties));
      cell(row, when(person.first_seen));
      cell(row, when(person.last_seen));
      cell(row, number.format(person.events));
    } });
}

function sessionRow(row, session, withPerson) {
  link(row, when(session.started_at), `/projects/${project}/sessions/${encodeURIComponent(session.session_id)}/`);
  if (withPerson) {
    if (session.person_id) link(row, session.person_id, `/projects/${project}/people/${encodeURIComponent(session.person_id)}/`);
    else cell(row, "–");
  }
  cell(row, duration(session.duration_s));
  cell(row, number.format(session.pageviews));
  cell(row, session.entry_path);
  cell(row, session.exit_path);
  cell(row, [session.device, session.browser].filter(Boolean).join(" · "));
  cell(row, session.country);
  if (withPerson) cell(row, session.channel);
}

function sessionsPage() {
  const count = document.getElementById("sessions-count");
  count.dataset.noun = "sessions";
  pagedList({ form: document.getElementById("sessions-form"), url: `${api}/sessions/`,
    columns: 9, tbody: document.querySelector("#sessions-table tbody"), count,
    draw: (row, session) => sessionRow(row, session, true) });
}

function keyValues(tbody, pairs) {
  tbody.replaceChildren();
  if (!pairs.length) empty(tbody, 2, "None");
  for (const [key, value] of pairs) {
    const row = tbody.insertRow();
    cell(row, key);
    cell(row, typeof value === "object" && value !== null ? JSON.stringify(value) : value);
  }
}

function eventRow(row, event) {
  cell(row, when(event.timestamp));
  cell(row, event.event);
  cell(row, event.path);
  const code = document.createElement("code");
  code.textContent = JSON.stringify(event.properties);
  row.insertCell().append(code);
}

async function personPage() {
  const person = root.dataset.person;
  try {
    const body = await get(`${api}/people/${encodeURIComponent(person)}/`, new URLSearchParams());
    root.dataset.loaded = "true";
    document.getElementById("person-name").textContent = body.person_id;
    keyValues(document.querySelector("#person-properties tbody"), Object.entries(body.properties));
    keyValues(document.querySelector("#person-about tbody"), [["Ids", body.ids.join(", ")],
      ["First seen", when(body.first_seen)], ["Last seen", when(body.last_seen)],
      ["Events", number.format(body.events_count)]]);
    const sessions = document.querySelector("#person-sessions tbody");
    sessions.replaceChildren();
    if (!body.sessions.length) empty(sessions, 7, "No sessions");
    for (const session of body.sessions) sessionRow(sessions.insertRow(), session, false);
    const events = document.querySelector("#person-events tbody");
    events.replaceChildren();
    for (const event of body.events) eventRow(events.insertRow(), event);
  } catch (error) {
    showError(error);
  }
  const erase = document.getElementById("erase");
  if (erase) {
    erase.addEventListener("click", async () => {
      if (!window.confirm(`Delete ${person} and every event of every id linked to them? This cannot be undone.`)) return;
      const response = await fetch(`${api}/people/${encodeURIComponent(person)}/`, {
        method: "DELETE", credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrf() } });
      const body = await response.json();
      if (!response.ok) return showError(new Error(body.error));
      location.assign(`/projects/${project}/people/?erased=${encodeURIComponent(body.person_id)}`);
    });
  }
}

async function sessionPage() {
  try {
    const body = await get(`${api}/sessions/${encodeURIComponent(root.dataset.session)}/`,
      new URLSearchParams());
    root.dataset.loaded = "true";
    keyValues(document.querySelector("#session-about tbody"), [
      ["Person", body.person_id], ["Started", when(body.started_at)],
      ["Duration", duration(body.duration_s)], ["Pages", body.pageviews],
      ["Entry", body.entry_path], ["Exit", body.exit_path],
      ["Device", [body.device, body.browser, body.os].filter(Boolean).join(" · ")],
      ["Country", body.country], ["Channel", body.channel], ["Source", body.referrer],
      ["Campaign", body.utm_campaign]]);
    const list = document.getElementById("timeline");
    list.replaceChildren();
    const start = new Date(body.started_at).getTime();
    for (const event of body.timeline) {
      const item = document.createElement("li");
      const time = document.createElement("time");
      time.dateTime = event.timestamp;
      time.textContent = `+${duration((new Date(event.timestamp).getTime() - start) / 1000)}`;
      const name = document.createElement("strong");
      name.textContent = event.event;
      const where = document.createElement("span");
      where.className = "muted";
      where.textContent = event.path || "";
      const props = document.createElement("code");
      props.textContent = JSON.stringify(event.properties);
      item.append(time, name, where, props);
      list.append(item);
    }
  } catch (error) {
    showError(error);
  }
}

// -- event explorer -------------------------------------------------------------------------------
function eventsPage() {
  const form = document.getElementById("events-form");
  const tbody = document.querySelector("#events-table tbody");
  const more = document.getElementById("more");
  const tail = document.getElementById("live-tail");
  let next = null;
  let latest = null;
  let columns = [];
  let timer = null;
  restore(form);

  function params() {
    const p = formParams(form);
    p.delete("columns");
    columns = (new FormData(form).get("columns") || "").split(",").map((c) => c.trim()).filter(Boolean);
    for (const column of columns) p.append("columns", column);
    return p;
  }

  function header() {
    const head = document.querySelector("#events-table thead");
    head.replaceChildren();
    const row = head.insertRow();
    for (const title of ["Time", "Event", "Person", "Page", "Country", "Device", ...columns]) {
      const th = document.createElement("th");
      th.textContent = title;
      row.append(th);
    }
  }

  function draw(event, prepend) {
    const row = prepend ? tbody.insertRow(0) : tbody.insertRow();
    cell(row, when(event.timestamp));
    cell(row, event.event);
    link(row, event.distinct_id, `/projects/${project}/people/${encodeURIComponent(event.distinct_id)}/`);
    cell(row, event.path);
    cell(row, event.country);
    cell(row, [event.device, event.browser].filter(Boolean).join(" · "));
    for (const column of columns) {
      const value = event.columns[column];
      cell(row, value === undefined || value === null ? "" : typeof value === "object" ? JSON.stringify(value) : value);
    }
  }

  async function load(reset) {
    showError(null);
    const p = params();
    if (reset) { remember(p); header(); }
    if (!reset && next) p.set("after", next);
    try {
      const body = await get(`${api}/events/`, p);
      root.dataset.loaded = "true";
      if (reset) {
        tbody.replaceChildren();
        latest = body.results.length ? body.results[0].cursor : null;
      }
      for (const event of body.results) draw(event, false);
      next = body.next;
      more.hidden = !next;
    } catch (error) {
      showError(error);
    }
  }

  async function poll() {
    if (!latest) return;
    const p = params();
    p.set("start", "now-1d");
    p.set("newer_than", latest);
    try {
      const body = await get(`${api}/events/`, p);
      for (const event of body.results) draw(event, true);
      latest = body.latest || latest;
    } catch (error) {
      showError(error);
    }
  }

  tail.addEventListener("change", () => {
    clearInterval(timer);
    if (tail.checked) timer = setInterval(poll, 2000);
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
  more.addEventListener("click", () => load(false));
  load(true);
}

const pages = { funnel: funnelPage, retention: retentionPage, paths: pathsPage,
  people: peoplePage, person: personPage, sessions: sessionsPage, session: sessionPage,
  events: eventsPage };
pages[root.dataset.page]();
