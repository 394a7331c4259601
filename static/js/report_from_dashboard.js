// "Make a report" on a dashboard: its export (GET /api/v1/dashboards/<id>/export/) becomes a new
// report (POST /api/v1/projects/<id>/reports/from-dashboard/), whose builder then opens. The
// dashboards and reports apps never import each other: they meet here, through their APIs.

import { call } from "./panels.js";

export async function reportFromDashboard(project, dashboardId, name) {
  const exported = await call("GET", `/api/v1/dashboards/${dashboardId}/export/`);
  if (name) exported.name = name;
  return call("POST", `/api/v1/projects/${project}/reports/from-dashboard/`, exported);
}

const button = document.getElementById("make-report");
if (button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const report = await reportFromDashboard(button.dataset.project, button.dataset.dashboard);
      window.location.assign(`/projects/${button.dataset.project}/reports/${report.id}/edit/`);
    } catch (error) {
      button.disabled = false;
      const box = document.getElementById("layout-error");
      box.textContent = `Could not make a report: ${error.message}`;
      box.hidden = false;
    }
  });
}
