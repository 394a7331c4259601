"""Product reports on known data written through the real write path (events.services) and
folded by events.rollups: funnels (identify merging two ids mid-funnel, events sent out of
order, the window's edge, strict and any order, breakdowns, who dropped off), retention in a
time zone and across a later identify link, paths, entry and exit pages, sessions, people, the
explorer's keyset pages, goals, campaigns, channels, countries and bots — each with its exact
answer — and another project's people refused."""

from datetime import UTC, datetime, timedelta

import pytest

from events import rollups

pytestmark = pytest.mark.slow

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/130.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITE = "https://shop.example"


def _t(base, seconds):
    return (base + timedelta(seconds=seconds)).isoformat()


def _ev(name, who, session, at, path=None, **extra):
    item = {"event": name, "distinct_id": who, "session_id": session, "timestamp": at}
    if path is not None:
        item["page_url"] = SITE + path
    item.update(extra)
    return item


@pytest.fixture
def funnel_shop(store, two_projects):
    """Four visitors through /pricing -> signup -> purchase (window: 10 minutes):
    - anon-a views pricing, signs up, is identified as user-a, buys after the link (merged);
    - anon-b's events arrive out of order (purchase batch first), all within the window;
    - anon-c reaches signup 10 min + 1 s after pricing (past the window: drops after step 1),
      but views pricing again and signs up 30 s later (that attempt converts to step 2);
    - anon-d only views pricing; a Googlebot views pricing and signs up (left out)."""
    project = two_projects["a"]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    store.events(project, [
        _ev("page_view", "anon-a", "sa", _t(base, 0), "/pricing"),
        _ev("signup", "anon-a", "sa", _t(base, 60), "/signup"),
        _ev("$identify", "user-a", "sa", _t(base, 61), "/signup",
            properties={"$anon_distinct_id": "anon-a", "$set": {"plan": "pro"}}),
    ], user_agent=CHROME)
    store.events(project, [_ev("purchase", "user-a", "sa", _t(base, 120), "/buy")],
                 user_agent=CHROME)
    store.events(project, [_ev("purchase", "anon-b", "sb", _t(base, 300), "/buy")],
                 user_agent=CHROME)
    store.events(project, [
        _ev("signup", "anon-b", "sb", _t(base, 200), "/signup"),
        _ev("page_view", "anon-b", "sb", _t(base, 100), "/pricing",
            referrer="https://www.google.com/"),
    ], user_agent=CHROME)
    store.events(project, [
        _ev("page_view", "anon-c", "sc", _t(base, 1000), "/pricing"),
        _ev("signup", "anon-c", "sc", _t(base, 1601), "/signup"),
        _ev("page_view", "anon-c", "sc", _t(base, 1700), "/pricing"),
        _ev("signup", "anon-c", "sc", _t(base, 1730), "/signup"),
        _ev("page_view", "anon-d", "sd", _t(base, 2000), "/pricing?utm_source=newsletter"
            "&utm_medium=email&utm_campaign=spring"),
    ], user_agent=CHROME)
    store.events(project, [
        _ev("page_view", "bot-1", "sx", _t(base, 50), "/pricing"),
        _ev("signup", "bot-1", "sx", _t(base, 55), "/signup"),
    ], user_agent=GOOGLEBOT)
    rollups.fold()
    return project, base


STEPS = ('[{"event": "page_view", "filters": ["path:/pricing"]}, {"event": "signup"}, '
         '{"event": "purchase"}]')


