"""Where weights come from: one local directory, never the network.

The directory is the ``weights_dir`` argument (``--weights DIR`` on the CLI), else the
``RESTORE_RAY_WEIGHTS`` environment variable. Each component names the file it expects,
relative to that directory; a missing file is an ``UnavailableError`` naming the full path.
"""

from __future__ import annotations

import os
from pathlib import Path

from tool_actors.base import UnavailableError

ENV_VAR = "RESTORE_RAY_WEIGHTS"


def weights_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The weights directory in effect: ``explicit``, else ``$RESTORE_RAY_WEIGHTS``, else ``None``."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else None


def missing_reason(filename: str, explicit: str | os.PathLike | None = None) -> str | None:
    """``None`` if ``filename`` exists in the weights directory, else a sentence saying what to do."""
    root = weights_dir(explicit)
    if root is None:
        return f"needs weights file {filename!r}: pass --weights DIR or set {ENV_VAR} to a folder holding it"
    path = root / filename
    if not path.is_file():
        return f"missing weights file {path} (expected {filename!r} inside the weights directory {root})"
    return None


def weights_file(filename: str, explicit: str | os.PathLike | None = None) -> Path:
    """The path of ``filename`` in the weights directory; ``UnavailableError`` if it is not there."""
    reason = missing_reason(filename, explicit)
    if reason is not None:
        raise UnavailableError(reason)
    root = weights_dir(explicit)
    assert root is not None
    return root / filename
