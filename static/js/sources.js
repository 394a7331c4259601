// The Sources page: receivers, StatsD listeners and scrape targets of the project, from
// GET /api/v1/projects/<id>/sources/, redrawn every 5 s. Everything is set as text (escaped).

const root = document.getElementById("sources");
const project = root.dataset.project;

function ago(value) {
  if (!value) return "never";
  const at = typeof value === "number" ? value * 1000 : Date.parse(value);
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(at).toLocaleString();
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    if (cell && typeof cell === "object") {
      td.textContent = cell.text;
      td.className = cell.className || "";
    } else {
      td.textContent = cell ?? "";
    }
    tr.append(td);
  }
  return tr;
}

function fill(id, rows) {
  document.querySelector(`#${id} tbody`).replaceChildren(...rows);
  document.getElementById(`${id}-empty`).hidden = rows.length > 0;
  document.getElementById(id).hidden = rows.length === 0;
}

function draw(status) {
  fill("receivers", status.sources.map((s) => {
    const tr = row([s.label, ago(s.last_received_at), `${s.per_minute} ${s.unit}`,
      { text: String(s.rejected_recent), className: s.rejected_recent ? "error" : "" },
      { text: s.last_error, className: "error small" }]);
    tr.dataset.kind = s.kind;
    return tr;
  }));
  fill("listeners", status.statsd_listeners.map((l) => row([
    l.enabled ? l.name : `${l.name} (disabled)`, `${l.address} ${l.protocols}`,
    ago(l.last_received_at), l.received_total, l.points_total, l.rejected_total,
    { text: l.last_error, className: "error small" }])));
  fill("targets", status.scrape_targets.map((t) => {
    const up = t.up === null ? "–" : (t.up ? "up" : "down");
    return row([t.enabled ? t.name : `${t.name} (disabled)`, t.url,
      { text: up, className: `badge ${t.up ? "state-ok" : t.up === false ? "state-firing" : ""}` },
      ago(t.last_scrape_at), t.duration_ms === null ? "–" : `${t.duration_ms} ms`, t.samples,
      { text: t.last_error, className: "error small" }]);
  }));
  document.getElementById("sources-updated").textContent =
    `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const response = await fetch(`/api/v1/projects/${project}/sources/`,
      { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) draw(await response.json());
  } catch {
    // the next refresh tries again
  }
}

draw(JSON.parse(document.getElementById("sources-data").textContent));
setInterval(refresh, 5000);
