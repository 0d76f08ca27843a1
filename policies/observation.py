"""The observation vector, built in one place for training and inference.

``obs = embedding ⊕ action record ⊕ step fraction``:

* ``embedding`` (``encoder_dim``): the frozen encoder's view of the current image;
* ``action record`` (``n_tools``): 1 for each tool already applied in this episode (the paper's
  binary action-record vector);
* ``step fraction`` (1): t / T.

The action mask (``n_tools`` + 1 with a STOP action) travels beside the vector, not inside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ObservationLayout:
    """Sizes of the parts of the observation vector, in order."""

    encoder_dim: int
    n_tools: int

    @property
    def dim(self) -> int:
        return self.encoder_dim + self.n_tools + 1

    def to_json(self) -> list[dict[str, int | str]]:
        return [{"name": "embedding", "size": self.encoder_dim},
                {"name": "action_record", "size": self.n_tools},
                {"name": "step_fraction", "size": 1}]

    def build(self, embedding: np.ndarray, used: np.ndarray, step: int, max_steps: int) -> np.ndarray:
        """Concatenate the parts into a float32 vector of length ``dim``."""
        embedding = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if embedding.shape[0] != self.encoder_dim:
            raise ValueError(f"embedding has {embedding.shape[0]} values, the layout expects {self.encoder_dim}")
        used = np.asarray(used, dtype=np.float32).reshape(-1)
        if used.shape[0] != self.n_tools:
            raise ValueError(f"action record has {used.shape[0]} entries, the layout expects {self.n_tools}")
        frac = np.array([step / max(max_steps, 1)], dtype=np.float32)
        return np.concatenate([embedding, used, frac]).astype(np.float32)


def action_mask(available: np.ndarray, stop_action: bool, used: np.ndarray | None = None,
                mask_repeats: bool = False) -> np.ndarray:
    """1 for allowed actions: available tools (optionally not yet used), then STOP if enabled."""
    allowed = np.asarray(available, dtype=np.float32).copy()
    if mask_repeats and used is not None:
        allowed *= 1.0 - np.asarray(used, dtype=np.float32)
    if stop_action:
        allowed = np.concatenate([allowed, np.ones(1, np.float32)])
    if not allowed.any():
        raise ValueError("every action is masked: no tool is available and there is no STOP action")
    return allowed