def _get(client, path, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.json()
    return response.json()


def test_funnel_merges_identified_ids_orders_late_events_and_keeps_the_window(
        funnel_shop, two_projects, token_client):
    project, _ = funnel_shop
    client = token_client(two_projects["a_viewer"])
    body = _get(client, f"/api/v1/projects/{project.pk}/funnel/", steps=STEPS, window=600,
                start="now-1d")
    assert [s["people"] for s in body["steps"]] == [4, 3, 2]
    assert [s["dropped"] for s in body["steps"]] == [0, 1, 1]
    assert body["conversion"] == pytest.approx(0.5)
    # Medians over the best attempts: pricing->signup 60, 100, 30 s; signup->purchase 60, 100.
    assert body["steps"][1]["median_s"] == pytest.approx(60.0)
    assert body["steps"][2]["median_s"] == pytest.approx(80.0)
    # The window's edge: a buys exactly 120 s after pricing (in), b 200 s after (out).
    edge = _get(client, f"/api/v1/projects/{project.pk}/funnel/", steps=STEPS, window=120,
                start="now-1d")
    assert [s["people"] for s in edge["steps"]] == [4, 3, 1]
    past = _get(client, f"/api/v1/projects/{project.pk}/funnel/", steps=STEPS, window=119,
                start="now-1d")
    assert [s["people"] for s in past["steps"]] == [4, 3, 0]
    with_bots = _get(client, f"/api/v1/projects/{project.pk}/funnel/", steps=STEPS,
                     window=600, start="now-1d", bots="true")
    assert [s["people"] for s in with_bots["steps"]] == [5, 4, 2]


def test_funnel_orders_breakdown_and_the_people_who_dropped(funnel_shop, two_projects,
                                                             token_client):
    project, _ = funnel_shop
    client = token_client(two_projects["a_viewer"])
    url = f"/api/v1/projects/{project.pk}/funnel/"
    two = '[{"event": "signup"}, {"event": "page_view", "filters": ["path:/pricing"]}]'
    ordered = _get(client, url, steps=two, window=600, start="now-1d")
    assert [s["people"] for s in ordered["steps"]] == [3, 1]  # c: signup, then pricing
    anyhow = _get(client, url, steps=two, window=600, start="now-1d", order="any")
    assert [s["people"] for s in anyhow["steps"]] == [4, 3]
    strict = _get(client, url, steps=STEPS, window=600, start="now-1d", order="strict")
    assert [s["people"] for s in strict["steps"]] == [4, 3, 1]  # a's identify comes between
    split = _get(client, url, steps=STEPS, window=600, start="now-1d", breakdown="referrer")
    assert {b["value"]: [s["people"] for s in b["steps"]] for b in split["breakdowns"]} == {
        None: [3, 2, 1], "google.com": [1, 1, 1]}
    dropped = _get(client, f"{url}people/", steps=STEPS, window=600, start="now-1d", step=3,
                   outcome="dropped")
    assert [p["person_id"] for p in dropped["results"]] == ["anon-c"]
    converted = _get(client, f"{url}people/", steps=STEPS, window=600, start="now-1d", step=3,
                     outcome="converted")
    assert [(p["person_id"], p["properties"]) for p in converted["results"]] == [
        ("anon-b", {}), ("user-a", {"plan": "pro"})]


def test_campaigns_channels_and_bots(funnel_shop, two_projects, token_client):
    project, _ = funnel_shop
    client = token_client(two_projects["a_viewer"])
    url = "/api/v1/analytics/"
    params = {"project": project.pk, "start": "now-1d"}
    channels = _get(client, url + "channels", **params)["results"]
    assert {c["value"]: c["sessions"] for c in channels} == {
        "direct": 2, "organic_search": 1, "email": 1}
    campaigns = _get(client, url + "utm-campaigns", **params)["results"]
    assert [(c["value"], c["users"]) for c in campaigns] == [("spring", 1)]
    browsers = _get(client, url + "browsers", **params)["results"]
    assert [b["value"] for b in browsers] == ["Chrome"]
    with_bots = _get(client, url + "browsers", bots="true", **params)["results"]
    assert {b["value"]: b["events"] for b in with_bots} == {"Chrome": 12, "Googlebot": 2}
    overview = _get(client, url + "overview", **params)
    assert overview["events"]["value"] == 12
    assert overview["users"]["value"] == 4
    assert _get(client, url + "overview", bots="true", **params)["events"]["value"] == 14
    emailed = _get(client, url + "overview", filter="channel:email", **params)
    assert (emailed["events"]["value"], emailed["sessions"]["value"],
            emailed["users"]["value"]) == (1, 1, 1)
    series = _get(client, url + "timeseries", filter="channel:email", interval="hour", **params)
    assert sum(p["events"] for p in series["points"]) == 1
    pages = _get(client, url + "top-pages", filter="channel:email", **params)["results"]
    assert [(p["value"], p["events"]) for p in pages] == [("/pricing", 1)]


def test_sessions_people_explorer_and_paths(funnel_shop, two_projects, token_client):
    project, _ = funnel_shop
    client = token_client(two_projects["a_viewer"])
    api = f"/api/v1/projects/{project.pk}"
    sessions = _get(client, f"{api}/sessions/", start="now-1d")
    assert sessions["count"] == 4
    one = {s["session_id"]: s for s in sessions["results"]}["sc"]
    assert (one["entry_path"], one["exit_path"], one["pageviews"], one["duration_s"]) == (
        "/pricing", "/pricing", 2, 730.0)
    timeline = _get(client, f"{api}/sessions/sb/")["timeline"]
    assert [e["event"] for e in timeline] == ["page_view", "signup", "purchase"]
    people = _get(client, f"{api}/people/", start="now-1d", ordering="first_seen")
    assert [p["person_id"] for p in people["results"]] == ["user-a", "anon-b", "anon-c",
                                                          "anon-d"]
    assert _get(client, f"{api}/people/", search="pro")["count"] == 1
    person = _get(client, f"{api}/people/anon-a/")  # any linked id finds the person
    assert (person["person_id"], person["ids"], person["events_count"]) == (
        "user-a", ["anon-a", "user-a"], 4)
    assert [s["session_id"] for s in person["sessions"]] == ["sa"]
    first = _get(client, f"{api}/events/", start="now-1d", limit=5, columns="plan")
    second = _get(client, f"{api}/events/", start="now-1d", limit=5, after=first["next"])
    third = _get(client, f"{api}/events/", start="now-1d", limit=5, after=second["next"])
    seen = [e["uuid"] for page in (first, second, third) for e in page["results"]]
    assert len(seen) == len(set(seen)) == 12 and third["next"] is None
    pages = _get(client, f"{api}/paths/", origin="/pricing", start="now-1d", depth=2)
    # c's second view of /pricing follows a signup event, not a page: it is a reload here.
    assert {(n["step"], n["value"]): n["count"] for n in pages["nodes"]} == {
        (0, "/pricing"): 4, (1, "(end)"): 4}
    events = _get(client, f"{api}/paths/", origin="signup", kind="events", start="now-1d",
                  depth=2)
    assert events["sessions"] == 3
    assert {(n["step"], n["value"]): n["count"] for n in events["nodes"]} == {
        (0, "signup"): 3, (1, "$identify"): 1, (1, "purchase"): 1, (1, "page_view"): 1,
        (2, "purchase"): 1, (2, "(end)"): 1, (2, "signup"): 1}
    before = _get(client, f"{api}/paths/", origin="purchase", kind="events", start="now-1d",
                  depth=1, direction="previous")
    assert {(n["step"], n["value"]): n["count"] for n in before["nodes"]} == {
        (0, "purchase"): 2, (1, "$identify"): 1, (1, "signup"): 1}
    entries = _get(client, f"{api}/entry-pages/", start="now-1d")
    assert entries["entry_pages"] == [{"value": "/pricing", "sessions": 4}]


def test_goals_and_retention_in_a_time_zone(store, two_projects, token_client):
    project = two_projects["a"]
    project.timezone = "America/New_York"
    project.save()
    # Midnight in New York, three days ago: cohorts by local day.
    today = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo(project.timezone))
    day0 = today.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    visits = [("p1", 0, 1), ("p1", 1, 2), ("p2", 0, 23), ("p2", 2, 1), ("p3", 1, 5)]
    store.events(project, [
        _ev("page_view", who, f"{who}-{day}", (day0 + timedelta(days=day, hours=hour))
            .isoformat(), "/signup/done" if who == "p1" else "/") for who, day, hour in visits])
    rollups.fold()
    client = token_client(two_projects["a_editor"])
    api = f"/api/v1/projects/{project.pk}"
    body = _get(client, f"{api}/retention/", period="day",
                start=day0.isoformat(), end=(day0 + timedelta(days=3)).isoformat())
    assert [(c["size"], c["values"]) for c in body["cohorts"]] == [(2, [2, 1, 1]), (1, [1, 0])]
    made = client.post(f"{api}/goals/", {"name": "Signed up", "path_pattern": "/signup/*"},
                       format="json")
    assert made.status_code == 201, made.json()
    goals = _get(client, f"{api}/goals/conversions/", start=day0.isoformat())["results"]
    assert [(g["name"], g["events"], g["conversions"]) for g in goals] == [("Signed up", 2, 1)]
    assert goals[0]["conversion_rate"] == pytest.approx(1 / 3)
    bad = client.post(f"{api}/goals/", {"name": "Both", "event": "x", "path_pattern": "/y"},
                      format="json")
    assert (bad.status_code, bad.json()["code"]) == (400, "VALIDATION_ERROR")


