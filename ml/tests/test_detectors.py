"""The detectors on generated series with known anomalies at exact positions: each finds what
it is made for where it was injected, none alarms on the clean series, scoring is incremental
(point by point gives what a batch gives), and a stored state scores like the live one."""

import pickle

import numpy as np
import pytest

from ml.detectors import DEFAULT, Series, create, episodes, listed, restore, walk_forward

STEP = 300
DAY = 86400
START = 1_760_000_000 // DAY * DAY  # a midnight, UTC


def daily(days: float, *, seed: int = 1, noise: float = 1.0, start: int = START) -> Series:
    """5-minute points with a daily rhythm (50 ± 20) and normal noise."""
    times = np.arange(start, start + int(days * DAY), STEP, dtype=np.int64)
    rng = np.random.default_rng(seed)
    phase = 2 * np.pi * (times % DAY) / DAY
    return Series(times, 50 + 20 * np.sin(phase) + rng.normal(0, noise, len(times)))


def split(series: Series, days: int) -> tuple[Series, Series]:
    at = int(np.searchsorted(series.times, series.times[0] + days * DAY))
    return series.slice(0, at), series.slice(at, len(series))


@pytest.mark.parametrize("name", [cls.name for cls in listed()])
def test_no_detector_alarms_on_the_clean_day_after_its_training(name):
    history, tomorrow = split(daily(15), 14)
    scores = create(name, "medium").fit(history).score(tomorrow)
    assert len(scores) == 288
    assert not scores.anomaly.any(), np.flatnonzero(scores.anomaly)
    assert np.isfinite(scores.score).all()


@pytest.mark.parametrize(("name", "sensitivity"), [
    ("ensemble", "medium"), ("seasonal", "medium"), ("forecast", "medium"),
    # An isolation depth saturates: however far out, a spike isolates in about one split, so
    # the forest needs its high sensitivity for what the others call clear at medium.
    ("iforest", "high")])
def test_a_spike_is_found_at_the_point_it_was_injected(name, sensitivity):
    history, tomorrow = split(daily(15), 14)
    tomorrow.values[100] += 30  # 30 sigma of the noise
    scores = create(name, sensitivity).fit(history).score(tomorrow)
    found = episodes(scores)
    assert [e.start for e in found] == [100]
    assert found[0].peak == 100
    assert scores.reasons[100], "an anomaly comes with its explanation"
    assert all(0 < c.weight <= 1 for c in scores.reasons[100])


def test_the_seasonal_baseline_says_how_far_from_which_median():
    history, tomorrow = split(daily(15), 14)
    tomorrow.values[100] += 30
    detector = create("seasonal", "medium").fit(history)
    scores = detector.score(tomorrow)
    assert detector.trained["season"]["period"] == DAY
    (reason,) = scores.reasons[100]
    assert reason.feature == "hour-of-day median"
    assert "\u03c3 above the hour-of-day median" in reason.text
    assert scores.lower[100] < scores.expected[100] < scores.upper[100] < tomorrow.values[100]


def test_a_value_normal_for_the_day_but_not_for_its_hour_is_found_by_the_seasonal_baseline():
    history, tomorrow = split(daily(15), 14)
    trough = int(np.argmin(tomorrow.values[:288]))
    tomorrow.values[trough] = 69.0  # the level of the daily peak, at the trough's hour
    assert history.values.min() < 69.0 < history.values.max()
    scores = create("seasonal", "medium").fit(history).score(tomorrow)
    assert np.flatnonzero(scores.anomaly).tolist() == [trough]


def test_a_level_shift_is_found_soon_after_it_starts_and_once():
    series = daily(16, noise=1.0)
    history, rest = split(series, 14)
    rest.values[150:] += 8  # a lasting step of 8 sigma, smaller than the daily swing
    scores = create("levelshift", "medium").fit(history).score(rest)
    found = episodes(scores)
    assert len(found) == 1
    assert 150 <= found[0].start <= 150 + 12, found[0].start  # within the hour it takes
    assert "levelshift" in create("levelshift").name
    assert any("shift" in c.feature or "level" in c.feature
               for c in scores.reasons[found[0].start])


def test_the_default_finds_a_spike_a_dip_and_a_step_and_nothing_else():
    series = daily(18, seed=3)
    history, rest = split(series, 14)
    rest.values[60] += 25
    rest.values[400] -= 25
    rest.values[800:] += 12
    scores = create(DEFAULT, "medium").fit(history).score(rest)
    starts = [e.start for e in episodes(scores)]
    assert starts[:2] == [60, 400]
    assert len(starts) == 3 and 800 <= starts[2] <= 812, starts


def test_sensitivity_orders_the_bands():
    history, tomorrow = split(daily(15), 14)
    widths = {s: float(np.mean(create("seasonal", s).fit(history).score(tomorrow).upper
                               - create("seasonal", s).fit(history).score(tomorrow).lower))
              for s in ("low", "medium", "high")}
    assert widths["high"] < widths["medium"] < widths["low"]


@pytest.mark.parametrize("name", [cls.name for cls in listed()])
def test_scoring_point_by_point_gives_what_a_batch_gives_and_a_stored_state_too(name):
    history, tomorrow = split(daily(15), 14)
    tomorrow.values[100] += 30
    batch = create(name, "medium").fit(history)
    at_once = batch.score(tomorrow)

    live = create(name, "medium").fit(history)
    stored = pickle.loads(pickle.dumps(live.state()))  # noqa: S301 - our own bytes
    one_by_one = []
    for i in range(len(tomorrow)):
        detector = restore(stored)
        one_by_one.append(detector.score(tomorrow.slice(i, i + 1)))
        stored = {**stored, "rolling": pickle.loads(pickle.dumps(detector.rolling))}  # noqa: S301
    score = np.concatenate([s.score for s in one_by_one])
    anomaly = np.concatenate([s.anomaly for s in one_by_one])
    np.testing.assert_allclose(score, at_once.score, rtol=1e-9, atol=1e-9)
    assert (anomaly == at_once.anomaly).all()


def test_walk_forward_never_judges_a_point_with_what_came_after_it():
    series = daily(6, seed=5)
    scores, _ = walk_forward(lambda: create("seasonal", "medium"), series, min_history=2 * DAY)
    cut = len(series) - 100
    head, _ = walk_forward(lambda: create("seasonal", "medium"), series.slice(0, cut),
                           min_history=2 * DAY)
    np.testing.assert_array_equal(np.nan_to_num(head.score, nan=-1),
                                  np.nan_to_num(scores.score[:cut], nan=-1))
    first = int(np.searchsorted(series.times, series.times[0] + 2 * DAY))
    assert np.isnan(scores.score[:first]).all()  # nothing judged before the first training
    assert np.isfinite(scores.score[first:]).all()


def test_too_short_a_history_is_refused_with_a_reason():
    from ml.detectors import NotEnoughData

    with pytest.raises(NotEnoughData, match="at least"):
        create(DEFAULT).fit(daily(0.05))


def test_an_unknown_detector_or_sensitivity_is_refused():
    with pytest.raises(ValueError, match="unknown detector"):
        create("magic")
    with pytest.raises(ValueError, match="sensitivity"):
        create("seasonal", "extreme")
