"""Autocompletion in the query text box, in headless Chromium: in the panel editor a grouped,
filtered query is written by accepting suggestions (a metric by its prefix before one holding it
further in, a tag key, a value, a group key) and the preview draws it; a function is offered at
the start, Escape closes the list, a value with a space goes in quoted, a click accepts; the
alert rule form has the same box (arrows move through the list). The scanner that works out what
is being typed is checked on its own against a table of texts."""

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from dashboards import services
from events import rollups
from tests.browser.login import login

pytestmark = pytest.mark.slow
FINAL = "avg:http.latency_ms{env:prod} by {host}"
OPTIONS = ".query-suggestions [role=option] .suggestion-value"


@pytest.fixture
def shop(store, make_user, make_project):
    owner = make_user("maria")
    project = make_project("Shop", owner=owner)
    at = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0).isoformat()
    latency = [({"env": "prod", "host": "a"}, 100), ({"env": "prod", "host": "b"}, 200),
               ({"env": "staging", "host": "a"}, 50), ({"env": "staging", "host": "b"}, 70)]
    store.points(project, [
        *({"name": "http.latency_ms", "value": v, "tags": tags, "timestamp": at}
          for tags, v in latency),
        {"name": "api.http.latency", "value": 1, "tags": {"env": "prod"}, "timestamp": at},
        {"name": "http.requests", "value": 5, "tags": {"env": "prod"}, "timestamp": at},
        {"name": "queue.depth", "value": 3, "tags": {"queue": "emails"}, "timestamp": at},
        *({"name": "checkout.total", "value": v, "tags": {"region": region}, "timestamp": at}
          for region, v in (("eu west", 10), ("us", 20)))])
    rollups.fold()
    board = services.create_dashboard(project=project, name="Web", user=owner)
    return {"project": project, "board": board}


def _offered(page, values: list[str]) -> None:
    expect(page.locator(OPTIONS)).to_have_text(values)


def _type(box, text: str) -> None:
    box.press_sequentially(text)


def _text_mode(page) -> None:
    """Where the page has the query builder (query_builder.js), it opens in builder mode with the
    textarea read-only: typing is for its text mode, chosen once the builder has loaded."""
    expect(page.locator("textarea[name=query]")).to_have_attribute("data-autocomplete", "on")
    if page.locator(".qb").count():
        expect(page.locator(".qb-row[data-name=a]")).to_be_visible()
        page.click(".qb-mode[data-mode=text]")
        expect(page.locator("textarea[name=query]")).to_be_editable()


