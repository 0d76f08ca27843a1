"""``LocalExecutor``: the ``Executor`` interface in the calling process, without a Ray cluster.

It builds the same components from the same configuration as ``ActorPool`` (tools in action
order, one scorer, one encoder), runs them in this process, splits large batches into chunks of
the configured ``max_batch`` as the shared actors do, and keeps one content-addressed result
cache per component. For the same components and inputs it returns exactly what the actor pool
returns; tests, single-machine runs and debugging use it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any, Self

import numpy as np

from tool_actors.actors import Component, ComponentInfo, ComponentSpec, HostStats, Kind
from tool_actors.base import check_batch, normalised_score
from tool_actors.cache import ResultCache
from tool_actors.pool import PoolConfig, actor_key
from tool_actors.registry import ENCODERS, SCORERS, TOOLS, Registry


def local_device(config: PoolConfig, backend: str) -> str:
    """The device of one component in this process: cuda for neural ones when asked or available."""
    if backend != "neural" or config.device == "cpu":
        return "cpu"
    import torch  # neural components need torch anyway

    available = torch.cuda.is_available()
    if config.device == "cuda" and not available:
        raise ValueError("device 'cuda' was asked for, but torch sees no CUDA device here; use 'auto' or 'cpu'")
    return "cuda" if available else "cpu"


class _Hosted:
    """One component in this process with its cache, lock and counters."""

    def __init__(self, spec: ComponentSpec, max_batch: int, cache_mb: float) -> None:
        self.spec = spec
        self.component: Component = spec.build()
        self.info = ComponentInfo.of(spec, self.component)
        self.max_batch = max_batch
        self.cache = ResultCache.from_mb(cache_mb)
        self.counters = HostStats()
        self.owner = f"{spec.kind} {spec.name!r}"
        self.lock = threading.Lock()

    def __call__(self, images: np.ndarray) -> np.ndarray:
        check_batch(images, self.owner, int(getattr(self.component, "min_side", 1)))
        self.counters.requests += 1
        self.counters.images += len(images)
        try:
            return self.cache.run(self.spec.key, images, self._compute)
        except Exception:
            self.counters.errors += 1
            raise

    def _compute(self, batch: np.ndarray) -> np.ndarray:
        outs = []
        for start in range(0, len(batch), self.max_batch):
            chunk = np.array(batch[start : start + self.max_batch])  # (B, H, W, 3) uint8, the caller's copy safe
            with self.lock:
                self.counters.batches += 1
                self.counters.batched_images += len(chunk)
                self.counters.max_batch_seen = max(self.counters.max_batch_seen, len(chunk))
                self.counters.batch_sizes[len(chunk)] = self.counters.batch_sizes.get(len(chunk), 0) + 1
                outs.append(self.component(chunk))
        return np.concatenate(outs)


class LocalExecutor:
    """Tools, the reward scorer and the encoder built in this process, with per-component caches."""

    def __init__(
        self,
        config: PoolConfig | None = None,
        *,
        tools: Registry[Any] = TOOLS,
        scorers: Registry[Any] = SCORERS,
        encoders: Registry[Any] = ENCODERS,
    ) -> None:
        self.config = config if config is not None else PoolConfig()
        registries: dict[str, Registry[Any]] = {"tool": tools, "scorer": scorers, "encoder": encoders}
        self._hosted: dict[str, _Hosted] = {}
        self._tool_names: list[str] = []
        for kind, name in self.config.components(tools):
            entry = registries[kind].get(name)  # KeyError naming the known ones
            spec = ComponentSpec(kind, entry, self.config.weights_dir, local_device(self.config, entry.backend))
            self._hosted[spec.key] = _Hosted(spec, self.config.batching(kind).max_batch, self.config.cache_mb)
            if kind == "tool":
                self._tool_names.append(name)

    # ---- Executor ------------------------------------------------------------------------------------
    @property
    def tool_names(self) -> list[str]:
        """Tools in action order."""
        return list(self._tool_names)

    @property
    def scorer_name(self) -> str:
        """The reward scorer's name."""
        return self._require("scorer", self.config.scorer)

    @property
    def encoder_name(self) -> str:
        """The encoder's name."""
        return self._require("encoder", self.config.encoder)

    @property
    def encoder_dim(self) -> int:
        """Length of an embedding."""
        dim = self._hosted[actor_key("encoder", self.encoder_name)].info.dim
        assert dim is not None
        return dim

    def apply(self, tool: str, images: np.ndarray) -> np.ndarray:
        """Run ``tool`` on a uint8 (N, H, W, 3) batch."""
        if tool not in self._tool_names:
            raise KeyError(f"unknown tool {tool!r}; known tools: {', '.join(self._tool_names)}")
        return self._hosted[actor_key("tool", tool)](images)

    def score(self, images: np.ndarray) -> np.ndarray:
        """Raw reward-scorer scores, float32 (N,)."""
        return self._hosted[actor_key("scorer", self.scorer_name)](images)

    def quality(self, images: np.ndarray) -> np.ndarray:
        """Normalised, higher-is-better scores, float32 (N,)."""
        info = self._hosted[actor_key("scorer", self.scorer_name)].info
        assert info.score_range is not None and info.higher_is_better is not None
        return normalised_score(self.score(images), info.score_range, info.higher_is_better)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Embeddings, float32 (N, encoder_dim)."""
        return self._hosted[actor_key("encoder", self.encoder_name)](images)

    def close(self) -> None:
        """Drop the components and their caches."""
        self._hosted.clear()

    # ---- introspection ---------------------------------------------------------------------------------
    def info(self, key: str) -> ComponentInfo:
        """What ``"<kind>:<name>"`` is."""
        return self._get(key).info

    def component(self, kind: Kind, name: str) -> Component:
        """The built component itself."""
        return self._get(actor_key(kind, name)).component

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per component: requests, batches and cache counters (the same keys as the actors report)."""
        out = {}
        for key, hosted in self._hosted.items():
            c = hosted.counters
            out[key] = {
                "component": key,
                **asdict(c),
                "mean_batch": c.batched_images / c.batches if c.batches else 0.0,
                "cache": hosted.cache.stats().as_dict(),
            }
        return out

    def clear_caches(self) -> None:
        """Empty every component's result cache."""
        for hosted in self._hosted.values():
            hosted.cache.clear()

    def reset_stats(self) -> None:
        """Zero the request and batch counters (cache hit counters too)."""
        for hosted in self._hosted.values():
            hosted.counters = HostStats()
            hosted.cache.reset_counters()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, key: str) -> _Hosted:
        if key not in self._hosted:
            raise KeyError(f"no component {key!r} here; components: {', '.join(self._hosted)}")
        return self._hosted[key]

    def _require(self, kind: str, name: str | None) -> str:
        if name is None:
            raise RuntimeError(f"this executor has no {kind}: set {kind!r} in the pool configuration")
        return name