def test_retention_merges_a_later_identify_link_counts_a_period_once_and_leaves_bots_out(
        store, two_projects, token_client):
    """Weekly cohorts (UTC) from the people rollup's active hours: anon-r comes in weeks 0 and 1
    and is linked to user-r in week 2, after both were folded — one person, back in weeks 1 and
    2; p2 comes
    back three times in week 1 (counted once); p3 starts in week 1; a crawler in weeks 0 and 1
    counts only with ``bots``. A chosen returning event reads the hourly sets instead and gives
    the same people back."""
    project = two_projects["a"]
    project.raw_retention_days = 35
    project.save()
    now = datetime.now(UTC)
    week0 = (now - timedelta(days=now.weekday() + 21)).replace(hour=10, minute=0, second=0,
                                                               microsecond=0)

    def at(week, hours=0):
        return (week0 + timedelta(days=7 * week, hours=hours)).isoformat()

    store.events(project, [_ev("page_view", "anon-r", "r0", at(0), "/"),
                           _ev("page_view", "anon-r", "r1", at(1, 3), "/"),
                           _ev("page_view", "p2", "p2a", at(0, 1), "/")], user_agent=CHROME)
    rollups.fold()
    store.events(project, [
        _ev("page_view", "p2", "p2b", at(1), "/"), _ev("page_view", "p2", "p2b", at(1, 1), "/"),
        _ev("page_view", "p2", "p2c", at(1, 50), "/"), _ev("page_view", "p3", "p3", at(1), "/"),
        _ev("$identify", "user-r", "r2", at(2), "/",
            properties={"$anon_distinct_id": "anon-r"}),
        _ev("purchase", "user-r", "r2", at(2, 1), "/buy"),
    ], user_agent=CHROME)
    store.events(project, [_ev("page_view", "crawler", "b0", at(0), "/"),
                           _ev("page_view", "crawler", "b1", at(1), "/")], user_agent=GOOGLEBOT)
    rollups.fold()
    client = token_client(two_projects["a_editor"])
    api = f"/api/v1/projects/{project.pk}/retention/"
    start = week0.replace(hour=0).isoformat()
    body = _get(client, api, period="week", start=start)
    assert [(c["cohort"][:10], c["size"], c["values"]) for c in body["cohorts"]] == [
        (week0.date().isoformat(), 2, [2, 2, 1, 0]),
        ((week0 + timedelta(days=7)).date().isoformat(), 1, [1, 0, 0])]
    with_bots = _get(client, api, period="week", start=start, bots="true")
    assert [(c["size"], c["values"]) for c in with_bots["cohorts"]] == [
        (3, [3, 3, 1, 0]), (1, [1, 0, 0])]
    purchases = _get(client, api, period="week", start=start, return_event="purchase")
    assert [(c["size"], c["values"]) for c in purchases["cohorts"]] == [
        (2, [2, 0, 1, 0]), (1, [1, 0, 0])]


