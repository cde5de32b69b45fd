"""Seeds to statements: the mean and spread of a metric over seeds, and the paired difference of two configs with a
95% confidence interval (Student's t), so a study can say whether an effect is larger than seed-to-seed noise.

    >>> s = summary([3.0, 3.2, 3.1])                               # mean, sample sd, n
    >>> round(s.mean, 6), round(s.sd, 6), s.n
    (3.1, 0.1, 3)
    >>> d = paired_difference([3.0, 3.2, 3.1], [2.9, 3.0, 2.95])  # b - a, seed by seed
    >>> round(d.mean, 3), round(d.low, 3), round(d.high, 3), d.clear
    (-0.15, -0.274, -0.026, True)

Pairing by seed matters: runs of two configs with the same seed share their initial weights (where the shapes agree)
and batch order, so much of the seed-to-seed spread cancels in their difference. No scipy here: the t quantile is
found by bisection on the t distribution's CDF (Simpson's rule on its density).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    mean: float
    sd: float  # sample standard deviation (n - 1); 0 for one value
    n: int


@dataclass(frozen=True)
class Difference:
    mean: float  # mean of b - a over the paired seeds
    low: float  # 95% confidence interval of that mean (t, n - 1 degrees of freedom); +-inf for one pair
    high: float
    n: int

    @property
    def clear(self) -> bool:
        """The interval excludes zero: the effect is distinguishable from seed noise at 95%."""
        return self.low > 0 or self.high < 0


def summary(values: list[float]) -> Summary:
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return Summary(mean, sd, n)


def paired_difference(a: list[float], b: list[float], confidence: float = 0.95) -> Difference:
    """b - a seed by seed (a[i] and b[i] share seed i): the mean and its t confidence interval."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired values must be the same non-zero length ({len(a)} vs {len(b)})")
    s = summary([y - x for x, y in zip(a, b)])
    if s.n == 1:
        return Difference(s.mean, -math.inf, math.inf, 1)
    half = t_quantile(0.5 + confidence / 2, s.n - 1) * s.sd / math.sqrt(s.n)
    return Difference(s.mean, s.mean - half, s.mean + half, s.n)


def t_pdf(x: float, df: int) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))


def t_cdf(x: float, df: int, intervals: int = 2000) -> float:
    """P(T <= x) for x >= 0: 1/2 plus Simpson's rule on the density over [0, x]."""
    if x < 0:
        return 1 - t_cdf(-x, df, intervals)
    h = x / intervals
    inner = sum((4 if i % 2 else 2) * t_pdf(i * h, df) for i in range(1, intervals))
    return 0.5 + h / 3 * (t_pdf(0, df) + inner + t_pdf(x, df))


def t_quantile(p: float, df: int) -> float:
    """The x with P(T <= x) = p, for 0.5 <= p < 1 (e.g. 0.975 -> 12.706 at df 1, 4.303 at df 2, 1.960 as df -> inf)."""
    if not 0.5 <= p < 1 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1 (got p={p}, df={df})")
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:  # heavy tails at df 1: the 0.975 quantile is 12.7
        high *= 2
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2
