"""``restore-ray demo``: the whole pipeline on the embedded default, end to end.

1. build the builtin benchmark (scikit-image photographs, settings I–IV) and its contact sheet;
2. train a small policy with PPO on RLlib, rewarded only by the embedded scorer;
3. restore held-out test images in one pass each, and compare with doing nothing and with random
   tool sequences (reward score and PSNR per setting);
4. write a before/after figure, the learning curve and a JSON report.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

console = Console()
DEMO_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"  # the source checkout's configs/


def demo(
    out: Path = typer.Option(Path("demo"), "--out", help="folder for the dataset, the run and the figures"),
    config: Path = typer.Option(None, "--config", help="training config (default: configs/demo.yaml settings)"),
    per_combination: int = typer.Option(2, "--per-combination", help="held-out images per combination to evaluate"),
    size: int = typer.Option(128, "--size", help="side of the builtin crops in pixels"),
    seed: int = typer.Option(0, "--seed", help="dataset and training seed"),
    iterations: int = typer.Option(None, "--iterations", help="override the training iterations"),
) -> None:
    """Build the builtin dataset, train a small policy, restore held-out images and compare."""
    import numpy as np

    from restore_ray.commands.agent import print_summary
    from restore_ray.config import TrainConfig
    from restore_ray.datasets import build_dataset
    from restore_ray.evaluate import evaluate, pick, save_rows, summarise
    from restore_ray.figures import contact_sheet, image_grid
    from restore_ray.imageio import read_image
    from restore_ray.manifest import read_manifest
    from restore_ray.planners import DoNothingPlanner, RandomPlanner
    from restore_ray.restorer import Restorer
    from restore_ray.train import train

    t0 = time.perf_counter()
    data = out / "data"
    console.rule("1/4 dataset")
    summary = build_dataset("builtin", data, per_combo=30, size=size, seed=seed, single_per_split=0)
    records = read_manifest(summary.manifest)
    sheet = contact_sheet(records, data / "contact_sheet.png", per_group=3)
    console.print(f"{summary.n_records} records ({summary.n_train} for training) in {summary.seconds:.1f} s; "
                  f"contact sheet: {sheet}")

    console.rule("2/4 training")
    config = config or DEMO_CONFIG
    if not config.is_file():
        raise typer.BadParameter(f"{config} not found; pass --config with a training config (see configs/)")
    cfg = TrainConfig.from_yaml(config)
    overrides: dict[str, object] = {"run.seed": seed, "run.max_image_side": size}
    if iterations is not None:
        overrides["run.iterations"] = iterations
    cfg = cfg.with_overrides(overrides)
    run_dir = out / "run"
    resume = (run_dir / "checkpoints" / "latest.json").exists()
    if resume:
        console.print(f"{run_dir} holds a run: resuming it")

    def show(row: dict[str, float]) -> None:
        console.print(f"iter {int(row['iteration']):3d}/{cfg.run.iterations}  steps {int(row['env_steps']):6d}  "
                      f"return {row['episode_return_mean']:+.2f}  quality {row['initial_quality']:.3f}→"
                      f"{row['final_quality']:.3f}  ({row['env_steps_per_s']:.0f} steps/s)", soft_wrap=True)

    result = train(cfg, summary.manifest, run_dir, resume=resume, progress=show)
    console.print(f"policy: {result.policy}; learning curve: {run_dir / 'learning_curve.png'}")

    console.rule("3/4 held-out images")
    restorer = Restorer.from_policy(result.policy)
    executor = restorer.executor
    test = pick(records, per_combination)
    rows = evaluate(test, [DoNothingPlanner(), RandomPlanner(steps=3, seed=seed), restorer], executor,
                    max_image_side=size)
    save_rows(rows, out / "evaluation.json")
    table = summarise(rows)
    print_summary(table)

    console.rule("4/4 figures")
    show_recs = [r for r in test if r.setting is not None][:: max(1, len(test) // 6)][:6]
    grid, titles, labels = [], [], []
    for rec in show_recs:
        lq, gt = read_image(rec.lq_path), read_image(rec.gt_path)
        res = restorer.restore(lq)
        grid.append([lq, res.image, gt])
        titles.append([f"{rec.combination} q={res.initial_quality:.2f}", f"restored q={res.final_quality:.2f}",
                       "clean"])
        labels.append(" → ".join(res.plan) or "(nothing)")
    fig = image_grid(grid, titles, out / "before_after.png", row_labels=labels,
                     suptitle="held-out images: degraded / restored by the learned policy / clean")
    everything = table.get("all", {})
    report = {"seconds": time.perf_counter() - t0, "train_seconds": result.seconds, "env_steps": result.env_steps,
              "summary": table, "figures": {"contact_sheet": str(sheet), "before_after": str(fig),
                                            "learning_curve": str(run_dir / "learning_curve.png")}}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"before/after: {fig}")
    if everything:
        learned, nothing = everything.get("learned", {}), everything.get("do-nothing", {})
        console.print(f"learned policy: reward quality {learned.get('final_quality', np.nan):.3f} vs "
                      f"{nothing.get('final_quality', np.nan):.3f} doing nothing; PSNR "
                      f"{learned.get('psnr', np.nan):.2f} vs {nothing.get('psnr', np.nan):.2f} dB")
    console.print(f"done in {(time.perf_counter() - t0) / 60:.1f} min; report: {out / 'report.json'}")
