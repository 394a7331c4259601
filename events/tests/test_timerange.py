"""A range's buckets: their epoch seconds (what answers and statements use) are those of the
bucket starts, for steps under a day and for local days across DST changes, whatever the range's
start and end."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from events.query.timerange import DAY, Range, make_range

STEPS = st.sampled_from([1, 10, 15, 60, 300, 3600, 7200, DAY, 7 * DAY])
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                         "Asia/Kathmandu"])


@settings(max_examples=300, deadline=None)
@given(start=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(UTC)),
       step=STEPS, count=st.integers(0, 400), extra=st.integers(0, DAY), tz=ZONES,
       aligned=st.booleans())
def test_epochs_are_the_bucket_starts_in_whole_seconds(start, step, count, extra, tz, aligned):
    end = start + timedelta(seconds=step * count + extra % step)
    rng = (make_range(start, end, step, tz=tz, now=end) if aligned and end > start
           else Range(start, end, step, tz, end))
    starts = rng.buckets()
    assert rng.epochs() == tuple(int(b.timestamp()) for b in starts)
    assert rng.bucket_count() == len(starts)
    assert all(a < b for a, b in pairwise(starts))
    assert all(rng.start <= b < rng.end for b in starts)
    if step % DAY:
        assert starts == [rng.start + timedelta(seconds=i * step) for i in range(len(starts))]


def test_local_days_across_a_dst_change_are_23_and_25_hours():
    rng = make_range(datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), DAY,
                     tz="Europe/Berlin", now=datetime(2026, 4, 1, tzinfo=UTC))
    epochs = rng.epochs()
    assert [b - a for a, b in pairwise(epochs)] == [
        DAY, DAY - 3600, DAY, DAY]
    assert epochs[0] == int(datetime(2026, 3, 27, 23, tzinfo=UTC).timestamp())