def test_a_grouped_filtered_query_is_written_from_suggestions(page, ingest_server, shop,
                                                              screenshot):
    project, board = shop["project"], shop["board"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/dashboards/{board.pk}/panels/new/")
    box = page.locator("textarea[name=query]")
    listbox = page.locator(".query-suggestions")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_have_attribute("role", "listbox")
    expect(listbox).to_be_hidden()
    _text_mode(page)

    # The metric: names starting with what was typed first, then those holding it.
    box.click()
    _type(box, "avg:http.la")
    _offered(page, ["http.latency_ms", "api.http.latency"])
    expect(box).to_have_attribute("aria-expanded", "true")
    first = page.locator(".query-suggestions [role=option]").first
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    screenshot(page, "query-autocomplete-metric")
    box.press("Enter")
    expect(box).to_have_value("avg:http.latency_ms{")

    # Its tag keys (the list opens at "{"), a key's values, a group key.
    _offered(page, ["env", "host"])
    _type(box, "en")
    _offered(page, ["env"])
    box.press("Enter")
    expect(box).to_have_value("avg:http.latency_ms{env:")
    _offered(page, ["prod", "staging"])
    _type(box, "p")
    _offered(page, ["prod"])
    box.press("Tab")
    expect(box).to_have_value("avg:http.latency_ms{env:prod")
    expect(listbox).to_be_hidden()  # the word is complete: no list of it again
    _type(box, "} by {h")
    _offered(page, ["host"])
    box.press("Enter")
    expect(box).to_have_value("avg:http.latency_ms{env:prod} by {host")
    _type(box, "}")
    expect(box).to_have_value(FINAL)
    expect(listbox).to_be_hidden()

    # The preview drew the query: one series per host of env:prod, the largest first.
    expect(page.locator("#preview-meta")).to_contain_text("· 2 series ·")
    page.wait_for_function("""(q) => { const p = document.querySelector('#preview .plot');
        return p && p.data && p.data.length === 2; }""", arg=FINAL)
    drawn = page.evaluate("""() => document.querySelector('#preview .plot').data.map(
        (t) => [t.name, t.y.filter((v) => v !== null)])""")
    assert drawn == [["host:b", [200]], ["host:a", [100]]]  # largest first
    expect(page.locator("#query-error")).to_be_hidden()

    # Functions and aggregations where an expression starts; Escape closes the list.
    box.fill("")
    _type(box, "moving")
    _offered(page, ["moving_avg"])
    expect(page.locator(".query-suggestions .suggestion-detail")).to_have_text(
        ["moving_avg(q, N) · mean of the last N buckets"])
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("moving")

    # A value with a space is written in double quotes; a click accepts too.
    box.fill("")
    _type(box, "sum:checkout.total{region:eu")
    _offered(page, ["eu west"])
    page.locator(".query-suggestions [role=option]").first.click()
    expect(box).to_have_value('sum:checkout.total{region:"eu west"')
    expect(box).to_be_focused()

    # Attaching again does nothing: one listbox for the one box.
    page.evaluate("""async () => {
        const src = document.querySelector('script[type=module][src*=panel_editor]').src;
        const m = await import(new URL('query_autocomplete.js', src).href);
        m.attachAutocomplete(document.querySelector('textarea[name=query]'), { project: 0 });
    }""")
    expect(listbox).to_have_count(1)
    expect(box).to_have_attribute("data-autocomplete", "on")
    # The half-typed queries the preview was asked for answered 400; no script error.
    assert [e for e in page.console_errors if "status of 400" not in e] == []


def test_the_alert_rule_form_completes_its_query_too(page, ingest_server, shop):
    project = shop["project"]
    login(page, ingest_server, "maria")
    page.goto(f"{ingest_server}/projects/{project.pk}/alerts/new/")
    box = page.locator("textarea[name=query]")
    _text_mode(page)
    box.click()
    _type(box, "max:queue")
    _offered(page, ["queue.depth"])
    box.press("Enter")
    expect(box).to_have_value("max:queue.depth{")
    _offered(page, ["queue"])
    box.fill("")
    _type(box, "avg:http.latency_ms{")
    _offered(page, ["env", "host"])
    box.press("ArrowDown")
    second = page.locator(".query-suggestions [role=option]").nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
    box.press("Enter")
    expect(box).to_have_value("avg:http.latency_ms{host:")
    _offered(page, ["a", "b"])
    assert [e for e in page.console_errors if "status of 400" not in e] == []


CONTEXTS = [
    ("", {"kind": "function", "start": 0, "q": ""}),
    ("avg:http.la", {"kind": "metric", "start": 4, "q": "http.la"}),
    ("avg:foo:bar{x", {"kind": "tag_key", "metric": "foo:bar", "by": False, "start": 12,
                       "q": "x"}),
    ("avg:m{env:prod, host:!a", {"kind": "tag_value", "metric": "m", "key": "host",
                                 "start": 22, "q": "a"}),
    ("avg:m{env:a|b", {"kind": "tag_value", "metric": "m", "key": "env", "start": 12, "q": "b"}),
    ('avg:m{env:"a b', {"kind": "tag_value", "metric": "m", "key": "env", "start": 10,
                        "q": "a b"}),
    ('avg:m{env:"a, b}", ho', {"kind": "tag_key", "metric": "m", "by": False, "start": 19,
                               "q": "ho"}),
    ("avg:m{} by {host, e", {"kind": "tag_key", "metric": "m", "by": True, "start": 18,
                             "q": "e"}),
    ("moving_avg(avg:cpu{host:a}, 5) / su", {"kind": "function", "start": 33, "q": "su"}),
    ("(sum:a{} / cou", {"kind": "function", "start": 11, "q": "cou"}),
    ("sum:events{ev", {"kind": "tag_key", "metric": "events", "by": False, "start": 11,
                       "q": "ev"}),
    ("moving_avg(avg:cpu{}, 5", None),   # a number
    ("avg:m{env:prod}", None),           # after a closed filter
    ("avg:m{env:a* }", None),
]


def test_what_is_being_typed_is_read_from_the_text_before_the_caret(page, ingest_server):
    page.goto(f"{ingest_server}/login/")
    found = page.evaluate("""async (texts) => {
        const m = await import('/static/js/query_autocomplete.js');
        return { contexts: texts.map((t) => m.completionContext(t)),
                 quoted: ['prod', 'a b', 'a,b', 'x"y', 'https://x.example/a'].map(m.quoteValue) };
    }""", [text for text, _ in CONTEXTS])
    assert found["contexts"] == [expected for _, expected in CONTEXTS]
    assert found["quoted"] == ["prod", '"a b"', '"a,b"', '"x\\"y"', "https://x.example/a"]
