"""``nr-combo``: the mean of z-scored formula scores (NIQE, PIQE, BRISQUE), higher is better.

Each component is turned higher-is-better (negated: all three are lower-is-better) and
standardised with a fixed mean and standard deviation measured on the builtin dataset's
training images, clean and degraded (``data/nr_combo.json``, written by
``python -m tool_actors.scorers.combo_calibrate``). The combination averages the three z-scores, so one
metric's blind spot is damped by the other two, and its unit is "standard deviations of the
training distribution". A component that is unavailable here makes the whole scorer unavailable
(the constants are only meaningful for the full set).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from tool_actors.base import Scorer
from tool_actors.registry import SCORERS, Entry

COMPONENTS: tuple[str, ...] = ("niqe", "piqe", "brisque")
CONSTANTS_FILE = "nr_combo.json"


@lru_cache(maxsize=1)
def constants() -> dict[str, dict[str, float]]:
    """``{component: {"mean": μ, "std": σ}}`` of the higher-is-better (negated) raw scores."""
    text = resources.files("tool_actors.scorers").joinpath("data", CONSTANTS_FILE).read_text()
    data = json.loads(text)["components"]
    if tuple(data) != COMPONENTS:
        raise RuntimeError(f"{CONSTANTS_FILE} lists {tuple(data)}, expected {COMPONENTS}; regenerate it with "
                           "`python -m tool_actors.scorers.combo_calibrate`")
    return data


class NRComboScorer(Scorer):
    """Mean z-score of the components, each made higher-is-better."""

    name = "nr-combo"
    higher_is_better = True
    score_range = (-2.0, 1.5)  # ≈ heavy mixtures … clean crops of the builtin dataset
    description = "mean of z-scored NIQE, PIQE and BRISQUE (higher is better)"

    def __init__(self, device: str = "cpu") -> None:
        self.device = str(device)
        self._parts = [SCORERS.build(name, device=device) for name in COMPONENTS]
        self._const = constants()

    def component_scores(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Raw scores of every component."""
        return {s.name: s(batch) for s in self._parts}

    def combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """Mean z-score of raw component scores (each made higher-is-better)."""
        zs = []
        for s in self._parts:
            c = self._const[s.name]
            signed = raw[s.name] if s.higher_is_better else -raw[s.name]
            zs.append((signed - c["mean"]) / c["std"])
        return np.mean(zs, axis=0).astype(np.float32)

    def score(self, batch: np.ndarray) -> np.ndarray:
        return self.combine(self.component_scores(batch))


def _unavailable() -> str | None:
    for name in COMPONENTS:
        ok, reason = SCORERS.get(name).availability()
        if not ok:
            return f"component {name!r} is unavailable: {reason}"
    return None


SCORERS.register(Entry(
    name=NRComboScorer.name,
    factory=lambda weights_dir=None, device="cpu": NRComboScorer(device=device),
    description=NRComboScorer.description,
    category="NR",
    embedded=True,
    check=_unavailable,
    extra={"higher_is_better": True, "score_range": NRComboScorer.score_range, "components": list(COMPONENTS)},
))
