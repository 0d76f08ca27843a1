"""The ``restore-ray`` command line: one entry point, sub-commands by concern.

Heavy libraries (torch, ray) are imported inside the commands that need them, so ``--help`` and
the data commands start fast.
"""

from __future__ import annotations

import typer

from restore_ray.commands import data

app = typer.Typer(name="restore-ray", no_args_is_help=True, add_completion=False,
                  help="Restore-R1 on Ray: learned, label-free chaining of image-restoration tools.")
app.add_typer(data.app, name="data")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
