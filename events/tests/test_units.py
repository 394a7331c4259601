"""Units: the unit an answer's series carry (from the metric catalogue and the spec's rules), and
the one way a value with a unit reads — ``events/units.py`` and its twin ``static/js/units.js``,
run here on one table of cases and held to the same text."""

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from events import catalog, rollups, units
from events.models import MetricDefinition
from events.query import parse
from events.query.units import unit_of

UNITS_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "units.js"
NODE = "/usr/bin/node"

CATALOGUE = {"http.latency_ms": "ms", "net.rx": "bytes", "requests_total": "requests",
             "cpu": "%", "other_ms": "ms"}


@pytest.mark.parametrize(("query", "unit"), [
    ("p95:http.latency_ms{}", "ms"),
    ("avg:http.latency_ms{env:prod} by {host}", "ms"),
    ("count:http.latency_ms{}", ""),
    ("rate:http.latency_ms{}", "ms/s"),
    ("rate:net.rx{}", "bytes/s"),
    ("avg:undescribed{}", ""),
    ("rate:undescribed{}", ""),
    ("count:events{event:signup}", ""),
    ("uniq_users:events{}", ""),
    ("sum:events.amount{event:purchase}", ""),
    ("avg:http.latency_ms{} + max:other_ms{}", "ms"),
    ("avg:http.latency_ms{} - avg:http.latency_ms{host:a}", "ms"),
    ("avg:http.latency_ms{} + avg:cpu{}", ""),
    ("avg:http.latency_ms{} + 5", ""),
    ("avg:http.latency_ms{} * 2", "ms"),
    ("2 * avg:http.latency_ms{}", "ms"),
    ("avg:http.latency_ms{} / 1000", "ms"),
    ("1000 / avg:http.latency_ms{}", ""),
    ("avg:http.latency_ms{} / avg:other_ms{}", ""),
    ("avg:http.latency_ms{} * avg:other_ms{}", ""),
    ("moving_avg(avg:http.latency_ms{}, 5)", "ms"),
    ("rolling(avg:http.latency_ms{}, 5, median)", "ms"),
    ("rolling(avg:http.latency_ms{}, 5, max)", "ms"),
    ("rolling(avg:http.latency_ms{}, 5, count)", ""),
    ("timeshift(avg:http.latency_ms{}, 1w)", "ms"),
    ("cumsum(sum:net.rx{})", "bytes"),
    ("abs(avg:http.latency_ms{})", "ms"),
    ("clamp_min(avg:http.latency_ms{}, 0)", "ms"),
    ("clamp_max(avg:http.latency_ms{}, 100)", "ms"),
    ("top(avg:http.latency_ms{} by {host}, 3, max)", "ms"),
    ("bottom(avg:http.latency_ms{} by {host}, 3, avg)", "ms"),
    ("fill(avg:http.latency_ms{}, previous)", "ms"),
    ("derivative(last:net.rx{})", "bytes/s"),
    ("rate(last:requests_total{})", "requests/s"),
    ("increase(last:requests_total{})", "requests"),
    ("log(sum:net.rx{})", ""),
    ("derivative(count:events{})", ""),
    ("moving_avg(avg:http.latency_ms{}, 3) / timeshift(avg:http.latency_ms{}, 1w)", ""),
    ("(avg:http.latency_ms{} + avg:other_ms{}) / 2", "ms"),
])
def test_unit_of_a_query(query, unit):
    assert unit_of(parse(query), CATALOGUE) == unit


# (value, unit, format_value's text): the table both languages are held to.
CASES = [
    (1200, "ms", "1.2 s"),
    (800, "ms", "800 ms"),
    (2400, "ms", "2.4 s"),
    (999.999, "ms", "1,000 ms"),
    (0.0012, "s", "1.2 ms"),
    (0.5, "s", "500 ms"),
    (90, "s", "1.5 min"),
    (7200, "s", "2 h"),
    (172800, "s", "2 d"),
    (1500, "ns", "1.5 µs"),
    (1500, "us", "1.5 ms"),
    (2500000, "µs", "2.5 s"),
    (1536, "bytes", "1.5 KiB"),
    (1023, "bytes", "1,023 bytes"),
    (5 * 1024 ** 3, "bytes", "5 GiB"),
    (2048, "MiB", "2 GiB"),
    (0.5, "GiB", "512 MiB"),
    (1500, "KB", "1.5 MB"),
    (2_000_000, "bits/s", "2 Mbit/s"),
    (3 * 1024 ** 2, "bytes/s", "3 MiB/s"),
    (999, "bits", "999 bits"),
    (12.5, "%", "12.5%"),
    (1234, "%", "1,234%"),
    (1234, "requests", "1,234 requests"),
    (1234567.891, "req/s", "1,234,567.89 req/s"),
    (21.456, "°C", "21.46 °C"),
    (0.125, "", "0.13"),
    (0.375, "", "0.38"),
    (2.5, "", "2.5"),
    (1.005, "", "1"),
    (0.0012345, "", "0.0012"),
    (0.000000123, "", "0"),
    (-0.000000123, "ms", "-0.12 ns"),
    (-0.0000001, "", "0"),
    (-1234567.891, "ms", "-20.58 min"),
    (-0.5, "", "-0.5"),
    (0, "ms", "0 ms"),
    (0, "", "0"),
    (100, "", "100"),
    (1e22, "", "1e+22"),
    (None, "ms", units.NO_VALUE),
]

SCALES = [
    ([800, 1200, 2400], "ms", [1000, "s"]),
    ([800, 999, None], "ms", [1, "ms"]),
    ([], "ms", [1, "ms"]),
    ([None, 0], "s", [1, "s"]),
    ([0.2, 0.0012], "s", [0.001, "ms"]),
    ([10, 3 * 1024 ** 2], "bytes", [1024 ** 2, "MiB"]),
    ([-90, 30], "s", [60, "min"]),
    ([5], "requests", [1, "requests"]),
]


