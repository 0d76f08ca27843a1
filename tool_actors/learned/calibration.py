"""The judge's monotone calibration: raw network output → score on the documented 1–5 scale.

A four-parameter logistic, the mapping IQA studies fit between an objective score and a mean
opinion score (VQEG): ``score = lo + (hi − lo) · sigmoid((raw − centre) / width)`` with
1 ≤ lo < hi ≤ 5 and width > 0, so it is strictly increasing (rankings and the sign of every score
difference are kept) and its values lie inside (1, 5). It is fitted by least squares on held-out
synthetic images against their full-reference quality level (``data.fr_level``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

SCORE_RANGE: tuple[float, float] = (1.0, 5.0)


@dataclass(frozen=True)
class Logistic4:
    """``lo + (hi − lo) · sigmoid((raw − centre) / width)``."""

    lo: float
    hi: float
    centre: float
    width: float

    def __post_init__(self) -> None:
        if not (SCORE_RANGE[0] <= self.lo < self.hi <= SCORE_RANGE[1] and self.width > 0):
            raise ValueError(f"invalid calibration {self}: need {SCORE_RANGE[0]} ≤ lo < hi ≤ {SCORE_RANGE[1]} "
                             "and width > 0")

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        z = (np.asarray(raw, dtype=np.float64) - self.centre) / self.width
        return (self.lo + (self.hi - self.lo) / (1.0 + np.exp(-z))).astype(np.float32)

    def to_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> Logistic4:
        missing = {"lo", "hi", "centre", "width"} - set(data)
        if missing:
            raise ValueError(f"calibration is missing {', '.join(sorted(missing))}")
        return cls(float(data["lo"]), float(data["hi"]), float(data["centre"]), float(data["width"]))

    @classmethod
    def fit(cls, raw: np.ndarray, target: np.ndarray) -> Logistic4:
        """Least-squares fit of ``target ≈ f(raw)`` within the bounds."""
        from scipy.optimize import curve_fit

        raw = np.asarray(raw, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        if raw.size < 8 or raw.shape != target.shape:
            raise ValueError(f"calibration needs ≥ 8 matching samples, got raw {raw.shape}, target {target.shape}")

        def f(x: np.ndarray, lo: float, hi: float, centre: float, width: float) -> np.ndarray:
            return lo + (hi - lo) / (1.0 + np.exp(-(x - centre) / width))

        spread = float(np.std(raw)) or 1.0
        p0 = [1.2, 4.8, float(np.median(raw)), spread]
        bounds = ([1.0, 3.0, raw.min() - 5 * spread, 1e-3 * spread], [2.99, 5.0, raw.max() + 5 * spread, 50 * spread])
        params, _ = curve_fit(f, raw, target, p0=p0, bounds=bounds, maxfev=20000)
        lo, hi, centre, width = (float(v) for v in params)
        return cls(lo, hi, centre, width)
