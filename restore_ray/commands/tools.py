"""``restore-ray tools …``: list the registered restoration tools, apply one to an image, train an expert."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from restore_ray.commands.learned import train_tool

app = typer.Typer(no_args_is_help=True, help="List the restoration tools, apply one to an image, train a learned expert.")
app.command("train")(train_tool)
console = Console()
err_console = Console(stderr=True)

DEVICES = ("auto", "cpu", "cuda")


def _device_for(backend: str, device: str) -> str:
    """Where a tool of ``backend`` runs: classical tools always on the CPU, neural ones on ``device``."""
    if device not in DEVICES:
        raise typer.BadParameter(f"--device must be one of {', '.join(DEVICES)}, got {device!r}")
    if backend != "neural" or device == "cpu":
        return "cpu"
    import torch  # only neural tools need it

    available = torch.cuda.is_available()
    if device == "cuda" and not available:
        raise typer.BadParameter("--device cuda was asked for, but torch sees no CUDA device; use auto or cpu")
    return "cuda" if available else "cpu"


@app.command("list")
def list_tools(
    as_json: bool = typer.Option(False, "--json", help="print a JSON list instead of a table"),
    weights: Path = typer.Option(None, "--weights", help="weights directory (default: $RESTORE_RAY_WEIGHTS)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda: where neural tools would run"),
) -> None:
    """Every registered tool: category, backend, whether it can run here (or why not), device."""
    from tool_actors.registry import TOOLS

    rows = []
    for entry in TOOLS.entries():
        ok, reason = entry.availability(weights)
        rows.append({"name": entry.name, "category": entry.category, "backend": entry.backend,
                     "embedded": entry.embedded, "available": ok, "reason": reason,
                     "device": _device_for(entry.backend, device) if ok else None,
                     "description": entry.description})
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table()
    for column in ("name", "category", "backend"):
        table.add_column(column, no_wrap=True)
    table.add_column("available")
    table.add_column("device", no_wrap=True)
    table.add_column("description")
    for r in rows:
        status = "yes" if r["available"] else f"[red]no[/red]: {r['reason']}"
        table.add_row(r["name"], r["category"] or "-", r["backend"], status, r["device"] or "-", r["description"])
    console.print(table)
    n_ok = sum(r["available"] for r in rows)
    console.print(f"{len(rows)} tools, {n_ok} available here")


@app.command()
def apply(
    name: str = typer.Argument(..., help="tool name (see `restore-ray tools list`)"),
    src: Path = typer.Argument(..., help="input image (PNG, JPEG, …)"),
    dst: Path = typer.Argument(..., help="output image; the suffix picks the format"),
    weights: Path = typer.Option(None, "--weights", help="weights directory (default: $RESTORE_RAY_WEIGHTS)"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (neural tools only)"),
) -> None:
    """Apply one tool to one image and write the result."""
    from restore_ray.imageio import ImageReadError, read_image, write_image
    from tool_actors.base import ComponentError, UnavailableError
    from tool_actors.registry import TOOLS

    if name not in TOOLS:
        err_console.print(f"error: unknown tool {name!r}; known tools: {', '.join(TOOLS.names())}")
        raise typer.Exit(2)
    entry = TOOLS.get(name)
    try:
        tool = TOOLS.build(name, weights_dir=weights, device=_device_for(entry.backend, device))
    except UnavailableError as err:
        err_console.print(f"error: {err}")
        raise typer.Exit(1) from None
    try:
        image = read_image(src)
    except (ImageReadError, FileNotFoundError, OSError) as err:
        err_console.print(f"error: {err}")
        raise typer.Exit(1) from None
    try:
        out = tool(image[None])[0]
    except ComponentError as err:
        err_console.print(f"error: {err}")
        raise typer.Exit(1) from None
    path = write_image(dst, out)
    console.print(f"{name}: {src} → {path} ({image.shape[1]}×{image.shape[0]})")
