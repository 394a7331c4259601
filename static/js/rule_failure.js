// An alert rule's predicted failure probability, on its page: the rule's definition (from the
// page's #rule-data) sent to POST /api/v1/projects/<id>/failure-probability/ — the chance that it
// fires within 24 hours, per group, and the forecast's 5–95 % fan against the threshold.

import { PALETTE, call, whenPlotly } from "./panels.js";

const section = document.getElementById("rule-failure");
const rule = JSON.parse(document.getElementById("rule-data").textContent);
const text = document.getElementById("rule-failure-probability");
const chart = document.getElementById("rule-failure-chart");

function percent(p) {
  return `${(100 * p).toFixed(p > 0 && p < 0.01 ? 2 : 0)} %`;
}

async function show() {
  let answer;
  try {
    answer = await call("POST", `/api/v1/projects/${section.dataset.project}/failure-probability/`, {
      query: rule.query, reducer: rule.reducer, window_minutes: rule.window_minutes,
      condition: rule.condition, threshold: rule.threshold, for_seconds: rule.for_seconds,
      hours: 24 });
  } catch (error) {
    text.textContent = `No forecast: ${error.message}`;
    return;
  }
  if (!answer.groups.length) {
    text.textContent = "No forecast: not enough history of this query.";
    return;
  }
  const source = answer.source.kind === "model" ? `the model “${answer.source.name}”`
    : `a forecast of the last ${answer.source.days} days`;
  text.textContent = `${percent(answer.probability)} that it fires within ${answer.hours} hours `
    + `(${answer.paths} simulated futures from ${source}).`;
  text.dataset.probability = String(answer.probability);
  await whenPlotly();
  const traces = [];
  answer.groups.slice(0, 5).forEach((group, i) => {
    const x = group.forecast.map((p) => new Date(p[0]));
    const color = PALETTE[i % PALETTE.length];
    traces.push({ x, y: group.forecast.map((p) => p[1]), mode: "lines", line: { width: 0 },
      showlegend: false, hoverinfo: "skip" });
    traces.push({ x, y: group.forecast.map((p) => p[3]), mode: "lines", line: { width: 0 },
      fill: "tonexty", fillcolor: "rgba(76, 110, 245, 0.15)", showlegend: false,
      hoverinfo: "skip" });
    traces.push({ x, y: group.forecast.map((p) => p[2]), mode: "lines", line: { color },
      name: `${group.label}: ${percent(group.probability)}` });
  });
  const threshold = { type: "line", xref: "paper", x0: 0, x1: 1, y0: rule.threshold,
    y1: rule.threshold, line: { color: "#e03131", width: 1.5, dash: "dash" } };
  window.Plotly.react(chart, traces, { margin: { l: 48, r: 12, t: 8, b: 30 }, height: 240,
    shapes: [threshold], xaxis: { type: "date" }, legend: { orientation: "h", y: -0.2 },
    paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)" },
  { displayModeBar: false, responsive: true });
}

show();
