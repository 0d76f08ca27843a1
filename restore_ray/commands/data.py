"""``restore-ray data …``: build the benchmark datasets and look at them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(no_args_is_help=True, help="Build degraded datasets (settings I–IV) and contact sheets.")
console = Console()


@app.command()
def build(
    clean: str = typer.Option(..., "--clean", help="'builtin' (scikit-image photographs) or a folder of clean images"),
    out: Path = typer.Option(..., "--out", help="output folder (manifest.jsonl, single.jsonl, gt/, lq/, single/)"),
    per_combo: int = typer.Option(None, "--per-combo", help="images per combination "
                                  "(builtin: default 100; folder: default all)"),
    seed: int = typer.Option(0, "--seed", help="random seed: same seed, byte-identical files"),
    size: int = typer.Option(None, "--size", help="builtin: crop side in pixels (default 256); "
                             "folder: cap on the longer side (default: keep)"),
    train_per_combo: int = typer.Option(20, "--train-per-combo", help="Setting I training images per combination"),
    single: int = typer.Option(10, "--single", help="clean images per split in the single-degradation set (0: none)"),
) -> None:
    """Degrade clean images with the 15 combinations of settings I–IV and write manifest.jsonl."""
    from restore_ray.datasets import build_dataset

    with Progress(TextColumn("[bold]degrading"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("build", total=None)
        summary = build_dataset(clean, out, per_combo=per_combo, seed=seed, size=size,
                                train_per_combo=train_per_combo, single_per_split=single,
                                progress=lambda done, total: bar.update(task, completed=done, total=total))
    console.print(f"wrote {summary.n_records} records ({summary.n_train} train) to {summary.manifest}")
    if summary.single is not None:
        console.print(f"wrote {summary.n_single} single-degradation records to {summary.single}")
    console.print(f"done in {summary.seconds:.1f} s")


@app.command()
def show(
    manifest: Path = typer.Argument(..., help="manifest.jsonl (or single.jsonl, or the dataset folder)"),
    out: Path = typer.Option(..., "--out", help="PNG to write"),
    per_group: int = typer.Option(3, "--per-group", help="examples per combination"),
    split: str = typer.Option(None, "--split", help="only 'train' or 'test' records"),
) -> None:
    """Write a contact sheet: lq/gt pairs for each combination, with the sampled parameters."""
    from restore_ray.figures import contact_sheet
    from restore_ray.manifest import read_manifest, select

    records = select(read_manifest(manifest), split=split)
    path = contact_sheet(records, out, per_group=per_group)
    console.print(f"wrote {path}")


@app.command()
def stats(manifest: Path = typer.Argument(..., help="manifest.jsonl or the dataset folder")) -> None:
    """Count records per setting, combination and split."""
    from collections import Counter

    from restore_ray.manifest import read_manifest

    records = read_manifest(manifest)
    counts = Counter((r.setting or "-", r.combination, r.split) for r in records)
    table = Table("setting", "combination", "train", "test")
    for setting, combo in dict.fromkeys((s, c) for s, c, _ in counts):
        table.add_row(setting, combo, str(counts[(setting, combo, "train")]), str(counts[(setting, combo, "test")]))
    console.print(table)
