"""The NAB score (standard profile) on hand-made alarms: the numbers its published rules give."""

import math

import pytest

from ml import nab

EDGE = 2 / (1 + math.exp(-5)) - 1  # sigma(-1): an alarm at a window's first point


def test_an_alarm_at_the_start_of_the_only_window_scores_100_and_no_alarm_0():
    windows = [(50, 59)]
    caught = nab.score_file(100, [50], windows)
    assert caught.raw == pytest.approx(EDGE)
    assert (caught.true_positives, caught.false_positives, caught.missed) == (1, 0, 0)
    assert nab.normalised([caught]) == pytest.approx(100.0)
    assert nab.normalised([nab.score_file(100, [], windows)]) == pytest.approx(0.0)


def test_only_the_first_alarm_of_a_window_counts_and_later_in_it_counts_less():
    first = nab.score_file(100, [55, 56, 57], [(50, 59)])
    assert first.true_positives == 1
    assert first.raw == pytest.approx(2 / (1 + math.exp(5 * -0.5)) - 1)  # y = -5/10


def test_false_alarms_before_and_after_windows_and_in_the_probation():
    result = nab.score_file(100, [5, 30, 70, 99], [(50, 59)])
    # 5 is probationary (the first 15 points); 30 precedes every window: -0.11; 70 is 11
    # points after a window of 10 (y = 11/9); 99 is past 3 window lengths: -0.11.
    after = 0.11 * (2 / (1 + math.exp(5 * 11 / 9)) - 1)
    assert result.false_positives == 3
    assert result.missed == 1
    assert result.raw == pytest.approx(-0.11 + after - 0.11 - 1.0)


def test_the_total_is_normalised_over_all_files_together():
    files = [nab.score_file(100, [50], [(50, 59)]), nab.score_file(100, [], [(20, 29)])]
    assert nab.normalised(files) == pytest.approx(100 * (EDGE - 1 + 2) / (2 * EDGE + 2))
