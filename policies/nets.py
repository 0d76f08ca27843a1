"""The policy's networks, as plain torch: an MLP actor and an MLP critic over the observation vector.

The paper: two layers, hidden 128, LayerNorm + ReLU; the critic has its own MLP on the same
features. These classes know nothing of RLlib, so a trained policy loads for inference from a
safetensors file without RLlib or pickle (``policies.export``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

# Large negative logit for masked actions (finite, so softmax and entropy stay defined).
MASKED_LOGIT = -1e9


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int) -> nn.Sequential:
    """Linear → LayerNorm → ReLU for each hidden width, then a linear head."""
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), nn.LayerNorm(width), nn.ReLU()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def mask_logits(logits: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Replace the logits of masked (mask == 0) actions by ``MASKED_LOGIT``."""
    if mask is None:
        return logits
    return torch.where(mask > 0.5, logits, torch.full_like(logits, MASKED_LOGIT))


class ActorCritic(nn.Module):
    """Actor (action logits) and critic (state value) MLPs on the same observation vector."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (128, 128), critic: bool = True) -> None:
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden = int(obs_dim), int(n_actions), tuple(int(h) for h in hidden)
        self.pi = mlp(self.obs_dim, self.hidden, self.n_actions)
        self.vf = mlp(self.obs_dim, self.hidden, 1) if critic else None

    def logits(self, obs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, obs_dim) float32 → (B, n_actions) masked logits."""
        return mask_logits(self.pi(obs), mask)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """(B, obs_dim) → (B,) state values (zeros when built without a critic)."""
        if self.vf is None:
            return torch.zeros(obs.shape[0], dtype=obs.dtype, device=obs.device)
        return self.vf(obs).squeeze(-1)
