"""Benchmark: repeated tool calls as in RL rollouts, with the result cache on and off, side by side.

Workload (one env runner's view): ``--images`` degraded training images (Setting I combinations on
the builtin photographs); ``--episodes`` episodes, episode ``e`` starting from image ``e % images``;
each episode takes ``--steps`` tool calls of one image each, drawn from a fixed, peaked policy
(softmax of seeded logits with spread ``--policy-spread``, like a policy part-way through training),
and every call feeds the result into the next. The same action sequence runs with ``cache_mb = 0``
and with ``--cache-mb`` (alternating, ``--repeats`` rounds, median), through the in-process ``LocalExecutor`` and through the shared
``ActorPool``; final images must be byte-identical between the two.

A second scenario, ``fresh``, gives every episode its own image, so the cache can only miss: it
measures what hashing and bookkeeping cost when nothing repeats.

    python bench/cache.py                         # both executors, writes bench/results/cache.json
    python bench/cache.py --executor local --episodes 400
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOOLS = "clahe,gamma-2-3,dcp-dehaze,nlm,dct-denoise,motion-wiener"


def degraded_images(count: int, size: int, seed: int) -> np.ndarray:
    """``count`` builtin training crops, each degraded by a Setting I combination."""
    from restore_ray.combos import COMBINATIONS
    from restore_ray.datasets import builtin_crops
    from restore_ray.degradations import degrade

    setting_one = [c for c in COMBINATIONS if c.setting == "I"]
    rng = np.random.default_rng(seed)
    out = []
    for i, clean in enumerate(builtin_crops("train", count, size, seed)):
        image, _ = degrade(clean, setting_one[i % len(setting_one)].degradations, rng)
        out.append(image)
    return np.stack(out)  # (K, S, S, 3) uint8


def action_plan(episodes: int, steps: int, n_tools: int, spread: float, seed: int) -> np.ndarray:
    """(episodes, steps) tool indices from a fixed softmax policy with logits ~ N(0, spread²)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, spread, size=n_tools)
    p = np.exp(logits - logits.max())
    return rng.choice(n_tools, size=(episodes, steps), p=p / p.sum())


def run_rollouts(executor: Any, tools: list[str], starts: np.ndarray, plan: np.ndarray) -> dict[str, Any]:
    """Run every episode; return wall time, calls per second and a digest of the final images."""
    digest = hashlib.blake2b(digest_size=16)
    calls = 0
    t0 = time.perf_counter()
    for e, actions in enumerate(plan):
        state = starts[e % len(starts)][None]  # (1, S, S, 3) uint8
        for a in actions:
            state = executor.apply(tools[a], state)
            calls += 1
        digest.update(state.tobytes())
    wall = time.perf_counter() - t0
    return {"tool_calls": calls, "wall_s": round(wall, 4), "calls_per_s": round(calls / wall, 2),
            "final_images_digest": digest.hexdigest()}


