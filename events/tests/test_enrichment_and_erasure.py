"""What ingest adds to an event — UTM fields and channels by the published rules, the country of
known addresses (the IP itself never stored), known crawlers flagged — and erasing a person
end to end: every event of every linked id gone, the rollups equal to what is left, no hash of
theirs anywhere, through the API and the admin."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client

from events import channels, enrich, rollups
from events.models import Person

SITE = "https://shop.example"


@pytest.mark.parametrize(("source", "medium", "referrer", "pageview", "channel"), [
    (None, None, None, True, "direct"),
    (None, None, None, False, None),
    (None, None, "google.com", True, "organic_search"),
    (None, None, "duckduckgo.com", True, "organic_search"),
    (None, None, "t.co", True, "social"),
    (None, None, "news.ycombinator.com", True, "social"),
    (None, None, "github.com", True, "referral"),
    ("newsletter", "email", None, True, "email"),
    ("google", "cpc", "google.com", True, "paid_search"),
    (None, "ppc", None, True, "paid_search"),
    ("facebook", "paid_social", None, True, "social"),
    ("partner", "display", None, True, "other"),
    ("twitter", None, None, True, "social"),
    ("bing", "organic", None, True, "organic_search"),
    ("blog", "referral", None, True, "referral"),
])
def test_channel_rules(source, medium, referrer, pageview, channel):
    assert channels.channel_of(source, medium, referrer, pageview) == channel


def test_utm_fields_from_the_url_first_then_the_properties():
    assert channels.utm_of(f"{SITE}/?utm_source=Google&utm_medium=CPC&utm_campaign=Spring%20"
                           "Sale&utm_term=shoes", {"utm_content": "banner"}) == {
        "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Spring Sale",
        "utm_term": "shoes", "utm_content": "banner"}
    assert channels.utm_of(f"{SITE}/", {"$utm_source": "newsletter"})["utm_source"] == \
        "newsletter"
    assert channels.utm_of(None, {})["utm_source"] is None
    assert channels.external_host(f"{SITE}/a", "shop.example") is None
    assert channels.external_host(f"{SITE}/a", "google.com") == "google.com"


@pytest.mark.parametrize(("ip", "country"), [
    ("8.8.8.8", "US"), ("81.2.69.142", "GB"), ("2a00:1450:4001::1", "IE"),
    ("192.0.2.1", None), ("127.0.0.1", None), ("10.1.2.3", None), ("not an ip", None),
    ("", None),
])
def test_country_of_known_addresses(ip, country):
    assert enrich.country_of(ip) == country


@pytest.mark.parametrize(("agent", "bot"), [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", True),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
    ("curl/8.5.0", True),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/130.0.0.0 Safari/537.36", False),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4 Mobile/15E148 Safari/604.1", False),
])
def test_known_crawlers_are_flagged(agent, bot):
    assert enrich.agent(agent).bot is bot


@pytest.mark.slow
def test_ingest_stores_country_campaign_and_channel_but_no_ip(ingest, two_projects):
    project = two_projects["a"]
    key = project.ingest_keys.get()
    response = ingest.post("/api/v1/events/batch", headers={
        "X-API-Key": key.key, "X-Forwarded-For": "81.2.69.142"}, json={"events": [
        {"event": "page_view", "distinct_id": "v", "session_id": "s",
         "page_url": f"{SITE}/?utm_source=newsletter&utm_medium=email&utm_campaign=may"},
        {"event": "order", "distinct_id": "v", "properties": {"$ip": "8.8.8.8", "n": 1}}]})
    assert response.status_code == 202, response.text
    with connection.cursor() as cursor:
        cursor.execute("SELECT event, country, channel, utm_source, utm_campaign, properties::text"
                       " FROM events_event WHERE project_id = %s ORDER BY event DESC",
                       [project.pk])
        rows = cursor.fetchall()
    assert rows[0][2:5] == ("email", "newsletter", "may")
    assert rows[1][:2] == ("order", "US")  # the SDK's $ip: its country, then dropped
    assert "8.8.8.8" not in rows[1][5] and "$ip" not in rows[1][5]


def _rollup_matches_raw(project_id):
    """The rollups hold exactly what the remaining events add up to."""
    with connection.cursor() as cursor:
        cursor.execute("""
            SELECT (SELECT coalesce(sum(count), 0) FROM events_eventrollup1h
                    WHERE project_id = %(p)s),
                   (SELECT coalesce(sum(events), 0) FROM events_dimrollup1h
                    WHERE project_id = %(p)s AND dim = 'all'),
                   (SELECT coalesce(sum(events), 0) FROM events_dimrollup1d
                    WHERE project_id = %(p)s AND dim = 'browser'),
                   (SELECT coalesce(sum(sessions), 0) FROM events_sessionhour
                    WHERE project_id = %(p)s),
                   (SELECT count(*) FROM events_event WHERE project_id = %(p)s),
                   (SELECT count(DISTINCT session_id) FROM events_event
                    WHERE project_id = %(p)s)""", {"p": project_id})
        hourly, dims, daily, sessions, events, distinct_sessions = cursor.fetchone()
    assert hourly == dims == daily == events
    assert sessions == distinct_sessions


@pytest.mark.slow
def test_erasing_a_person_leaves_nothing_behind(store, two_projects, token_client):
    project = two_projects["a"]
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

    def at(seconds):
        return (now + timedelta(seconds=seconds)).isoformat()

    chrome = "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
    store.events(project, [
        {"event": "page_view", "distinct_id": "anon-9", "session_id": "s9", "timestamp": at(0),
         "page_url": f"{SITE}/?utm_source=twitter"},
        {"event": "$identify", "distinct_id": "ann", "session_id": "s9", "timestamp": at(5),
         "properties": {"$anon_distinct_id": "anon-9", "$set": {"email": "ann@example.com"}}},
    ], user_agent=chrome)
    rollups.fold()  # part of her is folded before the rest arrives
    store.events(project, [
        {"event": "purchase", "distinct_id": "ann", "session_id": "s10", "timestamp": at(600)},
        {"event": "page_view", "distinct_id": "bob", "session_id": "s11", "timestamp": at(30),
         "page_url": f"{SITE}/"},
    ], user_agent=chrome)
    client = token_client(two_projects["a_admin"])
    assert client.get(f"/api/v1/projects/{project.pk}/people/ann/").json()["ids"] == [
        "ann", "anon-9"]
    response = client.delete(f"/api/v1/projects/{project.pk}/people/anon-9/")
    assert response.status_code == 200, response.json()
    assert response.json() == {"person_id": "ann", "ids": ["ann", "anon-9"], "events": 3,
                               "sessions": 2}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event WHERE distinct_id IN ('ann', 'anon-9')")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM events_person WHERE person_id IN ('ann', 'anon-9')")
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM events_personalias WHERE project_id = %s",
                       [project.pk])
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM events_sessionrollup "
                       "WHERE session_id IN ('s9', 's10')")
        assert cursor.fetchone()[0] == 0
        hashes = "ARRAY[hashtextextended('ann', 0), hashtextextended('anon-9', 0)]"
        for table, column in (("events_eventrollup1h", "distinct_ids"),
                              ("events_hourrollup", "distinct_ids"),
                              ("events_dimrollup1h", "visitors"),
                              ("events_dimrollup1d", "visitors")):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} && {hashes}")  # noqa: S608
            assert cursor.fetchone()[0] == 0, table
    rollups.fold()
    _rollup_matches_raw(project.pk)
    overview = client.get("/api/v1/analytics/overview",
                          {"project": project.pk, "start": "now-1d"}).json()
    assert (overview["events"]["value"], overview["users"]["value"]) == (1, 1)
    assert client.get(f"/api/v1/projects/{project.pk}/people/ann/").status_code == 404


@pytest.mark.slow
def test_the_admin_action_erases_a_person(store, two_projects):
    project = two_projects["a"]
    admin = two_projects["a_admin"]
    admin.is_staff = True
    admin.save()
    admin.user_permissions.set(Permission.objects.filter(codename__in=(
        "view_person", "delete_person")))
    store.events(project, [{"event": "page_view", "distinct_id": "zoe", "session_id": "z"}])
    rollups.fold()
    person = Person.objects.get(project=project, person_id="zoe")
    client = Client()
    client.force_login(admin)
    response = client.post("/admin/events/person/", {
        "action": "erase", "_selected_action": [person.pk]})
    assert response.status_code == 302
    assert not Person.objects.filter(person_id="zoe").exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event WHERE distinct_id = 'zoe'")
        assert cursor.fetchone()[0] == 0
    _rollup_matches_raw(project.pk)