@pytest.mark.parametrize(("value", "unit", "text"), CASES)
def test_format_value(value, unit, text):
    assert units.format_value(value, unit) == text


@pytest.mark.parametrize(("values", "unit", "scale"), SCALES)
def test_scale_for(values, unit, scale):
    assert list(units.scale_for(values, unit)) == scale


def test_javascript_twin_agrees():
    """static/js/units.js (an ES module) gives the same text and scale as Python, case by
    case."""
    script = (f"import {{ formatValue, scaleFor }} from {json.dumps(UNITS_JS.as_uri())};\n"
              "const input = JSON.parse(process.argv[1]);\n"
              "console.log(JSON.stringify({\n"
              "  texts: input.cases.map(([v, u]) => formatValue(v, u)),\n"
              "  scales: input.scales.map(([vs, u]) => scaleFor(vs, u)),\n"
              "}));\n")
    given = {"cases": [[v, u] for v, u, _ in CASES], "scales": [[vs, u] for vs, u, _ in SCALES]}
    run = subprocess.run([NODE, "--input-type=module", "-e", script, json.dumps(given)],
                         capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(run.stdout)
    assert out["texts"] == [units.format_value(v, u) for v, u, _ in CASES]
    assert out["texts"] == [text for _, _, text in CASES]
    assert out["scales"] == [list(units.scale_for(vs, u)) for vs, u, _ in SCALES]


# -- through the engine and the API ---------------------------------------------------------------
@pytest.mark.slow
def test_answers_carry_the_catalogue_unit_and_follow_its_edits(
        store, two_projects, token_client, django_capture_on_commit_callbacks):
    project = two_projects["a"]
    now = datetime.now(UTC)
    store.points(project, [
        {"name": "http.latency_ms", "value": v, "tags": {"host": "web-01"},
         "timestamp": (now - timedelta(seconds=s)).isoformat()}
        for v, s in ((800, 2), (1200, 30), (2400, 90))])
    rollups.fold()
    MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")
    client = token_client(two_projects["a_viewer"])

    def ask(body):
        response = client.post("/api/v1/query", {"project": project.pk, "start": "now-1h",
                                                 "step": "1h", **body}, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    one = ask({"query": "max:http.latency_ms{} by {host}"})
    assert [(s["tags"], s["unit"]) for s in one["data"]] == [({"host": "web-01"}, "ms")]
    named = ask({"queries": {"p": "p95:http.latency_ms{}", "n": "count:http.latency_ms{}",
                             "r": "rate:http.latency_ms{}"}})
    assert {s["name"]: s["unit"] for s in named["data"]} == {"p": "ms", "n": "", "r": "ms/s"}
    formula = ask({"queries": {"a": "avg:http.latency_ms{}", "b": "count:events{}"},
                   "formula": "a / 1000"})
    assert [s["unit"] for s in formula["data"]] == ["ms"]

    assert ask({"query": "max:http.latency_ms{} by {host}"})["meta"]["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):
        catalog.edit_definition(project=project, name="http.latency_ms",
                                user=two_projects["a_editor"], unit="s")
    again = ask({"query": "max:http.latency_ms{} by {host}"})
    assert again["meta"]["cached"] is False  # the answer cached under the old units is not read
    assert [s["unit"] for s in again["data"]] == ["s"]
    assert ask({"query": "max:http.latency_ms{} by {host}"})["meta"]["cached"] is True
    with django_capture_on_commit_callbacks(execute=True):  # the admin deletes it
        MetricDefinition.objects.get(project=project, name="http.latency_ms").delete()
    assert [s["unit"] for s in ask({"query": "max:http.latency_ms{} by {host}"})["data"]] == [""]

    panel_free = ask({"query": "count:events{}"})
    assert [s.get("unit") for s in panel_free["data"]] == [""] * len(panel_free["data"])


@pytest.mark.slow
def test_units_are_kept_per_process_under_the_catalogue_version(
        store, two_projects, django_capture_on_commit_callbacks):
    """An answer computed again for another window takes its units from the process instead of
    a session of its own; an edit of the unit is in the next answer all the same."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from events.query import execute

    project = two_projects["a"]
    store.points(project, [{"name": "http.latency_ms", "value": 5, "tags": {"host": "web-01"}}])
    rollups.fold()
    with django_capture_on_commit_callbacks(execute=True):
        MetricDefinition.objects.create(project=project, name="http.latency_ms", unit="ms")

    def unit_and_look_ups(start: str) -> tuple[str, int]:
        with CaptureQueriesContext(connection) as ran:
            answer = execute(project, query="max:http.latency_ms{}", start=start, end="now",
                             use_cache=False)
        return answer["data"][0]["unit"], sum("events_metricdefinition" in q["sql"]
                                              for q in ran.captured_queries)

    assert unit_and_look_ups("now-1h") == ("ms", 1)
    assert unit_and_look_ups("now-2h") == ("ms", 0)  # kept
    with django_capture_on_commit_callbacks(execute=True):
        catalog.edit_definition(project=project, name="http.latency_ms",
                                user=two_projects["a_editor"], unit="s")
    assert unit_and_look_ups("now-3h") == ("s", 1)
    assert unit_and_look_ups("now-4h") == ("s", 0)
    # Outside an answer (a page showing an alert's stored values) nothing kept is used.
    from events.query import query_unit

    with CaptureQueriesContext(connection) as ran:
        assert query_unit(project, "max:http.latency_ms{}") == "s"
    assert sum("events_metricdefinition" in q["sql"] for q in ran.captured_queries) == 1
