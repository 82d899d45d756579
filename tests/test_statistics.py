"""Seed spread and paired differences with their 95% intervals."""

import math
import statistics as stdlib

import pytest

from modeling_dlfa.statistics import paired_difference, summarize, t_quantile_975


def test_summary_of_three_seeds_uses_students_t():
    summary = summarize([70.0, 72.0, 74.0])
    assert summary.n == 3 and summary.mean == pytest.approx(72.0) and summary.std == pytest.approx(2.0)
    half = 4.303 * 2.0 / math.sqrt(3)
    assert (summary.ci_low, summary.ci_high) == pytest.approx((72.0 - half, 72.0 + half))
    assert summarize([1.0, 1.2, 0.9, 1.1]).excludes_zero
    assert not summarize([1.0, -1.2, 0.9, 0.1]).excludes_zero


def test_one_seed_has_no_interval_and_nothing_is_refused():
    assert summarize([3.0]).ci_low is None and not summarize([3.0]).excludes_zero
    with pytest.raises(ValueError, match="no finite values"):
        summarize([float("nan"), None])
    assert t_quantile_975(100) == 1.96
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_paired_difference_pairs_by_seed():
    treatment = {1: 75.0, 2: 71.0, 3: 80.0}
    reference = {3: 79.0, 1: 74.5, 2: 70.0, 4: 10.0}  # seed 4 has no partner and is left out
    summary = paired_difference(treatment, reference)
    deltas = [0.5, 1.0, 1.0]
    assert summary.n == 3 and summary.mean == pytest.approx(stdlib.fmean(deltas))
    assert summary.std == pytest.approx(stdlib.stdev(deltas))
    # Unpaired, the seed-to-seed spread (std ~4.5) would hide a difference the pairing shows clearly.
    assert summary.excludes_zero
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({1: 1.0}, {2: 1.0})
