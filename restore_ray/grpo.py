"""GRPO on RLlib: group-relative advantages, no critic (the paper's Fig. 6c alternative to PPO).

The environment serves each training image to ``G`` consecutive episodes (``group_size``), tagging
every step's info with the image id. This learner replaces PPO's GAE step with
``GroupRelativeAdvantages``: an episode's advantage is its return standardised within the episodes
of the same image in the batch, A_i = (R_i − mean_group) / (std_group + ε), given to all its steps.
The PPO clipped surrogate and entropy bonus are kept; the value loss is off (``use_critic=False``).
A group with a single episode in the batch carries no signal and gets advantage 0.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.common.numpy_to_tensor import NumpyToTensor
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner.general_advantage_estimation import GeneralAdvantageEstimation
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing
from ray.rllib.utils.numpy import convert_to_numpy

EPS = 1e-6


def group_advantages(returns: list[float], groups: list[Any]) -> np.ndarray:
    """Standardise returns within each group; singleton groups get 0."""
    returns_arr = np.asarray(returns, dtype=np.float64)
    out = np.zeros_like(returns_arr)
    members: dict[Any, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    for idx in members.values():
        if len(idx) < 2:
            continue
        r = returns_arr[idx]
        out[idx] = (r - r.mean()) / (r.std() + EPS)
    return out.astype(np.float32)


def _episode_group(episode: Any) -> Any:
    infos = episode.get_infos()
    for info in infos:
        if isinstance(info, dict) and "image" in info:
            return info["image"]
    return id(episode)  # no tag: its own group (advantage 0)


class GroupRelativeAdvantages(ConnectorV2):
    """Learner connector piece: per-episode group-standardised returns as advantages."""

    def __call__(self, *, rl_module: Any, episodes: list[Any], batch: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        device = None
        sa_episodes = list(self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False))
        for module_id, module_batch in batch.items():
            eps = [e for e in sa_episodes if e.module_id in (None, module_id)]
            # episodes arrive extended by one artificial step (masked out of the loss) with reward 0
            returns = [float(np.sum(convert_to_numpy(e.get_rewards()))) for e in eps]
            adv = group_advantages(returns, [_episode_group(e) for e in eps])
            per_step = np.concatenate([np.full(len(e), a, np.float32) for e, a in zip(eps, adv)]) if eps else \
                np.zeros(0, np.float32)
            n_rows = len(convert_to_numpy(module_batch[Columns.REWARDS]))
            if per_step.shape[0] != n_rows:
                raise RuntimeError(f"GRPO: {per_step.shape[0]} advantages for {n_rows} batch rows")
            module_batch[Postprocessing.ADVANTAGES] = per_step
            module_batch[Postprocessing.VALUE_TARGETS] = np.zeros_like(per_step)
            device = getattr(rl_module[module_id], "device", None) if hasattr(rl_module, "__getitem__") else None
        to_tensor = NumpyToTensor(as_learner_connector=True, device=device)
        converted = to_tensor(rl_module=rl_module, episodes=episodes, batch={
            mid: {Postprocessing.ADVANTAGES: b[Postprocessing.ADVANTAGES],
                  Postprocessing.VALUE_TARGETS: b[Postprocessing.VALUE_TARGETS]} for mid, b in batch.items()})
        for mid, module_batch in converted.items():
            batch[mid].update(module_batch)
        return batch


class GRPOLearner(PPOTorchLearner):
    """PPO's torch learner with GAE swapped for group-relative advantages."""

    def build(self) -> None:
        super().build()
        if self._learner_connector is not None:
            self._learner_connector.remove(GeneralAdvantageEstimation)
            self._learner_connector.append(GroupRelativeAdvantages())
