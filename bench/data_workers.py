"""Training speed of the learned models with the data synthesised in the training process or by workers.

For each chosen shipped card (``tool_actors/learned/weights/*.json``) the recorded settings are replayed
on this machine's CPU for ``--steps`` steps, once per ``--workers`` value, in ABAB… order so that every
setting sees the same machine load (``bench/device/learned_train_gpu.py``'s ``replay``: the functions
``restore-ray judge train`` and ``restore-ray encoders train`` call). Reported: the training loop's
seconds per step (median over repeats) and each setting's speed-up over ``--workers 0``; the
projected time of the full recorded run. Writes ``bench/results/data_workers.json``.

    python bench/data_workers.py                       # judge-detail and detect-small, workers 0 and 1
    python bench/data_workers.py --only judge-small --workers 0 1 2 --steps 100 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench" / "device"))
sys.path.insert(0, str(ROOT))

from learned_train_gpu import CARDS, replay


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", default=["judge-detail", "detect-small"], help="card names")
    ap.add_argument("--workers", nargs="*", type=int, default=[0, 1], help="data-worker counts to compare")
    ap.add_argument("--steps", type=int, default=120, help="steps per run")
    ap.add_argument("--repeats", type=int, default=1, help="runs per setting (ABAB… order)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "data_workers.json")
    args = ap.parse_args(argv)
    if 0 not in args.workers:
        raise SystemExit("--workers must include 0 (the speed-ups are measured against it)")
    report: dict = {"machine": platform.platform(), "cpus": os.cpu_count(), "steps": args.steps,
                    "threads": args.threads, "models": {}}
    for name in args.only:
        path = CARDS / f"{name}.json"
        if not path.exists():
            raise SystemExit(f"no shipped card {path}")
        card = json.loads(path.read_text())
        per_step: dict[int, list[float]] = {w: [] for w in args.workers}
        for rep in range(args.repeats):
            for workers in args.workers:
                with tempfile.TemporaryDirectory() as tmp:
                    run = replay(card, args.steps, "cpu", args.threads, Path(tmp), workers,
                                 command=shlex.join(["python", "bench/data_workers.py", *sys.argv[1:]]))
                per_step[workers].append(run["loop_seconds_per_step"])
                print(f"{name} workers {workers} repeat {rep}: {run['loop_seconds_per_step']:.3f} s/step", flush=True)
        full = int(card["settings"]["steps"])
        rows = {}
        for workers, values in per_step.items():
            median = statistics.median(values)
            rows[str(workers)] = {"seconds_per_step": round(median, 4), "all": values,
                                  "speedup": round(statistics.median(per_step[0]) / median, 2),
                                  "projected_loop_minutes": round(median * full / 60, 1)}
        report["models"][name] = {"recorded": {"steps": full, "seconds": card["training_seconds"],
                                               "threads": card["threads"]}, "workers": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["models"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
