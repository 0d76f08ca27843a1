"""From a training configuration to an executor: shared Ray actors or in-process components.

``open_pool(spec)`` is called once by whoever owns the run (the trainer, the CLI): it starts the
shared actors (or builds the in-process components). ``spec.factory()`` is a picklable callable that
every environment calls to reach the same components: RLlib env runners on other processes or nodes
connect to the named actors; in-process runs share one ``LocalExecutor`` per process.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

from restore_ray.config import ComponentSettings
from tool_actors.executor import Executor
from tool_actors.pool import PoolConfig

_LOCAL: dict[str, Any] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ExecutorSpec:
    """Where the components run ("ray" or "local") and which they are."""

    kind: str
    pool: PoolConfig
    # (tools, scorers, encoders) registries to resolve names in; None: the global ones
    registries: tuple[Any, Any, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, c: ComponentSettings, registries: tuple[Any, Any, Any] | None = None) -> ExecutorSpec:
        cfg = PoolConfig(tools=c.tools, scorer=c.scorer, encoder=c.encoder, weights_dir=c.weights_dir,
                         gpu_fraction=c.gpu_per_neural_actor, cpu_fraction=c.cpu_per_actor, cache_mb=c.cache_mb,
                         scorer_batching={"max_batch": c.scorer_batch, "max_wait_ms": c.scorer_wait_ms})
        return cls(c.executor, cfg, registries)

    def registry_kwargs(self) -> dict[str, Any]:
        if self.registries is None:
            return {}
        tools, scorers, encoders = self.registries
        return {"tools": tools, "scorers": scorers, "encoders": encoders}

    def local_key(self) -> str:
        """Identifies the process-wide in-process executor of these components (copies share it)."""
        names = None if self.registries is None else [r.names() for r in self.registries]
        return repr((self.pool.to_dict(), names))

    def factory(self) -> functools.partial[Executor]:
        """A picklable zero-argument callable returning an executor for these components."""
        return functools.partial(connect_executor, self)


def _local(spec: ExecutorSpec) -> Executor:
    from tool_actors.local import LocalExecutor

    key = spec.local_key()
    with _LOCK:
        if key not in _LOCAL:
            _LOCAL[key] = LocalExecutor(spec.pool, **spec.registry_kwargs())
        return _LOCAL[key]


def release(spec: ExecutorSpec) -> None:
    """Close and forget the process-wide in-process executor of ``spec`` (no-op for Ray)."""
    key = spec.local_key()
    with _LOCK:
        executor = _LOCAL.pop(key, None)
    if executor is not None:
        executor.close()


def connect_executor(spec: ExecutorSpec) -> Executor:
    """Reach components that ``open_pool`` made available (Ray: find the named actors)."""
    if spec.kind == "local":
        return _Shared(_local(spec))
    from tool_actors.pool import ActorPool

    kwargs = spec.registry_kwargs()
    return ActorPool.connect(spec.pool, **({"tools": kwargs["tools"]} if kwargs else {}))


def open_pool(spec: ExecutorSpec) -> Executor:
    """Start (or find) the components of ``spec``; the caller closes it when the run ends."""
    if spec.kind == "local":
        return _local(spec)
    from tool_actors.pool import ActorPool

    return ActorPool(spec.pool, **spec.registry_kwargs())


def local_executor(tools: list[str] | str, scorer: str, encoder: str, weights_dir: str | None = None) -> Executor:
    """An in-process executor (no Ray) for inference on one machine."""
    from tool_actors.local import LocalExecutor

    return LocalExecutor(PoolConfig(tools=tools, scorer=scorer, encoder=encoder, weights_dir=weights_dir))


class _Shared:
    """A view of a process-wide executor whose ``close`` leaves it open for the other users."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def close(self) -> None:
        pass
