"""``restore-ray score …``, ``restore-ray scorers list`` and ``restore-ray encoders list``.

``score`` runs one registered no-reference scorer on image files and prints the raw score (in the
metric's own unit and direction) and the normalised, higher-is-better reward value of each.
The ``list`` commands show every registered scorer or encoder and whether it can be built here
(and if not, why: which weights file is missing and where it is looked for).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from restore_ray.config import ComponentSettings

console = Console()
scorers_app = typer.Typer(no_args_is_help=True, help="No-reference quality scorers (the reward).")
encoders_app = typer.Typer(no_args_is_help=True, help="Frozen image encoders (the policy's input).")

WEIGHTS_HELP = "weights directory (default: $RESTORE_RAY_WEIGHTS)"


def score(
    images: list[Path] = typer.Argument(..., help="image files to score"),
    scorer: str = typer.Option(ComponentSettings().scorer, "--scorer", "-s",
                               help="registered scorer name (default: the embedded default reward; see `restore-ray scorers list`)"),
    weights: Path = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1 …"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Score images with a no-reference scorer (raw score and normalised reward value)."""
    from restore_ray.imageio import read_image
    from tool_actors.base import UnavailableError
    from tool_actors.registry import SCORERS

    try:
        entry = SCORERS.get(scorer)
    except KeyError as err:
        raise typer.BadParameter(str(err.args[0]), param_hint="--scorer") from None
    pictures = []
    for path in images:
        try:
            pictures.append(read_image(path))
        except (OSError, ValueError) as err:
            raise typer.BadParameter(f"{path}: {err}", param_hint="IMAGES") from None
    try:
        model = SCORERS.build(entry.name, weights_dir=weights, device=device)
    except UnavailableError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(2) from None

    rows = []
    for path, img in zip(images, pictures):
        raw = model(img[None])
        rows.append({"image": str(path), "score": float(raw[0]), "normalised": float(model.normalised(raw)[0])})
    if as_json:
        typer.echo(json.dumps({"scorer": model.name, "higher_is_better": model.higher_is_better,
                               "score_range": list(model.score_range), "results": rows}, indent=2))
        return
    arrow = "higher is better" if model.higher_is_better else "lower is better"
    table = Table("image", f"{model.name} ({arrow})", "normalised (reward scale)")
    for row in rows:
        table.add_row(row["image"], f"{row['score']:.4f}", f"{row['normalised']:.4f}")
    console.print(table)


def _listing(registry_name: str, weights: Path | None) -> list[dict[str, object]]:
    from tool_actors.registry import ENCODERS, SCORERS

    registry = SCORERS if registry_name == "scorer" else ENCODERS
    out = []
    for entry in registry.entries():
        ok, reason = entry.availability(weights)
        item: dict[str, object] = {"name": entry.name, "available": ok, "reason": reason,
                                   "backend": entry.backend, "embedded": entry.embedded,
                                   "weights": list(entry.weights), "description": entry.description}
        for key in ("higher_is_better", "score_range", "dim"):
            if key in entry.extra:
                value = entry.extra[key]
                item[key] = list(value) if isinstance(value, tuple) else value
        out.append(item)
    return out


def _print_listing(items: list[dict[str, object]], kind: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    extra = "direction · range" if kind == "scorer" else "dim"
    table = Table("name", "available", extra, "embedded", "description / reason")
    for it in items:
        if kind == "scorer":
            rng = it.get("score_range", ["?", "?"])
            info = f"{'↑' if it.get('higher_is_better') else '↓'} {rng[0]}–{rng[1]}"  # type: ignore[index]
        else:
            info = str(it.get("dim", "?"))
        note = str(it["description"]) if it["available"] else f"[yellow]{it['reason']}[/yellow]"
        table.add_row(str(it["name"]), "[green]yes" if it["available"] else "[red]no", info,
                      "yes" if it["embedded"] else "", note)
    console.print(table)


@scorers_app.command("list")
def list_scorers(
    weights: Path = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List the registered scorers and whether each can run here."""
    _print_listing(_listing("scorer", weights), "scorer", as_json)


@encoders_app.command("list")
def list_encoders(
    weights: Path = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """List the registered encoders and whether each can run here."""
    _print_listing(_listing("encoder", weights), "encoder", as_json)
