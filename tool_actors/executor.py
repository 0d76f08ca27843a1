"""The executor interface: how the environment, the Restorer, planners, Serve and batch jobs reach
tools, the reward scorer and the encoder, without knowing whether they run in-process or in
shared Ray actors.

Two implementations share it: ``tool_actors.local.LocalExecutor`` (in-process, for tests and single
machines) and ``tool_actors.pool.ActorPool`` (named, shared Ray actors). Code that takes an
executor must work with both.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Executor(Protocol):
    """Batched access to tools, one reward scorer and one encoder."""

    @property
    def tool_names(self) -> list[str]:
        """The tools this executor can run, in a fixed order (the policy's action order)."""
        ...

    @property
    def scorer_name(self) -> str:
        """The registered name of the reward scorer."""
        ...

    @property
    def encoder_name(self) -> str:
        """The registered name of the encoder."""
        ...

    @property
    def encoder_dim(self) -> int:
        """Length of an embedding."""
        ...

    def apply(self, tool: str, images: np.ndarray) -> np.ndarray:
        """Run ``tool`` on a uint8 (N, H, W, 3) batch; return the same shape.

        Unknown tool names raise ``KeyError`` naming the known ones.
        """
        ...

    def score(self, images: np.ndarray) -> np.ndarray:
        """Raw reward-scorer scores, float32 (N,)."""
        ...

    def quality(self, images: np.ndarray) -> np.ndarray:
        """Normalised, higher-is-better scores, float32 (N,): what rewards are computed from."""
        ...

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Embeddings, float32 (N, encoder_dim)."""
        ...

    def close(self) -> None:
        """Release what this executor holds (it does not kill shared actors it merely found)."""
        ...
