"""GPU check of the learned models' training: the shipped judge, expert and detector settings, on cuda.

For each shipped weights file (``tool_actors/learned/weights/*.json`` cards) the settings recorded in
its card are replayed with ``device=cuda`` through the same functions ``restore-ray judge train``,
``restore-ray tools train CATEGORY`` and ``restore-ray encoders train`` call, for ``--fraction`` of the recorded steps (the whole run
with ``--fraction 1``); reported are the wall time, the training loop's seconds per step, the fixed
part (set-up, calibration, final test), and from them the projected time of the full recorded run
beside the card's CPU time. Writes ``device_learned_train.json``.

    source .device/on-device.sh && python3 bench/device/learned_train_gpu.py --out "$OUT"
    python bench/device/learned_train_gpu.py --cpu-dry-run --out /tmp/device   # a few steps on CPU

Longer runs for new weights: ``--steps N`` (instead of a fraction), ``--workers N`` (data-synthesis
processes, ``training.batch_stream``), ``--set KEY=VALUE`` (a setting other than the card's; the
new card records it), ``--keep DIR`` (keep the weights, cards and curves) and ``--name`` (the JSON's
name, so that runs side by side do not overwrite each other), e.g.

    python3 bench/device/learned_train_gpu.py --only judge-detail --steps 9000 --workers 7 \
        --keep "$OUT/learned" --name device_judge_detail --out "$OUT"
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, device_description, project_on_path, write_json

project_on_path()

CARDS = ROOT / "tool_actors" / "learned" / "weights"


def replay(card: dict[str, Any], steps: int, device: str, threads: int, out: Path, workers: int = 0,
           overrides: dict[str, Any] | None = None, command: str | None = None) -> dict[str, Any]:
    """Train with the card's settings (and ``overrides``), ``steps`` steps on ``device`` with ``workers``
    data processes; wall time and the new card's measure. ``command`` (the caller's command line) goes
    into the new card."""
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
    settings.update(steps=steps, device=device, threads=threads, workers=workers,
                    warmup=min(settings.get("warmup", 0), max(steps // 10, 1)))
    unknown = sorted(set(overrides or {}) - names)
    if unknown:
        raise SystemExit(f"--set {', '.join(unknown)}: not a setting of {card['name']} ({', '.join(sorted(names))})")
    settings.update({k: tuple(v) if isinstance(v, list) else v for k, v in (overrides or {}).items()})
    cfg = Config(**settings)
    stamps: list[float] = []
    t0 = time.perf_counter()
    new_card = run(cfg, out, lambda step, total, parts: stamps.append(time.perf_counter()),
                   command=command)
    seconds = time.perf_counter() - t0
    # the loop's rate (periodic held-out checks included) and the rest: set-up, calibration, final test
    per_step = (stamps[-1] - stamps[0]) / max(len(stamps) - 1, 1)
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    return {"steps": steps, "seconds": round(seconds, 1), "loop_seconds_per_step": round(per_step, 4),
            "median_step_seconds": round(gaps[len(gaps) // 2], 4) if gaps else None,
            "fixed_seconds": round(seconds - per_step * steps, 1), "measured": new_card.get("measured")}


def _setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → (key, value), the value read as JSON where it parses (true, 3, [1, 2]), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"--set {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--fraction", type=float, default=0.1, help="share of each card's recorded steps to run")
    ap.add_argument("--threads", type=int, default=4, help="torch CPU threads (data synthesis stays on the CPU)")
    ap.add_argument("--only", nargs="*", default=None, help="card names (default: every shipped card)")
    ap.add_argument("--cpu-dry-run", action="store_true", help="20 steps on the CPU, to prove it runs")
    ap.add_argument("--steps", type=int, default=None, help="steps to run (instead of --fraction)")
    ap.add_argument("--workers", type=int, default=0, help="data-synthesis processes (0: in the training process)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="a training setting other than the card's (JSON value, or a plain string)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the new weights, cards and curves in this folder")
    ap.add_argument("--name", default="device_learned_train", help="name of the JSON written to --out")
    args = ap.parse_args(argv)
    dry = args.cpu_dry_run

    import torch

    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run on the GPU machine, or pass --cpu-dry-run")
    overrides = dict(_setting(text) for text in args.overrides)
    report: dict[str, Any] = {"check": "learned_train_gpu", "device": device_description(dry),
                              "fraction": args.fraction, "workers": args.workers, "overrides": overrides, "models": {}}
    for path in sorted(CARDS.glob("*.json")):
        card = json.loads(path.read_text())
        if args.only and card["name"] not in args.only:
            continue
        full = int(card["settings"]["steps"])
        steps = 20 if dry else args.steps or max(1, round(full * args.fraction))
        print(f"{card['name']}: {steps} steps ({full} recorded) on {'cpu' if dry else 'cuda'}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            folder = args.keep or Path(tmp)
            run = replay(card, steps, "cpu" if dry else "cuda", args.threads, folder, args.workers, overrides,
                         command=shlex.join(["python3", "bench/device/learned_train_gpu.py", *sys.argv[1:]]))
        projected = run["fixed_seconds"] + run["loop_seconds_per_step"] * full
        run.update(recorded={"steps": full, "seconds": card["training_seconds"], "device": card["device"],
                             "threads": card["threads"]},
                   projected_full_seconds=round(projected, 1),
                   speedup_vs_recorded=round(card["training_seconds"] / projected, 2))
        report["models"][card["name"]] = run
        print(card["name"], json.dumps(run), flush=True)
        write_json(args.out, args.name, dry, report)  # after each model: a timeout keeps the rest
    return 0


if __name__ == "__main__":
    sys.exit(main())
