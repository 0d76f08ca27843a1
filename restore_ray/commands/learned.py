"""``restore-ray judge …`` and ``restore-ray tools train``: train and use the project's own networks.

* ``restore-ray judge train``: train a learned no-reference judge (scorer ``judge-small``, or with ``--name``
  a member of ``judge-pair``: ``judge-rank``, ``judge-detail``).
* ``restore-ray judge score IMAGE…``: score image files with it.
* ``train_tool`` (``restore-ray tools train CATEGORY``): train a small restoration expert
  (``dejpeg``, ``deblur_defocus``, ``deblur_motion``).
* ``train_detector_command`` (``restore-ray encoders train``): train the degradation detector
  ``detect-small`` that the ``stats-detect`` encoder appends to its statistics.

Each training run writes ``NAME.safetensors`` (weights), ``NAME.json`` (the card: data, settings,
seed, steps, measured quality, date, training time, this command line) and ``NAME.curve.png``.
To use a retrained model instead of the shipped one, write it into ``<weights dir>/learned/``
(``--out $RESTORE_RAY_WEIGHTS/learned``).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

app = typer.Typer(no_args_is_help=True, help="The learned no-reference judges (judge-small, the default reward; "
                                            "judge-pair, judge-trio, judge-quartet): train them, score images.")
console = Console()

DATA_HELP = ("'builtin' (the builtin TRAIN photographs; the TEST photographs are never used), 'builtin+photos' "
             "(those and nine clean photographs that pyiqa and matplotlib ship) or a folder of clean images")
WORKERS_HELP = ("processes that synthesise the training data while the optimiser steps (0: in the training process, "
                "the stream every shipped model was trained with; n > 0: each step's data from its own seed, the same "
                "model for any n; one worker on two cores: judge x1.75, detector x1.48 per step)")
OUT_HELP = ("folder for NAME.safetensors, NAME.json and NAME.curve.png "
            "(use <weights dir>/learned to replace the shipped model)")


def _command_line(command: str, arguments: list[str], options: dict[str, Any]) -> str:
    """The full command that reproduces a run, every option spelt out (recorded in the card)."""
    words = ["restore-ray", *command.split(), *arguments]
    for key, value in options.items():
        words += [f"--{key.replace('_', '-')}", str(value)]
    return " ".join(shlex.quote(w) for w in words)


class _Reporter:
    """A rich progress bar with the latest losses, plus one printed line per held-out check."""

    def __init__(self, bar: Progress, label: str) -> None:
        self.bar = bar
        self.task = bar.add_task(label, total=None, info="")

    def __call__(self, step: int, total: int, parts: dict[str, float]) -> None:
        info = "  ".join(f"{k} {v:.4f}" for k, v in parts.items() if not k.startswith("val_"))
        self.bar.update(self.task, completed=step, total=total, info=info)
        vals = {k: v for k, v in parts.items() if k.startswith("val_")}
        if vals:
            self.bar.console.log(f"step {step}/{total}  " + "  ".join(f"{k} {v:.4f}" for k, v in vals.items()))


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=console)


def _print_card(card: dict[str, Any], out: Path) -> None:
    console.print(f"wrote {out / (card['name'] + '.safetensors')} ({card['parameters']:,} parameters, "
                  f"{card['weights_bytes'] / 1e6:.2f} MB), card and curve in {out}")
    console.print(f"trained in {card['training_seconds'] / 60:.1f} min; held-out: " +
                  ", ".join(f"{k} {v:.3f}" for k, v in card["measured"].items() if isinstance(v, float)))


@app.command()
def train(
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    data: str = typer.Option("builtin+photos", "--data", help=DATA_HELP),
    seed: int = typer.Option(0, "--seed", help="random seed (data stream and initialisation)"),
    steps: int = typer.Option(2000, "--steps", help="optimisation steps"),
    batch_size: int = typer.Option(5, "--batch-size", help="judge groups per step (≈ 11 images each)"),
    patch: int = typer.Option(96, "--patch", help="training patch side in pixels"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads"),
    lr: float = typer.Option(1e-3, "--lr", help="peak learning rate"),
    toolbox: bool = typer.Option(True, "--toolbox/--no-toolbox",
                                 help="add outputs of the registered embedded tools to the training groups"),
    init: Path = typer.Option(None, "--init", help="start from this judge's .safetensors (fine-tuning)"),
    tone_stats: bool = typer.Option(True, "--tone-stats/--no-tone-stats",
                                    help="feed the network's head global tone statistics of the image"),
    tone_branch: bool = typer.Option(False, "--tone-branch/--no-tone-branch",
                                     help="add a separate score term computed from the tone statistics alone"),
    soft_references: float = typer.Option(0.4, "--soft-references", min=0.0, max=1.0,
                                          help="share of training groups whose clean patch is first softened "
                                               "(slight blur, lower contrast): sharpening or stretching it ranks below it"),
    level_psnr_weight: float = typer.Option(0.5, "--level-psnr-weight", min=0.0, max=1.0,
                                            help="share of PSNR (the rest SSIM) in the full-reference quality "
                                                 "level the judge learns"),
    average_from: float = typer.Option(1.0, "--average-from", min=0.0, max=1.0,
                                       help="average the weights of the held-out checks from this fraction of the "
                                            "steps on (1: keep the last weights)"),
    widths: str | None = typer.Option(None, "--widths", show_default=False,
                               help="channels of the network's four stages, comma-separated [default: 32,48,96,128]"),
    structural_weight: float = typer.Option(1.0, "--structural-weight", min=0.0,
                                            help="weight of the structural pairs (clean above every version, lighter "
                                                 "or fewer degradations above more) in the ranking loss"),
    detail_stats: bool = typer.Option(False, "--detail-stats/--no-detail-stats",
                                      help="feed the network's head the image's sharpness statistics (log ratios "
                                           "between the luma's Laplacian pyramid levels, gradient anisotropy)"),
    block_stats: bool = typer.Option(False, "--block-stats/--no-block-stats",
                                     help="feed the network's head the image's 8×8 blockiness (JPEG)"),
    sharpening_pairs: bool = typer.Option(False, "--sharpening-pairs/--no-sharpening-pairs",
                                          help="rank unsharp masking below the picture it sharpened wherever "
                                               "PSNR fell, whatever SSIM says"),
    name: str = typer.Option("judge-small", "--name",
                             help="file name of the weights and card (NAME.safetensors, NAME.json): judge-small, or "
                                  "a member of the judge-pair ensemble (judge-rank, judge-detail)"),
    workers: int = typer.Option(0, "--workers", min=0, help=WORKERS_HELP),
) -> None:
    """Train the judge by ranking synthetic degradations and tool artifacts (no human labels).

    The defaults are the shipped judge-small's recipe; its card records the command line."""
    from tool_actors.learned.train_judge import JudgeTrainConfig, train_judge

    options: dict[str, Any] = {"out": out, "data": data, "seed": seed, "steps": steps, "batch_size": batch_size, "patch": patch,
                                   "device": device, "threads": threads, "lr": lr}
    defaults = JudgeTrainConfig()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise typer.BadParameter(f"--name {name!r}: use letters, digits, '.', '_' and '-' (it names the weights file)")
    try:
        stage_widths = tuple(defaults.widths) if widths is None else tuple(int(w) for w in widths.split(","))
    except ValueError:
        raise typer.BadParameter(f"--widths {widths!r}: expected comma-separated integers such as 32,48,96,128") from None
    if len(stage_widths) != 4 or min(stage_widths) < 1:
        raise typer.BadParameter(f"--widths {widths!r}: expected four positive channel counts")
    cfg = JudgeTrainConfig(data=data, seed=seed, steps=steps, batch_size=batch_size, patch=patch, device=device,
                           threads=threads, lr=lr, toolbox=toolbox, init=str(init) if init else None, widths=stage_widths,
                           tone_stats=tone_stats, tone_branch=tone_branch, soft_references=soft_references,
                           level_psnr_weight=level_psnr_weight, average_from=average_from,
                           structural_weight=structural_weight, detail_stats=detail_stats, block_stats=block_stats,
                           sharpening_pairs=sharpening_pairs, name=name, workers=workers)
    if init:
        options["init"] = init
    extra = [  # (flag as recorded, whether it differs from the default)
        ("--no-toolbox", not toolbox),
        ("--no-tone-stats", not tone_stats),
        ("--tone-branch", tone_branch),
        (f"--soft-references {soft_references:g}", soft_references != defaults.soft_references),
        (f"--level-psnr-weight {level_psnr_weight:g}", level_psnr_weight != defaults.level_psnr_weight),
        (f"--average-from {average_from:g}", average_from != defaults.average_from),
        (f"--widths {','.join(map(str, stage_widths))}", stage_widths != tuple(defaults.widths)),
        (f"--structural-weight {structural_weight:g}", structural_weight != defaults.structural_weight),
        ("--detail-stats", detail_stats),
        ("--block-stats", block_stats),
        ("--sharpening-pairs", sharpening_pairs),
        (f"--name {name}", name != defaults.name),
        (f"--workers {workers}", workers != defaults.workers),
    ]
    command = _command_line("judge train", [], options) + "".join(f" {flag}" for flag, differs in extra if differs)
    with _progress() as bar:
        card = train_judge(cfg, out, _Reporter(bar, "judge"), command=command)
    _print_card(card, out)


