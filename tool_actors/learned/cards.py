"""Saving and loading a trained network: ``NAME.safetensors`` (weights, with the architecture and
its hyperparameters in the file's metadata, so the model rebuilds exactly) beside ``NAME.json``
(the card: what it was trained on, how, how long, and what it measured; the judge's calibration).

Where a component's files are looked for, in order:

1. ``<weights dir>/learned/NAME.safetensors`` when a weights directory is in effect (``--weights
   DIR`` or ``RESTORE_RAY_WEIGHTS``) and holds that file — a model retrained with ``restore-ray
   judge train`` / ``restore-ray tools train`` replaces the shipped one this way;
2. the copy shipped in the package, ``tool_actors/learned/weights/NAME.safetensors``.

A file that is found but unreadable, or whose card is missing, is an error naming it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from tool_actors.base import UnavailableError
from tool_actors.learned.nets import ARCHITECTURES, config_from_dict, config_to_dict
from tool_actors.weights import weights_dir

SHIPPED_DIR = Path(__file__).resolve().parent / "weights"
OVERRIDE_SUBDIR = "learned"


def weights_path(name: str, explicit_dir: str | os.PathLike | None = None) -> Path:
    """The ``.safetensors`` file component ``name`` loads (see the module docstring for the order)."""
    root = weights_dir(explicit_dir)
    if root is not None:
        override = root / OVERRIDE_SUBDIR / f"{name}.safetensors"
        if override.is_file():
            return override
    return SHIPPED_DIR / f"{name}.safetensors"


def missing_reason(name: str, explicit_dir: str | os.PathLike | None = None) -> str | None:
    """``None`` if ``name``'s weights and card exist, else what is missing and how to make it."""
    path = weights_path(name, explicit_dir)
    for p in (path, path.with_suffix(".json")):
        if not p.is_file():
            return (f"missing {p}: the package ships it; reinstall restore-ray, or train it with "
                    "`restore-ray judge train` / `restore-ray judge train-sharpening` / "
                    f"`restore-ray tools train CATEGORY` / `restore-ray encoders train` --out {p.parent}")
    return None


def save(model: nn.Module, path: str | os.PathLike, card: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``path`` (.safetensors) and its card (.json beside it); return both paths.

    The card written is ``card`` plus ``architecture``, ``config``, ``parameters`` and
    ``weights_bytes`` (read it back with ``read_card``)."""
    from safetensors.torch import save_file

    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = type(model).__name__
    if arch not in ARCHITECTURES:
        raise ValueError(f"cannot save a {arch}; known architectures: {', '.join(ARCHITECTURES)}")
    config = config_to_dict(model.config)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"architecture": arch, "config": json.dumps(config)})
    card = {**card, "architecture": arch, "config": config,
            "parameters": int(sum(t.numel() for t in tensors.values())), "weights_bytes": path.stat().st_size}
    card_path = path.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path, card_path


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON card beside weights file ``path`` (or the card file itself)."""
    card_path = Path(path).with_suffix(".json")
    if not card_path.is_file():
        raise UnavailableError(f"missing card {card_path} (every weights file ships with its JSON card)")
    return json.loads(card_path.read_text())


def load(path: str | os.PathLike, expected_arch: str, device: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network stored in ``path`` (eval mode, on ``device``) and read its card."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    card_path = path.with_suffix(".json")
    if not path.is_file():
        raise UnavailableError(f"missing weights file {path}")
    if not card_path.is_file():
        raise UnavailableError(f"missing card {card_path} (every weights file ships with its JSON card)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except Exception as err:
        raise UnavailableError(f"cannot read weights file {path}: {type(err).__name__}: {err}") from err
    arch = meta.get("architecture")
    if arch != expected_arch:
        raise UnavailableError(f"{path} holds a {arch or 'model without architecture metadata'}, "
                               f"expected a {expected_arch}")
    net_cls, cfg_cls = ARCHITECTURES[arch]
    model = net_cls(config_from_dict(cfg_cls, json.loads(meta["config"])))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise UnavailableError(f"{path} does not match the {arch} it declares: {err}") from err
    card = json.loads(card_path.read_text())
    return model.to(device).eval(), card
