"""The projection math of "where to build next": a least-squares line through a monthly series,
carried ahead, with an 80 % prediction interval from the residuals. Pure functions."""
from __future__ import annotations

import math
from dataclasses import dataclass

# Fewer months than this and the projection is shown as not reliable.
MIN_RELIABLE_MONTHS = 6
INTERVAL_PERCENT = 80
# The 0.90 quantile of Student's t by degrees of freedom: the half-width factor of a two-sided
# 80 % interval (standard tables). At most 24 months are fitted, so 22 degrees of freedom.
T_90 = {1: 3.078, 2: 1.886, 3: 1.638, 4: 1.533, 5: 1.476, 6: 1.440, 7: 1.415, 8: 1.397, 9: 1.383, 10: 1.372,
        11: 1.363, 12: 1.356, 13: 1.350, 14: 1.345, 15: 1.341, 16: 1.337, 17: 1.333, 18: 1.330, 19: 1.328,
        20: 1.325, 21: 1.323, 22: 1.321, 23: 1.319, 24: 1.318, 25: 1.316, 26: 1.315, 27: 1.314, 28: 1.313,
        29: 1.311, 30: 1.310}
Z_90 = 1.2816  # beyond the table, the normal quantile


@dataclass(frozen=True)
class Line:
    intercept: float  # the fitted value at the first month (x = 0)
    slope: float  # change per month

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def least_squares(ys: list[float]) -> Line:
    """The line minimising the squared distances to ``ys`` at x = 0, 1, 2, ...; one value gives a
    flat line through it."""
    n = len(ys)
    if n == 0:
        raise ValueError("no values to fit")
    mean_x, mean_y = (n - 1) / 2, sum(ys) / n
    sxx = sum((x - mean_x) ** 2 for x in range(n))
    slope = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(ys)) / sxx if sxx else 0.0
    return Line(mean_y - slope * mean_x, slope)


@dataclass(frozen=True)
class Projection:
    months: int  # the months fitted
    slope: float  # per month
    value: float  # the line's value ``ahead`` months after the last month, never below 0
    low: float | None  # the 80 % prediction interval (None with fewer than 3 months: no spread to measure)
    high: float | None
    reliable: bool  # at least MIN_RELIABLE_MONTHS months


def project(ys: list[float], ahead: int = 12) -> Projection:
    """Carry the least-squares line of ``ys`` ``ahead`` months past the last value, with the
    prediction interval s·t·√(1 + 1/n + (x₀ − x̄)²/Sxx), s the residual standard error."""
    n = len(ys)
    line = least_squares(ys)
    x0 = n - 1 + ahead
    value = line.at(x0)
    low = high = None
    if n >= 3:
        mean_x = (n - 1) / 2
        sxx = sum((x - mean_x) ** 2 for x in range(n))
        residuals = sum((y - line.at(x)) ** 2 for x, y in enumerate(ys))
        s = math.sqrt(residuals / (n - 2))
        half = T_90.get(n - 2, Z_90) * s * math.sqrt(1 + 1 / n + (x0 - mean_x) ** 2 / sxx)
        # Demand cannot fall below nobody.
        low, high = max(value - half, 0.0), max(value + half, 0.0)
    return Projection(months=n, slope=line.slope, value=max(value, 0.0), low=low, high=high,
                      reliable=n >= MIN_RELIABLE_MONTHS)
