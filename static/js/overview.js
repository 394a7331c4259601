// Project overview: KPI cards, events over time, top lists (the analytics API) and the live event
// feed (the project's WebSocket). Everything user-supplied is written with textContent.

// A click on a row of any list filters the whole page (the filters live in the URL); the KPI
// cards ask again a few seconds after new events arrive on the socket (folded by then).
const root = document.getElementById("overview");
const project = root.dataset.project;
const range = root.dataset.range;
const page = new URLSearchParams(location.search);
const START = page.get("start") || { "24h": "now-24h", "7d": "now-7d", "30d": "now-30d" }[range];
const END = page.get("end") || "now";
const INTERVAL = range === "24h" && !page.get("start") ? "hour" : "day";
const FILTERS = page.getAll("filter");
const BOTS = page.get("bots") === "true";
let comparing = page.get("compare") === "previous";
const FEED_MAX = 100;

function query(params = {}) {
  const built = new URLSearchParams({ project, start: START, end: END, ...params });
  for (const filter of FILTERS) built.append("filter", filter);
  if (BOTS) built.set("bots", "true");
  return built;
}

function withPage(change) {
  const next = new URLSearchParams(location.search);
  change(next);
  location.assign(`${location.pathname}?${next}`);
}

async function api(report, params = {}) {
  const query_ = query(params);
  const response = await fetch(`/api/v1/analytics/${report}?${query_}`, {
    headers: { Accept: "application/json" }, credentials: "same-origin",
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function projectApi(path, params = {}) {
  const query_ = query(params);
  query_.delete("project");
  const response = await fetch(`/api/v1/projects/${project}/${path}?${query_}`, {
    headers: { Accept: "application/json" }, credentials: "same-origin",
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showError(error) {
  const box = document.getElementById("overview-error");
  box.textContent = `Could not load the overview: ${error.message}`;
  box.hidden = false;
}

const number = new Intl.NumberFormat();

function formatKpi(key, value) {
  if (value === null || value === undefined) return "–";
  if (key === "bounce_rate") return `${(value * 100).toFixed(1)} %`;
  if (key === "avg_session_duration_s") {
    const minutes = Math.floor(value / 60);
    return minutes ? `${minutes} min ${Math.round(value % 60)} s` : `${Math.round(value)} s`;
  }
  return number.format(value);
}

function renderKpis(overview) {
  for (const card of document.querySelectorAll("[data-kpi]")) {
    const kpi = overview[card.dataset.kpi];
    card.querySelector(".kpi-value").textContent = formatKpi(card.dataset.kpi, kpi.value);
    const change = card.querySelector(".kpi-change");
    if (kpi.change === null) {
      change.textContent = "no previous data";
      change.className = "kpi-change muted";
      continue;
    }
    const better = card.hasAttribute("data-lower-is-better") ? kpi.change < 0 : kpi.change > 0;
    change.textContent = `${kpi.change >= 0 ? "▲" : "▼"} ${Math.abs(kpi.change * 100).toFixed(1)} % vs previous`;
    change.className = `kpi-change ${kpi.change === 0 ? "muted" : better ? "up" : "down"}`;
  }
}

const PLOT_CONFIG = { displayModeBar: false, responsive: true };

function renderSparklines(points) {
  const x = points.map((p) => new Date(p.t));
  for (const card of document.querySelectorAll("[data-kpi]")) {
    const target = card.querySelector(".spark");
    if (!target) continue;
    const y = points.map((p) => p[card.dataset.kpi]);
    window.Plotly.react(target, [{ x, y, type: "scatter", mode: "lines", fill: "tozeroy",
      line: { color: "#4c6ef5", width: 1.5 }, hoverinfo: "skip" }], {
      margin: { l: 0, r: 0, t: 0, b: 0 }, height: 36, xaxis: { visible: false },
      yaxis: { visible: false }, showlegend: false, paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
    }, { ...PLOT_CONFIG, staticPlot: true });
  }
}

const CHART_SERIES = [["Events", "events", "#4c6ef5"], ["Users", "users", "#12b886"],
  ["Sessions", "sessions", "#f59f00"]];

function lighter(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, 0.55)`;
}

function lasting(ms) {
  // 24 h, 7 days, 90 min: the previous period's length as people say it.
  let seconds = Math.round(ms / 1000);
  const parts = [];
  if (seconds >= 2 * 86400) {
    parts.push(`${Math.floor(seconds / 86400)} days`);
    seconds %= 86400;
  }
  for (const [size, unit] of [[3600, "h"], [60, "min"], [1, "s"]]) {
    if (seconds >= size) parts.push(`${Math.floor(seconds / size)} ${unit}`);
    seconds %= size;
  }
  return parts.join(" ");
}

// The chart, and with "Compare with previous period" the period of the same length just before
// (the one the KPI cards compare with: the overview's range.previous_start .. range.start) as
// dashed, lighter lines stamped bucket by bucket onto this period's, named "<series> (previous
// 7 days)"; the unified hover shows both.
function renderChart(points, previous = null) {
  const x = points.map((p) => new Date(p.t));
  const trace = ([name, key, color]) => ({ x, y: points.map((p) => p[key]), name,
    type: "scatter", mode: "lines", line: { color, width: 2 } });
  const before = ([name, key, color]) => {
    const shown = previous.points.slice(0, x.length);
    return { x: x.slice(0, shown.length), y: shown.map((p) => p[key]),
      customdata: shown.map((p) => (INTERVAL === "day" ? new Date(p.t).toLocaleDateString()
        : new Date(p.t).toLocaleString())),
      hovertemplate: `${name} (${previous.label}): %{y} · %{customdata}<extra></extra>`,
      name: `${name} (${previous.label})`,
      type: "scatter", mode: "lines", line: { color: lighter(color), width: 1.5, dash: "dash" } };
  };
  window.Plotly.react("chart-events", [
    ...CHART_SERIES.map(trace), ...(previous ? CHART_SERIES.map(before) : []),
  ], {
    margin: { l: 48, r: 16, t: 8, b: 36 }, height: 300, hovermode: "x unified",
    legend: { orientation: "h", y: -0.2 }, yaxis: { rangemode: "tozero" },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
  }, PLOT_CONFIG);
}

const regionNames = new Intl.DisplayNames(["en"], { type: "region" });

function label(table, value) {
  if (table.dataset.filter === "country") {
    try { return `${regionNames.of(value)} (${value})`; } catch { return value; }
  }
  return value;
}

function renderList(table, rows) {
  const body = table.querySelector("tbody");
  body.replaceChildren();
  if (!rows.length) {
    const row = body.insertRow();
    const cell = row.insertCell();
    cell.colSpan = 3;
    cell.className = "muted";
    cell.textContent = "No data in this range";
    return;
  }
  for (const item of rows) {
    const row = body.insertRow();
    if (table.dataset.filter) {
      row.className = "filterable";
      row.title = `Show only ${table.dataset.filter} = ${item.value}`;
      row.addEventListener("click", () => withPage((next) =>
        next.append("filter", `${table.dataset.filter}:${item.value}`)));
    }
    row.insertCell().textContent = label(table, item.value);
    row.insertCell().textContent = number.format(item.events);
    row.insertCell().textContent = number.format(item.users);
  }
}

let current = null;  // {overview, series}: what the chart is drawn from

async function previousPeriod(overview) {
  // The KPI cards' previous period, in the chart's buckets.
  const { start, previous_start: previousStart } = overview.range;
  const series = await api("timeseries", { interval: INTERVAL, start: previousStart, end: start });
  return { points: series.points, label: `previous ${lasting(new Date(start) - new Date(previousStart))}` };
}

async function drawChart() {
  const previous = comparing ? await previousPeriod(current.overview) : null;
  renderChart(current.series.points, previous);
  root.dataset.chart = comparing ? "compared" : "drawn";
}

function keepCompare(params) {
  if (comparing) params.set("compare", "previous"); else params.delete("compare");
}

function setUpCompare() {
  const box = document.getElementById("compare-previous");
  const ranges = [...document.querySelectorAll(".ranges a")];
  const relink = () => ranges.forEach((link) => {
    const url = new URL(link.href);
    keepCompare(url.searchParams);
    link.href = url;
  });
  box.checked = comparing;
  relink();
  box.addEventListener("change", async () => {
    // Kept in the URL (a link keeps it, another range too) without reloading the page.
    comparing = box.checked;
    const next = new URLSearchParams(location.search);
    keepCompare(next);
    history.replaceState(null, "", `${location.pathname}?${next}`);
    relink();
    if (!current) return;
    try {
      await drawChart();
    } catch (error) {
      showError(error);
    }
  });
}

async function load() {
  try {
    const [overview, series] = await Promise.all([api("overview"),
      api("timeseries", { interval: INTERVAL })]);
    renderKpis(overview);
    const plotly = await plotlyReady();
    if (plotly) {
      renderSparklines(series.points);
      current = { overview, series };
      await drawChart();
    }
    await Promise.all([...document.querySelectorAll("table[data-report]")].map(async (table) =>
      renderList(table, (await api(table.dataset.report, { limit: 8 })).results)));
    const countries = (await api("countries", { limit: 250 })).results;
    if (plotly && countries.length) renderMap(countries);
    renderGoals((await projectApi("goals/conversions/")).results);
  } catch (error) {
    showError(error);
  }
}

function renderMap(countries) {
  window.Plotly.react("country-map", [{ type: "choropleth", locationmode: "country names",
    locations: countries.map((c) => { try { return regionNames.of(c.value); } catch { return c.value; } }),
    z: countries.map((c) => c.users), text: countries.map((c) => c.value),
    colorscale: [[0, "#dbe4ff"], [1, "#364fc7"]], showscale: false,
    hovertemplate: "%{location}: %{z} users<extra></extra>" }],
  { margin: { l: 0, r: 0, t: 0, b: 0 }, height: 320, paper_bgcolor: "rgba(0,0,0,0)",
    geo: { showframe: false, showcoastlines: false, projection: { type: "natural earth" },
      bgcolor: "rgba(0,0,0,0)" } },
  // The world's shapes from our static files (static/geo/), not Plotly's CDN.
  { ...PLOT_CONFIG, topojsonURL: document.getElementById("country-map").dataset.topojson });
}

function renderGoals(goals) {
  const body = document.querySelector("#goals tbody");
  body.replaceChildren();
  if (!goals.length) {
    const cell = body.insertRow().insertCell();
    cell.colSpan = 3;
    cell.className = "muted";
    cell.textContent = "No goals yet (add them in the admin or the API)";
    return;
  }
  for (const goal of goals) {
    const row = body.insertRow();
    row.insertCell().textContent = goal.name;
    row.insertCell().textContent = number.format(goal.conversions);
    row.insertCell().textContent = goal.conversion_rate === null ? "–"
      : `${(goal.conversion_rate * 100).toFixed(1)} %`;
  }
}

function renderFilters() {
  const box = document.getElementById("active-filters");
  for (const filter of FILTERS) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `${filter} ×`;
    button.title = "Remove this filter";
    button.addEventListener("click", () => withPage((next) => {
      const kept = next.getAll("filter").filter((f) => f !== filter);
      next.delete("filter");
      for (const f of kept) next.append("filter", f);
    }));
    box.append(button);
  }
  const bots = document.getElementById("include-bots");
  bots.checked = BOTS;
  bots.addEventListener("change", () => withPage((next) => {
    if (bots.checked) next.set("bots", "true"); else next.delete("bots");
  }));
  document.getElementById("range-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    withPage((next) => {
      next.set("start", new Date(form.get("from")).toISOString());
      next.set("end", new Date(form.get("to")).toISOString());
    });
  });
}

let refreshing = null;
function refreshSoon() {
  // New events: the KPI cards ask again once the rollups have them, at most every 5 s.
  if (refreshing) return;
  refreshing = setTimeout(async () => {
    refreshing = null;
    try {
      renderKpis(await api("overview"));
      root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
    } catch (error) {
      showError(error);
    }
  }, 5000);
}

function plotlyReady() {
  // plotly.min.js is a deferred classic script; module scripts run after it, but be safe.
  return new Promise((resolve) => {
    if (window.Plotly) return resolve(true);
    window.addEventListener("load", () => resolve(Boolean(window.Plotly)), { once: true });
  });
}

// -- live feed ------------------------------------------------------------------------------------
const feed = document.getElementById("feed");
const empty = document.getElementById("feed-empty");
const filter = document.getElementById("feed-filter");
const pauseButton = document.getElementById("feed-pause");
const state = document.getElementById("live-state");
let paused = false;
let socket = null;
let retries = 0;

function setState(name, label) {
  state.dataset.state = name;
  state.querySelector(".label").textContent = label;
}

function matches(item) {
  const wanted = filter.value.trim().toLowerCase();
  return !wanted || item.dataset.event.toLowerCase().includes(wanted);
}

function addEvent(event) {
  const item = document.createElement("li");
  item.dataset.event = event.event;
  const time = document.createElement("time");
  time.dateTime = event.timestamp;
  time.textContent = new Date(event.timestamp).toLocaleTimeString();
  const name = document.createElement("strong");
  name.className = "feed-event";
  name.textContent = event.event;
  const who = document.createElement("span");
  who.className = "muted";
  who.textContent = event.person_id + (event.path ? ` · ${event.path}` : "");
  const props = document.createElement("code");
  props.className = "feed-props";
  props.textContent = JSON.stringify(event.properties);
  item.append(time, name, who, props);
  item.hidden = !matches(item);
  feed.prepend(item);
  while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  empty.hidden = true;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/projects/${project}/`);
  socket.addEventListener("open", () => {
    retries = 0;
    setState(paused ? "paused" : "connected", paused ? "Paused" : "Live");
  });
  socket.addEventListener("message", (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "events" && END === "now") refreshSoon();  // folded within 2 s
    if (data.type !== "events" || paused) return;
    for (const event of data.events) addEvent(event);
  });
  socket.addEventListener("close", (closed) => {
    if (closed.code === 4401 || closed.code === 4404) {
      setState("failed", "Not allowed");
      return;
    }
    retries += 1;
    if (retries > 8) {
      setState("failed", "Disconnected");
      return;
    }
    const delay = Math.min(30000, 500 * 2 ** retries);
    setState("reconnecting", `Reconnecting in ${Math.round(delay / 1000)} s…`);
    setTimeout(connect, delay);
  });
}

pauseButton.addEventListener("click", () => {
  paused = !paused;
  pauseButton.textContent = paused ? "Resume" : "Pause";
  pauseButton.setAttribute("aria-pressed", String(paused));
  if (socket && socket.readyState === WebSocket.OPEN) {
    setState(paused ? "paused" : "connected", paused ? "Paused" : "Live");
  }
});

filter.addEventListener("input", () => {
  for (const item of feed.children) item.hidden = !matches(item);
});

renderFilters();
setUpCompare();
load();
connect();
