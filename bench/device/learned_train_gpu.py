"""GPU check of the learned models' training: the shipped judge, expert and detector settings, on cuda.

For each shipped weights file (``tool_actors/learned/weights/*.json`` cards) the settings recorded in
its card are replayed with ``device=cuda`` through the same functions ``restore-ray judge train``,
``restore-ray tools train CATEGORY`` and ``restore-ray encoders train`` call, for ``--fraction`` of the recorded steps (the whole run
with ``--fraction 1``); reported are the wall time, the training loop's seconds per step, the fixed
part (set-up, calibration, final test), and from them the projected time of the full recorded run
beside the card's CPU time. Writes ``device_learned_train.json``.

    source .device/on-device.sh && python3 bench/device/learned_train_gpu.py --out "$OUT"
    python bench/device/learned_train_gpu.py --cpu-dry-run --out /tmp/device   # a few steps on CPU
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, device_description, project_on_path, write_json

project_on_path()

CARDS = ROOT / "tool_actors" / "learned" / "weights"


def replay(card: dict[str, Any], steps: int, device: str, threads: int, out: Path) -> dict[str, Any]:
    """Train with the card's settings, ``steps`` steps on ``device``; wall time and the new card's measure."""
    if card["kind"] == "scorer":
        from tool_actors.learned.train_judge import JudgeTrainConfig as Config
        from tool_actors.learned.train_judge import train_judge as run
    elif card["kind"] == "detector":
        from tool_actors.learned.train_detector import DetectorTrainConfig as Config
        from tool_actors.learned.train_detector import train_detector as run
    else:
        from tool_actors.learned.train_expert import ExpertTrainConfig as Config
        from tool_actors.learned.train_expert import train_expert as run
    names = {f.name for f in dataclasses.fields(Config)}
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in card["settings"].items() if k in names}
    settings.update(steps=steps, device=device, threads=threads,
                    warmup=min(settings.get("warmup", 0), max(steps // 10, 1)))
    cfg = Config(**settings)
    stamps: list[float] = []
    t0 = time.perf_counter()
    new_card = run(cfg, out, lambda step, total, parts: stamps.append(time.perf_counter()))
    seconds = time.perf_counter() - t0
    # the loop's rate (periodic held-out checks included) and the rest: set-up, calibration, final test
    per_step = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    return {"steps": steps, "seconds": round(seconds, 1), "loop_seconds_per_step": round(per_step, 4),
            "median_step_seconds": round(gaps[len(gaps) // 2], 4) if gaps else None,
            "fixed_seconds": round(seconds - per_step * steps, 1), "measured": new_card.get("measured")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--fraction", type=float, default=0.1, help="share of each card's recorded steps to run")
    ap.add_argument("--threads", type=int, default=4, help="torch CPU threads (data synthesis stays on the CPU)")
    ap.add_argument("--only", nargs="*", default=None, help="card names (default: every shipped card)")
    ap.add_argument("--cpu-dry-run", action="store_true", help="20 steps on the CPU, to prove it runs")
    args = ap.parse_args(argv)
    dry = args.cpu_dry_run

    import torch

    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run on the GPU machine, or pass --cpu-dry-run")
    report: dict[str, Any] = {"check": "learned_train_gpu", "device": device_description(dry),
                              "fraction": args.fraction, "models": {}}
    for path in sorted(CARDS.glob("*.json")):
        card = json.loads(path.read_text())
        if args.only and card["name"] not in args.only:
            continue
        full = int(card["settings"]["steps"])
        steps = 20 if dry else max(1, round(full * args.fraction))
        print(f"{card['name']}: {steps} of {full} steps on {'cpu' if dry else 'cuda'}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            run = replay(card, steps, "cpu" if dry else "cuda", args.threads, Path(tmp))
        projected = run["fixed_seconds"] + run["loop_seconds_per_step"] * full
        run.update(recorded={"steps": full, "seconds": card["training_seconds"], "device": card["device"],
                             "threads": card["threads"]},
                   projected_full_seconds=round(projected, 1),
                   speedup_vs_recorded=round(card["training_seconds"] / projected, 2))
        report["models"][card["name"]] = run
        print(card["name"], json.dumps(run), flush=True)
        write_json(args.out, "device_learned_train", dry, report)  # after each model: a timeout keeps the rest
    return 0


if __name__ == "__main__":
    sys.exit(main())
