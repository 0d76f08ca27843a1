"""The ``restore-ray`` command line: one entry point, sub-commands by concern.

Heavy libraries (torch, ray) are imported inside the commands that need them, so ``--help`` and
the data commands start fast.
"""

from __future__ import annotations

import typer

from restore_ray.commands import agent, data, demo
from restore_ray.commands import learned
from restore_ray.commands import tools

app = typer.Typer(name="restore-ray", no_args_is_help=True, add_completion=False,
                  help="Restore-R1 on Ray: learned, label-free chaining of image-restoration tools.")
app.add_typer(data.app, name="data")
app.command("demo")(demo.demo)
app.command("train")(agent.train)
app.command("restore")(agent.restore)
app.command("evaluate")(agent.evaluate)
app.add_typer(tools.app, name="tools")
app.add_typer(learned.app, name="judge")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
