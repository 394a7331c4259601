"""POST /api/v1/query/parse: a query in either form read back in both, through the engine's one
grammar — what the query builders of the panel editor, the alert form and the explorer write and
read. Exact round trips, the engine's errors as /api/v1/query gives them, scoped to the caller's
projects, and no body makes it fail with a 5xx."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARSE = "/api/v1/query/parse"
TEXT = "moving_avg(avg:http.latency_ms{env:prod, service:api|web} by {host} limit 5, 5)"
JSON = {"function": "moving_avg", "args": [
    {"aggregation": "avg", "source": "http.latency_ms",
     "filters": [{"key": "env", "op": "eq", "values": ["prod"]},
                 {"key": "service", "op": "in", "values": ["api", "web"]}],
     "by": ["host"], "limit": 5}, 5]}


@pytest.fixture
def viewer(two_projects, token_client):
    return token_client(two_projects["a_viewer"])


def _parse(client, body):
    return client.post(PARSE, body, format="json")


def test_text_reads_back_as_its_json_form_and_canonical_text(two_projects, viewer):
    # Untidy spacing, filters out of order, a repeated value: the canonical text tidies them.
    untidy = ("moving_avg( avg:http.latency_ms{service:web|api|web,env:prod}  by {host} "
              "limit 5 , 5 )")
    response = _parse(viewer, {"project": two_projects["a"].pk, "query": untidy})
    assert response.status_code == 200, response.json()
    assert response.json() == {"text": TEXT, "json": JSON}


def test_json_form_reads_back_as_the_same_text(two_projects, viewer):
    response = _parse(viewer, {"project": two_projects["a"].pk, "query": JSON})
    assert response.status_code == 200, response.json()
    assert response.json() == {"text": TEXT, "json": JSON}
    again = _parse(viewer, {"project": two_projects["a"].pk, "query": response.json()["text"]})
    assert again.json() == {"text": TEXT, "json": JSON}


def test_named_queries_and_a_timeshift_formula(two_projects, viewer):
    response = _parse(viewer, {
        "project": two_projects["a"].pk,
        "queries": {"a": {"aggregation": "sum", "source": "orders", "filters": [], "by": []},
                    "b": "count:events{event:purchase}"},
        "formula": "a / timeshift(a, 7d) * 100"})
    assert response.status_code == 200, response.json()
    orders = {"aggregation": "sum", "source": "orders", "filters": [], "by": []}
    assert response.json() == {
        "queries": {
            "a": {"text": "sum:orders{}", "json": orders},
            "b": {"text": "count:events{event:purchase}",
                  "json": {"aggregation": "count", "source": "events",
                           "filters": [{"key": "event", "op": "eq", "values": ["purchase"]}],
                           "by": []}}},
        "formula": {
            "text": "((sum:orders{} / timeshift(sum:orders{}, 1w)) * 100)",
            "json": {"op": "*", "left": {"op": "/", "left": orders, "right": {
                "function": "timeshift", "args": [orders, "1w"]}}, "right": {"number": 100.0}}}}


def test_named_queries_without_a_formula(two_projects, viewer):
    response = _parse(viewer, {"project": two_projects["a"].pk,
                               "queries": {"a": "max:cpu{host:web-*}"}})
    assert response.json() == {"queries": {"a": {
        "text": "max:cpu{host:web-*}",
        "json": {"aggregation": "max", "source": "cpu", "by": [],
                 "filters": [{"key": "host", "op": "prefix", "values": ["web-"]}]}}},
        "formula": None}


def test_syntax_errors_name_the_position_as_the_query_view_does(two_projects, viewer):
    body = {"project": two_projects["a"].pk, "query": "avg:cpu{host:web-1 env:prod}"}
    parsed = _parse(viewer, body)
    ran = viewer.post("/api/v1/query", body, format="json")
    assert parsed.status_code == ran.status_code == 400
    assert parsed.json() == ran.json() == {
        "error": "Expected \"}\" or \",\", found 'e' at position 19.", "code": "QUERY_SYNTAX",
        "details": {"position": 19, "expected": ["}", ","]}}
    window = _parse(viewer, {"project": two_projects["a"].pk,
                             "query": "moving_avg(avg:cpu{}, 0)"})
    assert window.json()["details"] == {"position": 22, "expected": ["1..1000"]}
    formula = _parse(viewer, {"project": two_projects["a"].pk, "queries": {"a": "avg:cpu{}"},
                              "formula": "a * "})
    assert (formula.status_code, formula.json()["code"], formula.json()["details"]["query"],
            formula.json()["details"]["position"]) == (400, "QUERY_SYNTAX", "formula", 4)
    named = _parse(viewer, {"project": two_projects["a"].pk, "queries": {"b": "avg:cpu{"}})
    assert (named.json()["code"], named.json()["details"]["query"]) == ("QUERY_SYNTAX", "b")
    invalid = _parse(viewer, {"project": two_projects["a"].pk,
                              "query": {"function": "rolling", "args": ["avg:cpu{}", 3, "p95"]}})
    assert (invalid.status_code, invalid.json()["code"], invalid.json()["details"]) == (
        400, "QUERY_INVALID", {"path": "query.args[2]",
                               "expected": ["avg", "sum", "min", "max", "median", "count"]})


def test_a_missing_project_or_query_is_a_400(two_projects, viewer):
    missing = _parse(viewer, {"query": "avg:cpu{}"})
    assert (missing.status_code, list(missing.json()["details"])) == (400, ["project"])
    empty = _parse(viewer, {"project": two_projects["a"].pk})
    assert (empty.status_code, empty.json()["code"]) == (400, "QUERY_INVALID")


def test_other_projects_are_not_found(two_projects, token_client):
    outsider = token_client(two_projects["b_admin"])
    response = _parse(outsider, {"project": two_projects["a"].pk, "query": "avg:cpu{}"})
    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    unknown = _parse(outsider, {"project": 10**9, "query": "avg:cpu{}"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")


def test_parsing_reads_no_data_table(two_projects, viewer):
    with CaptureQueriesContext(connection) as seen:
        response = _parse(viewer, {"project": two_projects["a"].pk, "query": TEXT})
    assert response.status_code == 200
    assert [q["sql"] for q in seen.captured_queries if "events_" in q["sql"]] == []


# -- hostile input --------------------------------------------------------------------------------
FRAGMENTS = st.sampled_from(["avg:cpu{", "}", " by {host}", " limit 0", "moving_avg(", ", 5)",
                             "timeshift(", ", 1w)", "a", " / ", "b", "(", ")", '"', "|", "!",
                             "*", ":", "events.", "rolling(", ", p95)", "\x00", "9" * 30])
TEXTS = st.text(max_size=40) | st.lists(FRAGMENTS, max_size=8).map("".join)
JSONS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | TEXTS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["aggregation", "source", "field", "filters", "by", "limit", "key",
                         "op", "values", "function", "args", "number", "left", "right"]),
        inner, max_size=5),
    max_leaves=12)
BODIES = st.fixed_dictionaries({}, optional={
    "project": st.none() | st.integers() | st.text(max_size=5) | st.just("PROJECT"),
    "query": JSONS, "queries": st.dictionaries(TEXTS, JSONS, max_size=3) | JSONS,
    "formula": TEXTS | JSONS})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=BODIES | JSONS)
def test_no_body_makes_a_server_error(two_projects, viewer, body):
    if isinstance(body, dict) and body.get("project") == "PROJECT":
        body = {**body, "project": two_projects["a"].pk}
    response = _parse(viewer, body)
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert set(response.json()) == {"error", "code", "details"}


def test_function_suggestions_carry_what_the_builder_draws_their_arguments_from(two_projects,
                                                                               viewer):
    response = viewer.get("/api/v1/query/autocomplete", {
        "project": two_projects["a"].pk, "kind": "function", "q": "rolling"})
    assert response.json()["results"] == [{
        "value": "rolling", "kind": "function", "signature": "rolling(q, N, agg)",
        "description": "agg over the last N buckets", "args": ["count", "agg"],
        "choices": ["avg", "sum", "min", "max", "median", "count"]}]
