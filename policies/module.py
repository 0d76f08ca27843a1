"""The RLlib module: ``ActorCritic`` behind RLlib's ``TorchRLModule`` + ``ValueFunctionAPI``.

Observations are a Dict: ``{"obs": float32[obs_dim], "action_mask": float32[n_actions]}``. The frozen
image encoder is not in here: embeddings are computed in the environment by the shared encoder actor,
so learner and env runners hold only the small MLPs and no image reaches the learner.

``model_config`` keys: ``hidden`` (list of widths, default [128, 128]) and ``critic`` (bool, default
True; GRPO trains without one).
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.core.columns import Columns
from ray.rllib.core.rl_module.apis.value_function_api import ValueFunctionAPI
from ray.rllib.core.rl_module.torch.torch_rl_module import TorchRLModule

from policies.nets import ActorCritic

OBS_KEY = "obs"
MASK_KEY = "action_mask"


class MaskedActorCriticModule(TorchRLModule, ValueFunctionAPI):
    """PPO/GRPO module: masked categorical policy over tools (+ STOP) and a value head."""

    def setup(self) -> None:
        cfg: dict[str, Any] = dict(self.model_config or {})
        space = self.observation_space
        if not hasattr(space, "spaces") or OBS_KEY not in space.spaces or MASK_KEY not in space.spaces:
            raise ValueError(f"MaskedActorCriticModule needs a Dict observation space with keys "
                             f"{OBS_KEY!r} and {MASK_KEY!r}, got {space}")
        obs_dim = int(space[OBS_KEY].shape[0])
        self.net = ActorCritic(obs_dim, int(self.action_space.n), cfg.get("hidden", (128, 128)),
                               critic=bool(cfg.get("critic", True)))

    def _split(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        obs = batch[Columns.OBS]
        return obs[OBS_KEY], obs[MASK_KEY]

    def _forward(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        x, mask = self._split(batch)
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(x, mask)}

    def _forward_train(self, batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        x, mask = self._split(batch)
        return {Columns.ACTION_DIST_INPUTS: self.net.logits(x, mask), Columns.EMBEDDINGS: x}

    def compute_values(self, batch: dict[str, Any], embeddings: Any = None) -> torch.Tensor:
        x = embeddings if embeddings is not None else self._split(batch)[0]
        return self.net.value(x)
