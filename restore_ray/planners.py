"""Planners: ways to choose a tool sequence for one image, all behind one interface.

``Planner.run(image, executor) -> RestoreResult``. The learned one-pass policy (``restore_ray.restorer``)
and these baselines share it, so evaluation compares them on equal terms — same tools, same reward
scorer, same accounting of tool and scorer calls:

* ``DoNothingPlanner``: the degraded image itself;
* ``RandomPlanner``: ``steps`` uniformly random tools;
* ``FixedOrderPlanner``: one tool per category in a fixed order (MAIR-style: scene → imaging →
  compression: derain, dehaze, brighten, denoise, deblur_motion, deblur_defocus, dejpeg), keeping a
  step only if the reward score improves;
* ``GreedyPlanner``: at each step try every tool, keep the best by the scorer, stop when nothing
  improves (Q-Agent-style quality search);
* ``ExhaustivePlanner``: every sequence up to depth ``k``; the best final score wins.
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tool_actors.executor import Executor

MAIR_ORDER = ("derain", "dehaze", "brighten", "denoise", "deblur_motion", "deblur_defocus", "dejpeg")


@dataclass
class Step:
    """One applied tool: what it was, the reward quality after it, and its wall time."""

    tool: str
    quality: float
    seconds: float


@dataclass
class RestoreResult:
    """A restored image and how it was obtained."""

    image: np.ndarray
    initial_quality: float
    steps: list[Step] = field(default_factory=list)
    tool_calls: int = 0  # every tool application, including those tried and discarded
    scorer_calls: int = 0  # images scored to make decisions or reports
    seconds: float = 0.0
    planner: str = ""

    @property
    def plan(self) -> list[str]:
        return [s.tool for s in self.steps]

    @property
    def final_quality(self) -> float:
        return self.steps[-1].quality if self.steps else self.initial_quality

    def to_json(self) -> dict[str, Any]:
        return {"planner": self.planner, "plan": self.plan, "initial_quality": self.initial_quality,
                "final_quality": self.final_quality, "tool_calls": self.tool_calls,
                "scorer_calls": self.scorer_calls, "seconds": self.seconds,
                "steps": [{"tool": s.tool, "quality": s.quality, "seconds": s.seconds} for s in self.steps]}


class Planner(ABC):
    """Chooses and applies tools to one image."""

    name: str = ""

    @abstractmethod
    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        """Restore one uint8 (H, W, 3) image."""


def _quality(executor: Executor, image: np.ndarray) -> float:
    return float(executor.quality(image[None])[0])


class DoNothingPlanner(Planner):
    name = "do-nothing"

    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        t0 = time.perf_counter()
        q = _quality(executor, image)
        return RestoreResult(image, q, scorer_calls=1, seconds=time.perf_counter() - t0, planner=self.name)


class RandomPlanner(Planner):
    """``steps`` random tools (uniform, with repetition), seeded."""

    name = "random"

    def __init__(self, steps: int = 3, seed: int = 0, tools: list[str] | None = None) -> None:
        self.steps, self.tools = int(steps), tools
        self._rng = np.random.default_rng(seed)

    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        t0 = time.perf_counter()
        tools = self.tools or executor.tool_names
        res = RestoreResult(image, _quality(executor, image), scorer_calls=1, planner=self.name)
        for _ in range(self.steps):
            tool = tools[int(self._rng.integers(len(tools)))]
            s0 = time.perf_counter()
            res.image = executor.apply(tool, res.image[None])[0]
            res.tool_calls += 1
            res.steps.append(Step(tool, _quality(executor, res.image), time.perf_counter() - s0))
            res.scorer_calls += 1
        res.seconds = time.perf_counter() - t0
        return res


def default_category_tools(executor: Executor) -> dict[str, str]:
    """The first tool of each category in the executor's toolbox (registry order)."""
    from tool_actors.registry import TOOLS

    chosen: dict[str, str] = {}
    for name in executor.tool_names:
        category = TOOLS.get(name).category if name in TOOLS else None
        if category is not None and category not in chosen:
            chosen[category] = name
    return chosen


class FixedOrderPlanner(Planner):
    """One tool per category in MAIR's scene → imaging → compression order; keep a step if it helps."""

    name = "fixed-order"

    def __init__(self, category_tools: dict[str, str] | None = None, order: tuple[str, ...] = MAIR_ORDER,
                 keep_if_better: bool = True) -> None:
        self.category_tools, self.order, self.keep_if_better = category_tools, order, keep_if_better

    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        t0 = time.perf_counter()
        mapping = self.category_tools or default_category_tools(executor)
        tools = [mapping[c] for c in self.order if c in mapping]
        if not tools:
            raise ValueError(f"no tool of the categories {self.order} in the toolbox {executor.tool_names}")
        res = RestoreResult(image, _quality(executor, image), scorer_calls=1, planner=self.name)
        current_q = res.initial_quality
        for tool in tools:
            s0 = time.perf_counter()
            candidate = executor.apply(tool, res.image[None])[0]
            q = _quality(executor, candidate)
            res.tool_calls += 1
            res.scorer_calls += 1
            if self.keep_if_better and q <= current_q:
                continue
            res.image, current_q = candidate, q
            res.steps.append(Step(tool, q, time.perf_counter() - s0))
        res.seconds = time.perf_counter() - t0
        return res


class GreedyPlanner(Planner):
    """Try every tool, keep the best by the scorer; stop after ``max_steps`` or when nothing improves."""

    name = "greedy"

    def __init__(self, max_steps: int = 5, min_gain: float = 0.0) -> None:
        self.max_steps, self.min_gain = int(max_steps), float(min_gain)

    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        t0 = time.perf_counter()
        res = RestoreResult(image, _quality(executor, image), scorer_calls=1, planner=self.name)
        current_q = res.initial_quality
        for _ in range(self.max_steps):
            s0 = time.perf_counter()
            best: tuple[float, str, np.ndarray] | None = None
            for tool in executor.tool_names:
                out = executor.apply(tool, res.image[None])[0]
                q = _quality(executor, out)
                res.tool_calls += 1
                res.scorer_calls += 1
                if best is None or q > best[0]:
                    best = (q, tool, out)
            assert best is not None
            if best[0] <= current_q + self.min_gain:
                break
            current_q, tool, res.image = best
            res.steps.append(Step(tool, current_q, time.perf_counter() - s0))
        res.seconds = time.perf_counter() - t0
        return res


class ExhaustivePlanner(Planner):
    """Every tool sequence of length 1..``depth`` (sharing prefixes); the best final score wins."""

    name = "exhaustive"

    def __init__(self, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self.depth = int(depth)

    def run(self, image: np.ndarray, executor: Executor) -> RestoreResult:
        t0 = time.perf_counter()
        res = RestoreResult(image, _quality(executor, image), scorer_calls=1, planner=self.name)
        tools = executor.tool_names
        nodes: dict[tuple[str, ...], tuple[np.ndarray, float]] = {(): (image, res.initial_quality)}
        for length in range(1, self.depth + 1):
            for seq in itertools.product(tools, repeat=length):
                parent_img, _ = nodes[seq[:-1]]
                out = executor.apply(seq[-1], parent_img[None])[0]
                nodes[seq] = (out, _quality(executor, out))
                res.tool_calls += 1
                res.scorer_calls += 1
        best_seq = max(nodes, key=lambda s: (nodes[s][1], -len(s)))
        for k in range(1, len(best_seq) + 1):
            res.steps.append(Step(best_seq[k - 1], nodes[best_seq[:k]][1], 0.0))
        res.image = nodes[best_seq][0]
        res.seconds = time.perf_counter() - t0
        return res
