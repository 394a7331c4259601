// Drawing one panel's answer (POST /api/v1/query) the way its type says: Plotly for line, area,
// bar, gauge and heatmap; a big number with a sparkline for stat; a table. Shared by the
// dashboard page and the panel editor's preview. Values read in their unit (units.js): the
// panel's options.unit, else the unit the answer's series carry (the metric catalogue's); a line,
// area or bar chart scales its y axis to the largest value (800..2400 ms is drawn in s, the axis
// titled "s", the hover "1.2 s"), a stat, gauge or table shows "1.2 s".

import { formatValue, numberText, scaleFor, withLabel } from "./units.js";

export const PALETTE = ["#4c6ef5", "#12b886", "#f59f00", "#e64980", "#7950f2", "#15aabf", "#82c91e",
  "#fd7e14", "#868e96", "#fa5252"];

function csrf() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function call(method, url, body) {
  const response = await fetch(url, {
    method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json",
      "X-CSRFToken": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error((data && data.error) || `HTTP ${response.status}`);
    error.body = data;
    throw error;
  }
  return data;
}

export function label(series) {
  const tags = Object.entries(series.tags || {}).map(([k, v]) => `${k}:${v}`).join(", ");
  return tags || series.name;
}

export function calculate(points, how = "last") {
  const values = points.map((p) => p[1]).filter((v) => v !== null);
  if (!values.length) return null;
  switch (how) {
    case "avg": return values.reduce((a, b) => a + b, 0) / values.length;
    case "sum": return values.reduce((a, b) => a + b, 0);
    case "min": return Math.min(...values);
    case "max": return Math.max(...values);
    default: return values[values.length - 1];
  }
}

function thresholdColor(value, options, fallback) {
  let color = fallback;
  for (const step of options.thresholds || []) if (value !== null && value >= step.value) color = step.color;
  return color;
}

// The unit a panel's values are in: its own options.unit, else the one all its series carry.
export function unitOf(options, data) {
  if (options.unit) return options.unit;
  const units = new Set(data.map((s) => s.unit || ""));
  return units.size === 1 ? [...units][0] : "";
}

const scaled = (v, divisor) => (v === null || v === undefined ? v : v / divisor);

// The values of `data` in a readable scale of `unit` (1200 ms → 1.2 s): the divisor, the axis
// label, and per series its scaled values and its hover texts ("1.2 s"; Plotly reads a little
// HTML there, so they are escaped).
export function valueScale(data, unit) {
  const values = (s) => s.points.map((p) => p[1]);
  const [divisor, axisLabel] = scaleFor(data.flatMap(values), unit);
  return { divisor, axisLabel,
    y: (s) => values(s).map((v) => scaled(v, divisor)),
    hover: (s) => ({ hovertext: values(s).map((v) => (v === null ? "" : escapeText(
      withLabel(numberText(v / divisor), axisLabel)))), hovertemplate: "%{hovertext}" }) };
}

const LAYOUT = { margin: { l: 44, r: 12, t: 6, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)", hovermode: "x unified", font: { size: 11 } };
const CONFIG = { displayModeBar: false, responsive: true };

export function plotInto(body, traces, layout, { onPlot = null } = {}) {
  let target = body.querySelector(".plot");
  if (!target) {
    body.replaceChildren();
    target = document.createElement("div");
    target.className = "plot";
    body.append(target);
  }
  window.Plotly.react(target, traces, { ...LAYOUT, ...layout,
    dragmode: onPlot ? "zoom" : false }, CONFIG);
  if (onPlot && !target.dataset.hooked) {
    target.dataset.hooked = "true";
    onPlot(target);
  }
}

function tint(hex, alpha) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export function escapeText(text) {
  // Plotly reads a little HTML in hover text: what we show is text.
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const sameTags = (a, b) => JSON.stringify(Object.entries(a || {}).sort())
  === JSON.stringify(Object.entries(b || {}).sort());

// The anomaly band of a line or area panel (GET /api/v1/anomaly-models/<id>/predictions/: each
// point [ms, value, expected, lower, upper, score]) behind its series, each series' band in its
// colour, and the model's anomalies as markers whose hover says why.
function bandTraces(band, data, color, divisor) {
  const traces = [];
  for (const series of band.series) {
    const i = data.findIndex((s) => sameTags(s.tags, series.tags));
    const fill = tint(color(i < 0 ? 0 : i), 0.15);
    const x = series.points.map((p) => new Date(p[0]));
    const name = i < 0 ? label(series) : label(data[i]);
    traces.push({ type: "scatter", mode: "lines", x, y: series.points.map((p) => scaled(p[3], divisor)),
      line: { width: 0 }, hoverinfo: "skip", showlegend: false, name: `${name} lower` });
    traces.push({ type: "scatter", mode: "lines", x, y: series.points.map((p) => scaled(p[4], divisor)),
      line: { width: 0 }, fill: "tonexty", fillcolor: fill, hoverinfo: "skip",
      showlegend: false, name: `${name} band` });
  }
  return traces;
}

function anomalyTrace(band, divisor) {
  const hover = band.anomalies.map((a) => [
    `<b>Anomaly (${escapeText(a.severity)})</b> ${escapeText(label({ tags: a.tags,
      name: band.model.name }))}`,
    ...a.explanation.map((e) => escapeText(e.text))].join("<br>"));
  return { type: "scatter", mode: "markers", name: "anomalies", showlegend: false,
    x: band.anomalies.map((a) => new Date(a.peak_at)), y: band.anomalies.map((a) => scaled(a.value, divisor)),
    marker: { color: "#e03131", size: 9, line: { color: "#fff", width: 1 } },
    hovertext: hover, hoverinfo: "text" };
}

export function anomalyShapes(band) {
  return band.anomalies.map((a) => ({ type: "rect", xref: "x", yref: "paper",
    x0: new Date(a.started_at), x1: new Date(a.ended_at || a.last_seen_at), y0: 0, y1: 1,
    fillcolor: "rgba(224, 49, 49, 0.08)", line: { width: 0 }, layer: "below" }));
}

// The comparison overlay of a line, area or bar panel (its option compare, answered by the
// panel's data endpoint: the same query one period earlier, re-stamped onto these buckets): a
// dashed, lighter line per series in that series' colour, named "<series> (<label>)", so the
// unified hover shows now and then side by side.
function compareTraces(compare, data, color, divisor, hover) {
  return compare.data.map((series) => {
    const i = data.findIndex((s) => sameTags(s.tags, series.tags));
    const base = color(i < 0 ? 0 : i);
    return { type: "scatter", mode: "lines", x: series.points.map((p) => new Date(p[0])),
      y: series.points.map((p) => scaled(p[1], divisor)), ...hover(series),
      name: `${i < 0 ? label(series) : label(data[i])} (${compare.label})`,
      line: { color: tint(base, 0.55), width: 1.5, dash: "dash" }, marker: { color: base } };
  });
}

export function draw(panel, body, answer, { timeLayout = {}, onPlot = null, band = null } = {}) {
  const options = panel.options || {};
  const data = answer.data;
  if (!data.length) {
    const notes = answer.meta.notes.join(" ") || "No data in this range.";
    body.replaceChildren(Object.assign(document.createElement("p"),
      { className: "panel-status muted", textContent: notes }));
    return;
  }
  const times = (s) => s.points.map((p) => new Date(p[0]));
  const values = (s) => s.points.map((p) => p[1]);
  const color = (i) => (i === 0 && options.color) || PALETTE[i % PALETTE.length];
  const unit = unitOf(options, data);
  const overlay = answer.compare && answer.compare.data ? answer.compare : null;
  const legend = { showlegend: options.legend !== false && (data.length > 1 || Boolean(overlay)),
    legend: { orientation: "h", y: -0.25 } };
  if (panel.type === "line" || panel.type === "area" || panel.type === "bar") {
    const banded = band && band.series && panel.type !== "bar";
    const { divisor, axisLabel, y, hover } = valueScale(data, unit);
    const yaxis = { rangemode: "tozero", fixedrange: true, automargin: true,
      title: axisLabel ? { text: escapeText(axisLabel) } : undefined,
      range: options.min !== undefined && options.max !== undefined
        ? [options.min / divisor, options.max / divisor] : undefined };
    plotInto(body, [...(banded ? bandTraces(band, data, color, divisor) : []), ...data.map((s, i) => ({
      x: times(s), y: y(s), ...hover(s), name: label(s),
      marker: { color: color(i) },
      line: { color: color(i), width: 2 },
      ...(panel.type === "bar" ? { type: "bar" } : { type: "scatter", mode: "lines",
        fill: panel.type === "area" ? "tonexty" : undefined, stackgroup: panel.type === "area" ? "a" : undefined }),
    })), ...(overlay ? compareTraces(overlay, data, color, divisor, hover) : []),
    ...(banded && band.anomalies.length ? [anomalyTrace(band, divisor)] : [])], { yaxis, ...legend, barmode: "stack", ...timeLayout,
      // The axis spans the asked range, not only the buckets that have data.
      xaxis: { type: "date", range: [new Date(answer.meta.start), new Date(answer.meta.end)] } },
    { onPlot });
  } else if (panel.type === "heatmap") {
    plotInto(body, [{ type: "heatmap", x: times(data[0]), y: data.map(label),
      z: data.map(values), colorscale: "Blues" }], { margin: { l: 90, r: 12, t: 6, b: 30 } });
  } else if (panel.type === "gauge") {
    const value = calculate(data[0].points, options.calculation);
    const max = options.max ?? Math.max(100, (value ?? 0) * 1.2);
    // The number, its axis and its steps in one scale: that of the value shown.
    const [divisor, gaugeLabel] = scaleFor([value], unit);
    const suffix = escapeText(withLabel("", gaugeLabel));
    plotInto(body, [{ type: "indicator", mode: "gauge+number", value: (value ?? 0) / divisor,
      number: { suffix, valueformat: ",.2~f" },
      gauge: { axis: { range: [(options.min ?? 0) / divisor, max / divisor] },
        bar: { color: thresholdColor(value, options, options.color || PALETTE[0]) },
        steps: (options.thresholds || []).map((s, i, all) => ({ range: [s.value / divisor,
          (all[i + 1] ? all[i + 1].value : max) / divisor], color: `${s.color}33` })) } }],
      { margin: { l: 24, r: 24, t: 12, b: 6 } });
  } else if (panel.type === "stat") {
    const value = calculate(data[0].points, options.calculation);
    let big = body.querySelector(".stat");
    if (!big) {
      body.replaceChildren();
      big = Object.assign(document.createElement("p"), { className: "stat" });
      const spark = Object.assign(document.createElement("div"), { className: "plot spark" });
      body.append(big, spark);
    }
    big.textContent = formatValue(value, unit);
    big.style.color = thresholdColor(value, options, "inherit");
    window.Plotly.react(body.querySelector(".spark"), [{ x: times(data[0]), y: values(data[0]),
      type: "scatter", mode: "lines", fill: "tozeroy", line: { color: options.color || PALETTE[0] },
      hoverinfo: "skip" }], { ...LAYOUT, margin: { l: 0, r: 0, t: 0, b: 0 },
      xaxis: { visible: false }, yaxis: { visible: false }, showlegend: false },
    { ...CONFIG, staticPlot: true });
  } else if (panel.type === "table") {
    const table = document.createElement("table");
    table.className = "list";
    const head = table.createTHead().insertRow();
    for (const title of ["Series", options.calculation || "last"]) {
      head.append(Object.assign(document.createElement("th"), { textContent: title }));
    }
    const rows = table.createTBody();
    for (const s of data) {
      const row = rows.insertRow();
      row.insertCell().textContent = label(s);
      row.insertCell().textContent = formatValue(calculate(s.points, options.calculation),
        options.unit || s.unit || "");
    }
    body.replaceChildren(table);
  }
}

export function whenPlotly() {
  return new Promise((resolve) => {
    if (window.Plotly) resolve();
    else window.addEventListener("load", resolve, { once: true });
  });
}
