// The alert rule form's "Report with each firing": the project's reports (GET
// /api/v1/projects/<id>/reports/), or a new one made from the dashboard this query is on (the
// first dashboard with a panel of the same query). The alerts and reports apps meet here,
// through their APIs.

import { call } from "./panels.js";
import { reportFromDashboard } from "./report_from_dashboard.js";

const select = document.getElementById("rule-report");
const make = document.getElementById("report-from-dashboard");
const state = document.getElementById("report-from-dashboard-state");
const project = select ? select.dataset.project : null;

function option(report) {
  return Object.assign(document.createElement("option"),
    { value: String(report.id), textContent: report.title });
}

async function load() {
  const reports = await call("GET", `/api/v1/projects/${project}/reports/`);
  select.append(...reports.map(option));
  select.value = select.dataset.chosen || "";
  select.dataset.loaded = "true";
}

if (select) {
  load().catch(() => { state.textContent = "Could not list the reports."; });
  make.addEventListener("click", async () => {
    const query = document.querySelector("#rule-form [name=query]").value.trim();
    state.textContent = "";
    try {
      const boards = await call("GET", `/api/v1/projects/${project}/dashboards/`);
      const board = boards.find((b) => b.panels.some((p) => p.query.trim() === query));
      if (!board) {
        state.textContent = "No dashboard has a panel with this query.";
        return;
      }
      const report = await reportFromDashboard(project, board.id, `${board.name} (alert report)`);
      select.append(option(report));
      select.value = String(report.id);
      state.textContent = `Made “${report.title}” from the dashboard “${board.name}”.`;
    } catch (error) {
      state.textContent = `Could not make the report: ${error.message}`;
    }
  });
}
