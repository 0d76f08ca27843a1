"""A trained policy as a small standalone file: weights in safetensors, metadata in JSON.

``policy.safetensors`` holds the actor (and critic) tensors; ``policy.json`` beside it holds what
inference needs to rebuild and use them exactly:

* ``format`` / ``version``: ``"restore-ray-policy"`` / 1;
* ``actions``: the tool names in action order, then ``"STOP"`` when the STOP action is on;
* ``tools``, ``stop_action``, ``max_steps``;
* ``encoder`` (name, dim), ``scorer`` (the reward it was trained on);
* ``observation``: the layout of the observation vector (``policies.observation``);
* ``hidden``: the MLP widths; ``critic``: whether a critic is included;
* ``training``: free-form facts (algorithm, iterations, env steps, date).

Loading needs only torch, safetensors and json: no pickle, no RLlib.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from policies.nets import ActorCritic
from policies.observation import ObservationLayout

FORMAT = "restore-ray-policy"
VERSION = 1
STOP = "STOP"


class PolicyFileError(ValueError):
    """A policy file is missing, malformed or does not match the toolbox it is used with."""


@dataclass
class PolicyMeta:
    """Everything needed to rebuild and use a trained policy."""

    tools: list[str]
    stop_action: bool
    max_steps: int
    encoder: str
    encoder_dim: int
    scorer: str
    hidden: list[int] = field(default_factory=lambda: [128, 128])
    critic: bool = True
    mask_repeats: bool = False
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def actions(self) -> list[str]:
        return self.tools + ([STOP] if self.stop_action else [])

    @property
    def layout(self) -> ObservationLayout:
        return ObservationLayout(self.encoder_dim, len(self.tools))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "actions": self.actions, "tools": self.tools,
                "stop_action": self.stop_action, "max_steps": self.max_steps, "mask_repeats": self.mask_repeats,
                "encoder": {"name": self.encoder, "dim": self.encoder_dim}, "scorer": self.scorer,
                "observation": {"dim": self.layout.dim, "layout": self.layout.to_json()},
                "hidden": self.hidden, "critic": self.critic, "training": self.training}

    @classmethod
    def from_json(cls, d: dict[str, Any], where: str) -> PolicyMeta:
        if d.get("format") != FORMAT:
            raise PolicyFileError(f"{where}: not a restore-ray policy (format {d.get('format')!r})")
        if d.get("version") != VERSION:
            raise PolicyFileError(f"{where}: policy format version {d.get('version')} is not supported "
                                  f"(this restore-ray reads version {VERSION})")
        try:
            meta = cls(tools=list(d["tools"]), stop_action=bool(d["stop_action"]), max_steps=int(d["max_steps"]),
                       encoder=d["encoder"]["name"], encoder_dim=int(d["encoder"]["dim"]), scorer=d["scorer"],
                       hidden=[int(h) for h in d["hidden"]], critic=bool(d.get("critic", True)),
                       mask_repeats=bool(d.get("mask_repeats", False)), training=dict(d.get("training", {})))
        except (KeyError, TypeError, ValueError) as err:
            raise PolicyFileError(f"{where}: malformed policy metadata ({type(err).__name__}: {err})") from None
        if d.get("actions") != meta.actions:
            raise PolicyFileError(f"{where}: 'actions' does not match 'tools' and 'stop_action'")
        return meta


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    path = Path(path)
    if path.is_dir():
        path = path / "policy.safetensors"
    if path.suffix == ".json":
        path = path.with_suffix(".safetensors")
    return path, path.with_suffix(".json")


def save_policy(path: str | os.PathLike, net: ActorCritic, meta: PolicyMeta) -> Path:
    """Write ``path`` (.safetensors) and its ``.json`` sidecar; return the weights path."""
    weights, sidecar = _paths(path)
    if net.obs_dim != meta.layout.dim or net.n_actions != len(meta.actions):
        raise PolicyFileError(f"network ({net.obs_dim} inputs, {net.n_actions} actions) does not match the "
                              f"metadata ({meta.layout.dim} inputs, {len(meta.actions)} actions)")
    weights.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(tensors, str(weights), metadata={"format": FORMAT, "version": str(VERSION)})
    sidecar.write_text(json.dumps(meta.to_json(), indent=2) + "\n")
    return weights


def load_policy(path: str | os.PathLike) -> tuple[ActorCritic, PolicyMeta]:
    """Rebuild the network and its metadata from ``save_policy``'s files (eval mode, CPU)."""
    weights, sidecar = _paths(path)
    for p in (weights, sidecar):
        if not p.is_file():
            raise PolicyFileError(f"{p}: not found; a policy is a .safetensors file with a .json beside it "
                                  "(written by `restore-ray train` into RUN_DIR/policy.safetensors)")
    try:
        raw = json.loads(sidecar.read_text())
    except json.JSONDecodeError as err:
        raise PolicyFileError(f"{sidecar}: not valid JSON ({err.msg})") from None
    meta = PolicyMeta.from_json(raw, str(sidecar))
    net = ActorCritic(meta.layout.dim, len(meta.actions), meta.hidden, critic=meta.critic)
    try:
        state = load_file(str(weights))
        net.load_state_dict(state, strict=True)
    except (RuntimeError, OSError) as err:
        raise PolicyFileError(f"{weights}: weights do not match the metadata ({err})") from None
    net.eval()
    return net, meta


def check_toolbox(meta: PolicyMeta, available: list[str]) -> None:
    """Raise ``PolicyFileError`` if the executor lacks a tool the policy was trained with."""
    missing = [t for t in meta.tools if t not in available]
    if missing:
        raise PolicyFileError(f"the policy was trained with tools {meta.tools}; this toolbox lacks "
                              f"{missing} — use the same tools (and --weights) as in training")
