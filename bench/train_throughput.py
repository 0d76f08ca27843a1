"""Training throughput (env steps/s) with the result cache on and off, side by side in one run.

Runs short PPO trainings on the builtin Setting I training images with the shared Ray actor pool,
alternating cache on / off (ABAB…) so both see the same machine load, and reports the median of
the per-iteration env steps/s (the first iteration, which pays for start-up, is left out).

    python bench/train_throughput.py --repeats 2 --iterations 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from restore_ray.config import TrainConfig
from restore_ray.datasets import build_dataset
from restore_ray.train import train

RESULTS = Path(__file__).parent / "results" / "train_throughput.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path(__file__).parents[1] / "configs" / "demo.yaml")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_dataset("builtin", tmp / "data", per_combo=30, size=args.size, single_per_split=0).manifest
        runs: dict[str, list[float]] = {"cache_on": [], "cache_off": []}
        details = []
        for rep in range(args.repeats):
            for label, cache_mb in (("cache_on", 512), ("cache_off", 0)):
                cfg = TrainConfig.from_yaml(args.config).with_overrides({
                    "run.iterations": args.iterations, "components.cache_mb": cache_mb,
                    "run.max_image_side": args.size, "run.seed": rep})
                t0 = time.perf_counter()
                res = train(cfg, data, tmp / f"{label}_{rep}")
                rates = [r["env_steps_per_s"] for r in res.metrics[1:]]
                runs[label].extend(rates)
                details.append({"run": label, "repeat": rep, "steps_per_s": rates, "seconds": time.perf_counter() - t0})
                print(f"{label} repeat {rep}: {', '.join(f'{r:.1f}' for r in rates)} env steps/s")
    on, off = statistics.median(runs["cache_on"]), statistics.median(runs["cache_off"])
    report = {"config": str(args.config), "image_side": args.size, "iterations": args.iterations,
              "repeats": args.repeats, "median_steps_per_s": {"cache_on": on, "cache_off": off},
              "speedup": on / off, "runs": details}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"median env steps/s: cache on {on:.1f}, off {off:.1f} → ×{on / off:.2f}; wrote {args.out}")


if __name__ == "__main__":
    main()
