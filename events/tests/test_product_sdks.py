"""PostHog- and Segment-compatible capture over the live server, driven by the real `posthog`
and `segment-analytics-python` packages: events, page views and identify links land as the
platform's own events (the reports count them); the other shapes PostHog's browser SDK sends
(gzip, base64, form data); bad payloads and keys get the usual errors."""

import base64
import gzip
import json
import uuid

import pytest
import segment.analytics as segment
from posthog import Posthog

from events import query as engine
from events.models import Event, PersonAlias
from projects.models import IngestKey

pytestmark = pytest.mark.slow


@pytest.fixture
def project(ingest, make_project):
    return make_project("Shop")


def _key(project) -> str:
    return IngestKey.objects.get(project=project).key


def test_the_posthog_sdk_captures_and_identifies(ingest_server, project):
    client = Posthog(_key(project), host=ingest_server, sync_mode=True)
    marker = str(uuid.uuid4())
    client.capture("signup", distinct_id="anon-7", uuid=marker,
                   properties={"plan": "pro", "$current_url": "https://shop.example/pricing",
                               "$session_id": "s-1"})
    client.capture("$pageview", distinct_id="anon-7",
                   properties={"$current_url": "https://shop.example/docs?x=1",
                               "$referrer": "https://www.google.com/"})
    client.capture("$identify", distinct_id="user-7",
                   properties={"$anon_distinct_id": "anon-7"})
    client.alias(previous_id="user-7", distinct_id="user-7@example.com")
    client.shutdown()
    events = {e.event: e for e in Event.objects.filter(project=project)}
    assert set(events) == {"signup", "$pageview", "$identify"}
    signup = events["signup"]
    assert (str(signup.uuid), signup.distinct_id, signup.session_id, signup.path) == (
        marker, "anon-7", "s-1", "/pricing")
    assert signup.properties["plan"] == "pro" and "token" not in signup.properties
    assert (events["$pageview"].path, events["$pageview"].referrer_domain) == (
        "/docs", "google.com")
    links = dict(PersonAlias.objects.filter(project=project)
                 .values_list("distinct_id", "person_id"))
    assert links == {"anon-7": "user-7", "user-7@example.com": "user-7"}
    # The reports see one person behind the anonymous and the identified id.
    answer = engine.execute(project, query="uniq_users:events{}", start="now-1h", end="now",
                            step="1h", use_cache=False, table="raw")
    assert sum(v or 0 for _, v in answer["data"][0]["points"]) == 1


def test_the_segment_sdk_tracks_pages_and_identifies(ingest_server, project):
    segment.write_key = _key(project)
    segment.host = ingest_server
    segment.sync_mode = True
    segment.on_error = lambda error, batch: pytest.fail(f"segment: {error}")
    try:
        segment.track("user-9", "Order Completed", {"revenue": 42.5})
        segment.page("user-9", "Docs", "Pricing",
                     {"url": "https://shop.example/pricing", "referrer": "https://t.co/x"})
        segment.screen("user-9", "App", "Home")
        segment.identify("user-9", {"email": "nine@example.com"}, anonymous_id="anon-9")
        segment.flush()
    finally:
        segment.sync_mode = False
        segment.write_key = None
    events = {e.event: e for e in Event.objects.filter(project=project)}
    assert set(events) == {"Order Completed", "$pageview", "$screen", "$identify"}
    assert events["Order Completed"].properties == {"revenue": 42.5}
    assert events["Order Completed"].distinct_id == "user-9"
    assert (events["$pageview"].path, events["$pageview"].referrer_domain) == (
        "/pricing", "t.co")
    assert events["$screen"].properties["$screen_name"] == "Home"
    assert events["$identify"].properties["$set"] == {"email": "nine@example.com"}
    assert PersonAlias.objects.get(project=project, distinct_id="anon-9").person_id == "user-9"


def _posthog_body(project, names):
    return {"api_key": _key(project), "batch": [
        {"event": n, "distinct_id": "d1", "properties": {}} for n in names]}


