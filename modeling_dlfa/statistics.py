"""Spread over seeds and paired differences with 95% confidence intervals (Student's t)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

# Two-sided 95% quantiles of Student's t by degrees of freedom; beyond 30 the normal 1.96 is within 2%.
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile_975(degrees_of_freedom: int) -> float:
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees_of_freedom={degrees_of_freedom} must be at least 1")
    return _T_975[degrees_of_freedom - 1] if degrees_of_freedom <= len(_T_975) else 1.96


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and the 95% interval of the mean of `n` values (no interval for n=1)."""

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def excludes_zero(self) -> bool:
        """The interval lies wholly on one side of 0: the difference is not explained by seed noise alone."""
        return self.ci_low is not None and (self.ci_low > 0 or self.ci_high < 0)

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(values: Iterable[float]) -> Summary:
    values = [float(value) for value in values if value is not None and math.isfinite(value)]
    if not values:
        raise ValueError("nothing to summarize: no finite values")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return Summary(1, mean, None, None, None)
    std = statistics.stdev(values)
    half = t_quantile_975(len(values) - 1) * std / math.sqrt(len(values))
    return Summary(len(values), mean, std, mean - half, mean + half)


def paired_difference(treatment: Mapping[object, float], reference: Mapping[object, float]) -> Summary:
    """`treatment - reference` over the keys (seeds) both have: the paired per-seed difference."""
    common = [key for key in treatment if key in reference]
    if not common:
        raise ValueError("no seed in common between the two settings")
    return summarize(treatment[key] - reference[key] for key in common)