def test_another_projects_reports_are_not_found(funnel_shop, two_projects, token_client):
    project, _ = funnel_shop
    outsider = token_client(two_projects["b_admin"])
    api = f"/api/v1/projects/{project.pk}"
    for path in ("/funnel/?steps=" + STEPS, "/retention/", "/paths/?origin=/", "/sessions/",
                 "/sessions/sa/", "/people/", "/people/user-a/", "/events/", "/goals/",
                 "/entry-pages/", "/goals/conversions/"):
        response = outsider.get(api + path)
        assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND"), path
    assert outsider.delete(f"{api}/people/user-a/").status_code == 404
    viewer = token_client(two_projects["a_viewer"])
    assert viewer.delete(f"{api}/people/user-a/").status_code == 403


@pytest.mark.parametrize(("params", "field"), [
    ({"steps": "[]"}, "steps"), ({"steps": "not json"}, "steps"),
    ({"steps": STEPS, "order": "sideways"}, "order"),
    ({"steps": STEPS, "filter": "nope"}, "filter"),
    ({"steps": STEPS, "breakdown": "secret column"}, "breakdown"),
    ({"steps": STEPS, "window": "0"}, "window"),
])
def test_bad_funnel_parameters_are_named(funnel_shop, two_projects, token_client, params,
                                         field):
    project, _ = funnel_shop
    response = token_client(two_projects["a_viewer"]).get(
        f"/api/v1/projects/{project.pk}/funnel/", params)
    assert response.status_code == 400, response.json()
    assert list(response.json()["details"]) == [field]