@app.command()
def score(
    images: list[Path] = typer.Argument(..., help="image files to score"),
    weights: Path = typer.Option(None, "--weights", help="weights directory (a retrained judge in DIR/learned/)"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    name: str = typer.Option("judge-small", "--name",
                             help="judge-small (the default reward), judge-pair (the mean of judge-rank and "
                                  "judge-detail), judge-trio (judge-pair with the degradation detector's penalty) or "
                                  "judge-quartet (judge-trio with the over-sharpening detector's penalty)"),
) -> None:
    """Print the judge's score (1–5, higher is better) of each image."""
    from restore_ray.imageio import read_image
    from tool_actors.learned.judge import JUDGES
    from tool_actors.registry import SCORERS

    if name not in JUDGES:
        raise typer.BadParameter(f"--name {name!r}: expected one of {', '.join(JUDGES)}")
    judge = SCORERS.build(name, weights_dir=weights, device=device)
    for path in images:
        value = float(judge(read_image(path)[None])[0])
        console.print(f"{value:.3f}  {path}")


def train_tool(
    category: str = typer.Argument(..., help="dejpeg, deblur_defocus or deblur_motion"),
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    data: str = typer.Option("builtin", "--data", help=DATA_HELP),
    seed: int = typer.Option(0, "--seed", help="random seed (data stream and initialisation)"),
    steps: int = typer.Option(6000, "--steps", help="optimisation steps"),
    batch_size: int = typer.Option(16, "--batch-size", help="patches per step"),
    patch: int = typer.Option(96, "--patch", help="training patch side in pixels (a multiple of 16)"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads"),
    lr: float = typer.Option(1e-3, "--lr", help="peak learning rate"),
    workers: int = typer.Option(0, "--workers", min=0, help=WORKERS_HELP),
) -> None:
    """Train a small learned restoration expert on synthetic pairs from clean images."""
    from tool_actors.learned.data import EXPERT_CATEGORIES
    from tool_actors.learned.train_expert import ExpertTrainConfig, train_expert

    if category not in EXPERT_CATEGORIES:
        raise typer.BadParameter(f"no learned expert for {category!r}; choose one of {', '.join(EXPERT_CATEGORIES)}",
                                 param_hint="CATEGORY")
    options: dict[str, Any] = {"out": out, "data": data, "seed": seed, "steps": steps, "batch_size": batch_size, "patch": patch,
                                   "device": device, "threads": threads, "lr": lr}
    if workers:
        options["workers"] = workers
    cfg = ExpertTrainConfig(category=category, data=data, seed=seed, steps=steps, batch_size=batch_size, patch=patch,
                            device=device, threads=threads, lr=lr, workers=workers)
    with _progress() as bar:
        card = train_expert(cfg, out, _Reporter(bar, cfg.name),
                            command=_command_line("tools train", [category], options))
    _print_card(card, out)


def train_detector_command(
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    data: str = typer.Option("builtin+photos", "--data", help=DATA_HELP),
    seed: int = typer.Option(0, "--seed", help="random seed (data stream and initialisation)"),
    steps: int = typer.Option(4000, "--steps", help="optimisation steps"),
    batch_size: int = typer.Option(12, "--batch-size", help="patches per step"),
    patch: int = typer.Option(192, "--patch", help="training patch side in pixels"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads"),
    lr: float = typer.Option(1e-3, "--lr", help="peak learning rate"),
    stats: bool = typer.Option(True, "--stats/--no-stats",
                               help="feed the network's head the stats encoder's statistics of each image"),
    workers: int = typer.Option(0, "--workers", min=0, help=WORKERS_HELP),
) -> None:
    """Train the degradation detector (detect-small) on synthetic mixtures of the 7 degradations.

    The defaults are the shipped detector's recipe; its card records the command line."""
    from tool_actors.learned.train_detector import DETECTOR_NAME, DetectorTrainConfig, train_detector

    options: dict[str, Any] = {"out": out, "data": data, "seed": seed, "steps": steps, "batch_size": batch_size,
                               "patch": patch, "device": device, "threads": threads, "lr": lr}
    if workers:
        options["workers"] = workers
    cfg = DetectorTrainConfig(data=data, seed=seed, steps=steps, batch_size=batch_size, patch=patch, device=device,
                              threads=threads, lr=lr, stats=stats, workers=workers)
    command = _command_line("encoders train", [], options) + ("" if stats else " --no-stats")
    with _progress() as bar:
        card = train_detector(cfg, out, _Reporter(bar, DETECTOR_NAME), command=command)
    _print_card(card, out)


@app.command("train-sharpening")
def train_sharpening_command(
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    data: str = typer.Option("builtin+photos", "--data", help=DATA_HELP),
    seed: int = typer.Option(0, "--seed", help="random seed (data stream and initialisation)"),
    steps: int = typer.Option(4000, "--steps", help="optimisation steps"),
    pairs: int = typer.Option(6, "--pairs", help="(picture, sharpened) pairs per step"),
    patch: int = typer.Option(160, "--patch", help="training patch side in pixels"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    threads: int = typer.Option(1, "--threads", help="torch CPU threads"),
    lr: float = typer.Option(5e-4, "--lr", help="peak learning rate"),
    init_from_detector: bool = typer.Option(True, "--init-from-detector/--no-init-from-detector",
                                            help="start the trunk from the shipped detect-small's"),
    workers: int = typer.Option(0, "--workers", min=0, help=WORKERS_HELP),
) -> None:
    """Train the over-sharpening detector (sharpen-small) that judge-quartet subtracts.

    It learns, from pairs the degradation code labels, whether unsharp masking made a picture worse
    (lower PSNR against the clean patch). The defaults are the shipped network's recipe; its card
    records the command line."""
    from tool_actors.learned.train_sharpening import SHARPENING_NAME, SharpeningTrainConfig, train_sharpening

    options: dict[str, Any] = {"out": out, "data": data, "seed": seed, "steps": steps, "pairs": pairs,
                               "patch": patch, "device": device, "threads": threads, "lr": lr}
    if workers:
        options["workers"] = workers
    cfg = SharpeningTrainConfig(data=data, seed=seed, steps=steps, pairs=pairs, patch=patch, device=device,
                                threads=threads, lr=lr, init_from_detector=init_from_detector, workers=workers)
    command = (_command_line("judge train-sharpening", [], options)
               + ("" if init_from_detector else " --no-init-from-detector"))
    with _progress() as bar:
        card = train_sharpening(cfg, out, _Reporter(bar, SHARPENING_NAME), command=command)
    _print_card(card, out)