def cache_totals(stats: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Hits, misses and component time summed over the tool components."""
    tools = [s for key, s in stats.items() if key.startswith("tool:")]
    hits = sum(s["cache"]["hits"] for s in tools)
    misses = sum(s["cache"]["misses"] for s in tools)
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / max(1, hits + misses), 4),
            "component_calls": sum(s["batches"] for s in tools),
            "cache_bytes": sum(s["cache"]["bytes"] for s in tools)}


def open_executor(kind: str, tools: list[str], cache_mb: float, label: str) -> Any:
    """A LocalExecutor or an ActorPool (own namespace per label) over ``tools``."""
    from tool_actors.pool import PoolConfig

    config = PoolConfig(tools=tools, cache_mb=cache_mb, namespace=f"bench-cache-{label}")
    if kind == "local":
        from tool_actors.local import LocalExecutor

        return LocalExecutor(config)
    from tool_actors.pool import ActorPool

    return ActorPool(config)


def measure(kind: str, tools: list[str], starts: np.ndarray, plan: np.ndarray, cache_mb: float,
            repeats: int) -> dict[str, Any]:
    """One executor kind, cache off and on, alternating for ``repeats`` rounds on the same plan.

    Each round starts from an empty cache, so every round sees the same hits; the figure is the
    median over rounds (the machine is shared, single runs are noisy).
    """
    labels = ("cache_off", "cache_on")
    executors = {label: open_executor(kind, tools, mb, label) for label, mb in zip(labels, (0.0, cache_mb))}
    rounds: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    try:
        for executor in executors.values():
            executor.apply(tools[0], starts[:1] // 2 + 1)  # warm-up on an image the plan never uses
        for r in range(repeats):
            for label in labels if r % 2 == 0 else labels[::-1]:
                executor = executors[label]
                executor.clear_caches()
                executor.reset_stats()
                result = run_rollouts(executor, tools, starts, plan)
                result.update(cache_totals(executor.stats()))
                rounds[label].append(result)
    finally:
        for executor in executors.values():
            if kind == "local":
                executor.close()
            else:
                executor.shutdown()
    out: dict[str, Any] = {}
    for label in labels:
        runs = rounds[label]
        digests = {run["final_images_digest"] for run in runs}
        if len(digests) != 1:
            raise AssertionError(f"{kind} {label}: rounds disagree on the final images")
        out[label] = {**runs[-1], "calls_per_s": round(float(np.median([x["calls_per_s"] for x in runs])), 2),
                      "calls_per_s_rounds": [x["calls_per_s"] for x in runs]}
        del out[label]["wall_s"]
    if out["cache_on"]["final_images_digest"] != out["cache_off"]["final_images_digest"]:
        raise AssertionError(f"{kind}: the cache changed the results (final image digests differ)")
    out["speedup"] = round(out["cache_on"]["calls_per_s"] / out["cache_off"]["calls_per_s"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", default=DEFAULT_TOOLS, help="comma-separated registered tool names")
    parser.add_argument("--executor", choices=["local", "ray", "both"], default="both")
    parser.add_argument("--images", type=int, default=8, help="distinct start images (repeated scenario)")
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--steps", type=int, default=4, help="tool calls per episode (T)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--policy-spread", type=float, default=1.5, help="std of the policy logits")
    parser.add_argument("--cache-mb", type=float, default=128.0)
    parser.add_argument("--repeats", type=int, default=3, help="rounds per setting (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "cache.json")
    args = parser.parse_args(argv)

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    tools = [t for t in args.tools.split(",") if t]
    plan = action_plan(args.episodes, args.steps, len(tools), args.policy_spread, args.seed)
    scenarios = {
        "repeated": degraded_images(args.images, args.size, args.seed),
        "fresh": degraded_images(args.episodes, args.size, args.seed + 1),
    }
    kinds = ["local", "ray"] if args.executor == "both" else [args.executor]
    if "ray" in kinds:
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    results: dict[str, Any] = {}
    try:
        for name, starts in scenarios.items():
            results[name] = {kind: measure(kind, tools, starts, plan, args.cache_mb, args.repeats) for kind in kinds}
            for kind in kinds:
                r = results[name][kind]
                print(f"{name:9s} {kind:5s} off {r['cache_off']['calls_per_s']:8.1f} calls/s   "
                      f"on {r['cache_on']['calls_per_s']:8.1f} calls/s   ×{r['speedup']:.2f}   "
                      f"hit rate {r['cache_on']['hit_rate']:.2f}")
    finally:
        if "ray" in kinds:
            ray.shutdown()
    report = {
        "benchmark": "cache",
        "workload": {"tools": tools, "images": args.images, "episodes": args.episodes, "steps": args.steps,
                     "size": args.size, "policy_spread": args.policy_spread, "cache_mb": args.cache_mb,
                     "seed": args.seed, "repeats": args.repeats, "tool_call_counts": np.bincount(plan.ravel(), minlength=len(tools)).tolist()},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "threads": "cv2 1, torch 1; Ray actors with num_cpus=0 on ray.init(num_cpus=2)"},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
