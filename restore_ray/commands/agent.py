"""``restore-ray train``, ``restore-ray restore`` and ``restore-ray evaluate``."""

from __future__ import annotations

import math
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()


def _parse_overrides(items: list[str] | None) -> dict[str, object]:
    import yaml

    out: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. run.iterations=5")
        out[key.strip()] = yaml.safe_load(value)
    return out


def train(
    config: Path = typer.Option(None, "--config", help="YAML file (see configs/); defaults: the paper's PPO"),
    data: Path = typer.Option(..., "--data", help="manifest.jsonl (or its folder); its 'train' records are used"),
    out: Path = typer.Option(..., "--out", help="run directory (checkpoints, policy, metrics, curves)"),
    address: str = typer.Option(None, "--address", help="join a running Ray cluster ('auto' or host:port)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
    algo: str = typer.Option(None, "--algo", help="'ppo' (default) or 'grpo'"),
    iterations: int = typer.Option(None, "--iterations", help="override run.iterations"),
    set_: list[str] = typer.Option(None, "--set", help="override any setting: SECTION.KEY=VALUE (repeatable)"),
) -> None:
    """Train the tool-choosing policy with PPO (or GRPO) on RLlib, rewarded only by the scorer."""
    from restore_ray.config import TrainConfig
    from restore_ray.train import train as run_training

    overrides = _parse_overrides(set_)
    if algo is not None:
        overrides["ppo.algo"] = algo
    if iterations is not None:
        overrides["run.iterations"] = iterations
    cfg = TrainConfig.from_yaml(config).with_overrides(overrides)

    def show(row: dict[str, float]) -> None:
        console.print(f"iter {int(row['iteration']):3d}/{cfg.run.iterations}  steps {int(row['env_steps']):6d}  "
                      f"return {row['episode_return_mean']:+.2f}  q {row['initial_quality']:.3f}→"
                      f"{row['final_quality']:.3f}  len {row['episode_len']:.1f}  stop {row['stop_rate']:.2f}  "
                      f"{row['env_steps_per_s']:.0f}/s", soft_wrap=True)

    result = run_training(cfg, data, out, address=address, resume=resume, progress=show)
    console.print(f"policy: {result.policy}  ({result.env_steps} env steps in {result.seconds:.0f} s)")
    console.print(f"learning curve: {result.out / 'learning_curve.png'}")


def restore(
    images: list[Path] = typer.Argument(..., help="images to restore"),
    policy: Path = typer.Option(..., "--policy", help="policy.safetensors (or its run directory)"),
    out: Path = typer.Option(..., "--out", help="output folder"),
    weights: Path = typer.Option(None, "--weights", help="weights directory for neural tools"),
    max_side: int = typer.Option(None, "--max-side", help="downscale inputs to this longer side first"),
) -> None:
    """Restore images in one deterministic pass; write each result, its plan (JSON) and a before/after figure."""
    from restore_ray.env import downscale
    from restore_ray.figures import image_grid
    from restore_ray.imageio import ImageReadError, read_image, write_image
    from restore_ray.restorer import Restorer, save_plan

    restorer = Restorer.from_policy(policy, weights_dir=weights)
    out.mkdir(parents=True, exist_ok=True)
    rows, titles, labels, failed = [], [], [], 0
    for path in images:
        try:
            image = downscale(read_image(path), max_side)
        except ImageReadError as err:
            console.print(f"[red]skipped[/red] {err}")
            failed += 1
            continue
        res = restorer.restore(image)
        write_image(out / f"{path.stem}_restored.png", res.image)
        save_plan(res, out / f"{path.stem}_plan.json", source=str(path))
        plan = " → ".join(res.plan) or "(nothing)"
        console.print(f"{path.name}: {plan}  quality {res.initial_quality:.3f} → {res.final_quality:.3f}  "
                      f"({res.seconds * 1000:.0f} ms)")
        rows.append([image, res.image])
        titles.append([f"{path.name} q={res.initial_quality:.3f}", f"q={res.final_quality:.3f}"])
        labels.append(plan)
    if rows:
        fig = image_grid(rows[:12], titles[:12], out / "before_after.png", row_labels=labels[:12],
                         suptitle="before / after (reward quality q)")
        console.print(f"figure: {fig}")
    if failed:
        raise typer.Exit(code=1)


def evaluate(
    data: Path = typer.Option(..., "--data", help="manifest.jsonl (its 'test' records are used)"),
    policy: Path = typer.Option(None, "--policy", help="a trained policy to compare (optional)"),
    out: Path = typer.Option(..., "--out", help="JSON report to write"),
    planners: str = typer.Option("do-nothing,random,fixed-order,greedy", "--planners",
                                 help="comma-separated baselines: do-nothing, random, fixed-order, greedy, exhaustive"),
    per_combination: int = typer.Option(4, "--per-combination", help="test images per combination"),
    tools: str = typer.Option(None, "--tools", help="comma-separated tools (default: the policy's, else embedded)"),
    scorer: str = typer.Option(None, "--scorer", help="reward scorer (default: the policy's, else judge-small)"),
    encoder: str = typer.Option(None, "--encoder", help="encoder (default: the policy's, else stats)"),
    weights: Path = typer.Option(None, "--weights", help="weights directory"),
    max_steps: int = typer.Option(5, "--max-steps", help="greedy search depth"),
    depth: int = typer.Option(2, "--depth", help="exhaustive search depth"),
    seed: int = typer.Option(0, "--seed", help="random planner seed"),
) -> None:
    """Compare the learned policy with baselines on held-out images: reward score, PSNR, SSIM, cost."""
    from restore_ray.config import ComponentSettings
    from restore_ray.evaluate import evaluate as run_eval
    from restore_ray.evaluate import pick, save_rows, summarise
    from restore_ray.executors import local_executor
    from restore_ray.manifest import read_manifest
    from restore_ray.planners import (DoNothingPlanner, ExhaustivePlanner, FixedOrderPlanner, GreedyPlanner,
                                      RandomPlanner)
    from restore_ray.restorer import Restorer

    meta = None
    if policy is not None:
        from policies.export import load_policy

        _, meta = load_policy(policy)
    tool_list: list[str] | str = tools.split(",") if tools else (meta.tools if meta else "embedded")
    default = ComponentSettings()
    executor = local_executor(tool_list, scorer or (meta.scorer if meta else default.scorer),
                              encoder or (meta.encoder if meta else default.encoder),
                              None if weights is None else str(weights))
    factories = {"do-nothing": DoNothingPlanner, "random": lambda: RandomPlanner(steps=3, seed=seed),
                 "fixed-order": FixedOrderPlanner, "greedy": lambda: GreedyPlanner(max_steps=max_steps),
                 "exhaustive": lambda: ExhaustivePlanner(depth=depth)}
    chosen = []
    for name in [p.strip() for p in planners.split(",") if p.strip()]:
        if name not in factories:
            raise typer.BadParameter(f"unknown planner {name!r}; choose from {', '.join(factories)}")
        chosen.append(factories[name]())
    if policy is not None:  # first, so its timings are not helped by results the baselines left in the cache
        chosen.insert(0, Restorer.from_policy(policy, executor=executor))
    records = pick(read_manifest(data), per_combination)
    with Progress(TextColumn("[bold]evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("eval", total=len(records) * len(chosen))
        rows = run_eval(records, chosen, executor, progress=lambda d, t: bar.update(task, completed=d))
    save_rows(rows, out)
    print_summary(summarise(rows))
    console.print(f"report: {out}")


def print_summary(summary: dict[str, dict[str, dict[str, float]]]) -> None:
    """A table per setting: reward quality, PSNR, SSIM, tool calls and time for each planner."""
    table = Table("setting", "planner", "quality", "PSNR", "SSIM", "tool calls", "ms", title="held-out images")
    for setting, planners in summary.items():
        for planner, s in planners.items():
            table.add_row(setting, planner, f"{s['final_quality']:.3f}", f"{s['psnr']:.2f}", f"{s['ssim']:.3f}",
                          f"{s['tool_calls']:.1f}", f"{s['seconds'] * 1000:.0f}" if not math.isnan(s["seconds"]) else "-")
        table.add_section()
    console.print(table)