def test_posthog_browser_shapes(ingest, project):
    body = json.dumps(_posthog_body(project, ["gz"])).encode()
    assert ingest.post("/e/?compression=gzip-js", content=gzip.compress(body)).json()[
        "status"] == 1
    b64 = base64.b64encode(json.dumps(_posthog_body(project, ["b64"])).encode())
    assert ingest.post("/i/v0/e/", content=b64).status_code == 200
    form = b"data=" + base64.b64encode(json.dumps(_posthog_body(project, ["form"])).encode())
    response = ingest.post("/capture/", content=form,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    single = {"token": _key(project), "event": "single", "distinct_id": "d2"}
    assert ingest.post("/capture", json=single).status_code == 200
    assert ingest.post("/batch/", content=gzip.compress(body),
                       headers={"Content-Encoding": "gzip"}).status_code == 200
    assert sorted(Event.objects.filter(project=project).values_list("event", flat=True)) == [
        "b64", "form", "gz", "gz", "single"]


def test_bad_payloads_and_keys(ingest, project):
    no_key = ingest.post("/batch/", json={"batch": [{"event": "x", "distinct_id": "d"}]})
    assert no_key.status_code == 401 and no_key.json()["code"] == "UNAUTHORIZED"
    lz = ingest.post("/e/?compression=lz64", content=b"xx")
    assert lz.status_code == 415 and "lz64" in lz.json()["error"]
    junk = ingest.post("/e/", content=b"%%%not json")
    assert junk.status_code == 400 and junk.json()["code"] in ("INVALID_BODY", "INVALID_JSON")
    mixed = ingest.post("/batch/", json={"api_key": _key(project), "batch": [
        {"event": "good", "distinct_id": "d"}, {"event": "no distinct id"}]})
    assert mixed.status_code == 200
    assert [r["index"] for r in mixed.json()["rejected"]] == [1]
    none_good = ingest.post("/batch/", json={"api_key": _key(project), "batch": [
        {"event": "no distinct id"}]})
    assert none_good.status_code == 400
    wrong_type = ingest.post("/v1/batch", json={"writeKey": _key(project), "batch": [
        {"type": "explode", "userId": "u"}]})
    assert wrong_type.status_code == 400 and "type" in wrong_type.json()["error"]
    assert list(Event.objects.filter(project=project).values_list("event", flat=True)) == [
        "good"]


CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/120.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def test_plausible_events_as_its_documentation_gives_them(ingest, project):
    key = IngestKey.objects.get(project=project)
    key.allowed_origins = ["https://shop.example"]
    key.save()

    def send(body, agent=CHROME):
        return ingest.post("/api/event", json=body,
                           headers={"User-Agent": agent, "Content-Type": "application/json"})

    first = send({"name": "pageview", "url": "https://shop.example/pricing?plan=pro",
                  "domain": "shop.example", "referrer": "https://news.ycombinator.com/item"})
    assert (first.status_code, first.text) == (202, "ok")
    assert send({"name": "Signup", "url": "https://shop.example/pricing",
                 "domain": "shop.example", "props": '{"plan": "pro"}'}).status_code == 202
    assert send({"n": "pageview", "u": "https://shop.example/docs", "d": "shop.example"},
                agent=FIREFOX).status_code == 202
    events = list(Event.objects.filter(project=project).order_by("timestamp"))
    assert [(e.event, e.path) for e in events] == [
        ("$pageview", "/pricing"), ("Signup", "/pricing"), ("$pageview", "/docs")]
    assert events[0].referrer_domain == "news.ycombinator.com"
    assert events[0].browser == "Chrome" and events[2].browser == "Firefox"
    assert events[1].properties == {"plan": "pro"}
    # Cookieless visitors: the same browser is one visitor, another browser another.
    assert events[0].distinct_id == events[1].distinct_id != events[2].distinct_id
    assert events[0].distinct_id.startswith("v_")

    unknown = send({"name": "pageview", "url": "https://other.example/", "domain":
                    "other.example"})
    assert unknown.status_code == 401 and "other.example" in unknown.json()["error"]
    missing = send({"name": "pageview", "domain": "shop.example"})
    assert missing.status_code == 400 and missing.json()["error"] == "url: required."
