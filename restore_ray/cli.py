"""The ``restore-ray`` command line: one entry point, sub-commands by concern.

Heavy libraries (torch, ray) are imported inside the commands that need them, so ``--help`` and
the data commands start fast.
"""

from __future__ import annotations

import sys

import typer

from restore_ray.commands import agent, data, demo
from restore_ray.commands import learned
from restore_ray.commands import tools
from restore_ray.commands import scoring

app = typer.Typer(name="restore-ray", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Restore-R1 on Ray: learned, label-free chaining of image-restoration tools.")
app.add_typer(data.app, name="data")
app.command("demo")(demo.demo)
app.command("train")(agent.train)
app.command("restore")(agent.restore)
app.command("evaluate")(agent.evaluate)
app.add_typer(tools.app, name="tools")
app.add_typer(learned.app, name="judge")
app.command("score")(scoring.score)
app.add_typer(scoring.scorers_app, name="scorers")
app.add_typer(scoring.encoders_app, name="encoders")
scoring.encoders_app.command("train")(learned.train_detector_command)


def main() -> None:
    """Console-script entry point: user errors become one clear line and exit status 2, not a traceback."""
    from rich.console import Console

    from tool_actors.base import UnavailableError

    try:
        app()
    except (ValueError, KeyError, FileNotFoundError, FileExistsError, UnavailableError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
