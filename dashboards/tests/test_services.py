"""The services given typed values directly, as the demo, the benchmarks and other apps' tests
call them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from analytics_site.errors import ApiError
from dashboards import services
from dashboards.models import Annotation

pytestmark = pytest.mark.django_db


def test_an_annotation_at_an_offset_postgresql_refuses_is_stored_in_utc(make_project):
    # +21:02 is a tzinfo Python makes and PostgreSQL refuses ("time zone displacement out of
    # range"): stored as the UTC instant it is.
    far_east = timezone(timedelta(hours=21, minutes=2))
    project = make_project()
    made = services.create_annotation(
        project=project, text="Far east", at=datetime(2026, 11, 21, 10, 0, tzinfo=far_east),
        ends_at=datetime(2026, 11, 21, 12, 0, tzinfo=far_east))
    stored = Annotation.objects.get(pk=made.pk)
    assert (stored.at, stored.ends_at) == (datetime(2026, 11, 20, 12, 58, tzinfo=UTC),
                                           datetime(2026, 11, 20, 14, 58, tzinfo=UTC))


def test_an_import_lays_its_panels_out_and_names_the_one_whose_query_fails(make_project):
    project = make_project()
    draft = {"title": "CPU", "query": "avg:cpu{}", "x": 0, "y": 0, "w": 6, "h": 4}
    dashboard = services.import_dashboard(
        project=project, user=None, name="Hosts",
        variables=[{"name": "host", "metric": "cpu", "tag": "host"}],
        panels=[draft, {**draft, "x": 6, "options": {"unit": "%"}}])
    assert [(p.x, p.options) for p in dashboard.panels.all()] == [(0, {}), (6, {"unit": "%"})]
    with pytest.raises(ApiError) as failed:
        services.import_dashboard(project=project, user=None, name="Broken",
                                  panels=[draft, {**draft, "y": 4, "query": "avg:cpu{"}])
    assert (failed.value.code, failed.value.details["panel"]) == ("QUERY_SYNTAX", 1)
    assert list(project.dashboards.values_list("name", flat=True)) == ["Hosts"]