def _reference_paths(sessions, start, direction, depth):
    """(step, page, next page) -> sessions, the definition spelled out in Python: reloads
    collapse, paths follow the first time a session reaches the start page."""
    counts: dict[tuple, int] = {}
    for pages in sessions:
        collapsed = [p for i, p in enumerate(pages) if i == 0 or p != pages[i - 1]]
        if start not in collapsed:
            continue
        at = collapsed.index(start)
        seq = collapsed[at:] if direction == "next" else collapsed[at::-1]
        for step in range(min(depth, len(seq))):
            key = (step, seq[step], seq[step + 1] if step + 1 < len(seq) else "(end)")
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_page_paths_match_their_definition(store, two_projects):
    """Forty sessions of random page lists (reloads, the start page twice, sessions without
    it): every start page, both directions and every depth read the same pairs as the
    definition computed in Python."""
    import random

    from events.query import executor, paths
    from events.query.analytics import window

    project = two_projects["a"]
    rng = random.Random(17)
    pages = ["/", "/pricing", "/docs", "/blog", "/signup"]
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    sessions, items = [], []
    for n in range(40):
        seq = [rng.choice(pages) for _ in range(rng.randint(1, 9))]
        sessions.append(seq)
        items += [_ev("page_view", f"p{n}", f"s{n}", _t(base, n * 60 + i), page)
                  for i, page in enumerate(seq)]
    rng.shuffle(items)  # the fold orders each session's pages by time
    store.events(project, items, user_agent=CHROME)
    rollups.fold()
    span = window("now-1d", "now", tz=project.timezone)
    for start in pages:
        for direction in ("next", "previous"):
            for depth in (1, 3, 5):
                rows = executor.rows(paths.paths_statement(
                    project.pk, span, start=start, kind="pages", direction=direction,
                    depth=depth, filters=paths.NO_FILTERS))
                assert {(s, v, n): c for s, v, n, c in rows} == _reference_paths(
                    sessions, start, direction, depth), (start, direction, depth)


def test_page_paths_from_built_hours_match_their_definition(store, two_projects):
    """Sessions of two days ago, pre-aggregated per hour and day (events.pathhours): the month's
    answer, read partly from the day rollup and partly from the sessions, is the definition's; a
    page view arriving late for a built hour takes the hour and its day out until they are built
    again, and the answer counts it at once."""
    import random

    from events import pathhours
    from events.query import executor, paths
    from events.query.analytics import window

    project = two_projects["a"]
    rng = random.Random(18)
    pages = ["/", "/pricing", "/docs", "/blog"]
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=2)
    sessions, items = [], []
    for n in range(30):  # 20 in two built hours, 10 in the last hour (read live)
        at = hour + timedelta(minutes=n * 5) if n < 20 else \
            datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=50 - n)
        seq = [rng.choice(pages) for _ in range(rng.randint(1, 7))]
        sessions.append(seq)
        items += [_ev("page_view", f"q{n}", f"t{n}", (at + timedelta(seconds=i)).isoformat(),
                      page) for i, page in enumerate(seq)]
    store.events(project, items, user_agent=CHROME)
    rollups.fold()
    built = pathhours.build_due()
    assert {(project.pk, hour.isoformat()), (project.pk, (hour + timedelta(hours=1))
                                              .isoformat())} <= set(built)
    span = window("now-30d", "now", tz=project.timezone)

    def answer(start, direction, depth):
        return {(s, v, n): c for s, v, n, c in paths.page_rows(
            project.pk, span, start=start, direction=direction, depth=depth,
            filters=paths.NO_FILTERS)}

    def built_hours():
        return [at for kind, at in executor.rows(paths.built_statement(project.pk, span))
                if kind == "h"]

    def built_days():
        return [at for kind, at in executor.rows(paths.built_statement(project.pk, span))
                if kind == "d"]

    assert hour in built_hours()
    day = hour.replace(hour=0)
    assert day in built_days()  # its hours all built: added up
    assert paths.covered([("d", day), ("h", hour), ("h", day + timedelta(days=1))]) == (
        [day], [day + timedelta(days=1)])
    for start in pages:
        for direction in ("next", "previous"):
            for depth in (1, 4):
                assert answer(start, direction, depth) == _reference_paths(
                    sessions, start, direction, depth), (start, direction, depth)
    # A late page view for session t0 of the built hour: the fold unbuilds the hour.
    store.events(project, [_ev("page_view", "q0", "t0",
                               (hour + timedelta(seconds=30)).isoformat(), "/late")],
                 user_agent=CHROME)
    rollups.fold()
    sessions[0] = [*sessions[0], "/late"]
    assert hour not in built_hours() and day not in built_days()
    assert answer(sessions[0][0], "next", 4) == _reference_paths(
        sessions, sessions[0][0], "next", 4)
    assert pathhours.build_due() == [(project.pk, hour.isoformat())]
    assert hour in built_hours() and day in built_days()
    assert answer("/late", "previous", 4) == _reference_paths(sessions, "/late", "previous", 4)
