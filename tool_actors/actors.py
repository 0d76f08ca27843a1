"""One generic Ray actor that hosts any component — a tool, the reward scorer or the encoder.

A component is built once in the actor's ``__init__`` (from a registry entry, with the weights
directory and device the pool chose) and stays resident; every caller in the cluster that finds
the actor by name shares it. The actor is asynchronous: concurrent requests are queued, and a
single batching loop gathers them into one batch of up to ``max_batch`` images (waiting at most
``max_wait_ms`` after the oldest request arrived), runs the component once on the stacked batch in
a worker thread, and answers each caller with its own slice. Requests are grouped by image size:
one batch holds images of one ``(H, W)``, the oldest request's size first, so no size waits for ever.

Why batch: a neural tool or the judge costs about the same per call at batch 1 as at batch 8
(see the measured figures in the project's design notes), so many env runners calling one shared
actor one image at a time would waste most of the accelerator.

Per-image results are cached by content (``tool_actors.cache``) before they reach the queue, so
repeated images cost a hash, not a model call. An exception inside the component fails only the
requests of that batch — when a batch of several requests fails, each request is retried alone so
a bad request cannot fail its neighbours — and the error names the component; the actor keeps
serving. ``stats()`` counts requests, images, batches and cache hits for tests and metrics.

``ComponentHost`` is the plain class (usable under ``asyncio`` without Ray); ``ComponentActor``
is the same class as a Ray actor. ``tool_actors.pool`` decides names, namespace and resources.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import ray

from tool_actors.base import ComponentError, Encoder, Scorer, Tool, UnavailableError, check_batch
from tool_actors.cache import ResultCache, assemble
from tool_actors.registry import ENCODERS, SCORERS, TOOLS, Entry, Registry

Kind = Literal["tool", "scorer", "encoder"]
KINDS: tuple[Kind, ...] = ("tool", "scorer", "encoder")
Component = Tool | Scorer | Encoder

_BASES: dict[str, type] = {"tool": Tool, "scorer": Scorer, "encoder": Encoder}
_REGISTRIES: dict[str, Registry[Any]] = {"tool": TOOLS, "scorer": SCORERS, "encoder": ENCODERS}


def default_registry(kind: Kind) -> Registry[Any]:
    """The project-wide registry of ``kind`` (``TOOLS``, ``SCORERS`` or ``ENCODERS``)."""
    return _REGISTRIES[check_kind(kind)]


def check_kind(kind: str) -> Kind:
    """``kind`` if it is one of ``tool``, ``scorer``, ``encoder``; ``ValueError`` otherwise."""
    if kind not in KINDS:
        raise ValueError(f"unknown component kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind  # type: ignore[return-value]


@dataclass(frozen=True)
class Batching:
    """How a shared actor gathers concurrent requests into one component call."""

    max_batch: int = 8  # B: most images per component call (also bounds accelerator memory)
    max_wait_ms: float = 2.0  # longest wait for company after the oldest queued request arrived

    def __post_init__(self) -> None:
        if int(self.max_batch) != self.max_batch or self.max_batch < 1:
            raise ValueError(f"max_batch must be a positive integer, got {self.max_batch!r}")
        if not (self.max_wait_ms >= 0):
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms!r}")


@dataclass(frozen=True)
class ComponentSpec:
    """What to build: a registry entry of one kind, with the weights directory and device."""

    kind: Kind
    entry: Entry[Any]
    weights_dir: str | None = None
    device: str = "cpu"

    @property
    def name(self) -> str:
        """The component's registered name."""
        return self.entry.name

    @property
    def key(self) -> str:
        """``"kind:name"``: the actor's name and the cache's component key."""
        return f"{self.kind}:{self.entry.name}"

    def build(self) -> Component:
        """Build the component; ``UnavailableError`` says why it cannot be built here."""
        ok, reason = self.entry.availability(self.weights_dir)
        if not ok:
            raise UnavailableError(f"{self.kind} {self.name!r} is unavailable: {reason}")
        component = self.entry.factory(weights_dir=self.weights_dir, device=self.device)
        base = _BASES[self.kind]
        if not isinstance(component, base):
            raise TypeError(
                f"{self.kind} {self.name!r}: the factory returned {type(component).__name__}, "
                f"expected a {base.__module__}.{base.__name__} instance"
            )
        return component


@dataclass(frozen=True)
class ComponentInfo:
    """What callers need to know about a hosted component (and how it was built)."""

    kind: Kind
    name: str
    backend: str
    device: str
    weights_dir: str | None
    description: str = ""
    category: str | None = None  # tools
    higher_is_better: bool | None = None  # scorers
    score_range: tuple[float, float] | None = None  # scorers
    dim: int | None = None  # encoders

    @classmethod
    def of(cls, spec: ComponentSpec, component: Component) -> ComponentInfo:
        """Describe a built component."""
        return cls(
            kind=spec.kind,
            name=spec.name,
            backend=spec.entry.backend,
            device=str(getattr(component, "device", spec.device)),
            weights_dir=spec.weights_dir,
            description=str(getattr(component, "description", "") or spec.entry.description),
            category=getattr(component, "category", None) if spec.kind == "tool" else None,
            higher_is_better=bool(component.higher_is_better) if isinstance(component, Scorer) else None,
            score_range=tuple(map(float, component.score_range)) if isinstance(component, Scorer) else None,  # type: ignore[arg-type]
            dim=int(component.dim) if isinstance(component, Encoder) else None,
        )


@dataclass
class HostStats:
    """Counters of one hosted component since its (re)start."""

    requests: int = 0  # calls received
    images: int = 0  # images received
    batches: int = 0  # component calls that succeeded or failed
    batched_images: int = 0  # images sent to the component
    max_batch_seen: int = 0  # largest single component call
    errors: int = 0  # requests answered with an error
    compute_s: float = 0.0  # wall time inside the component
    batch_sizes: dict[int, int] = field(default_factory=dict)  # component-call size → count


class _Pending:
    """One queued sub-request: images of one size waiting for a batch, and who to answer."""

    __slots__ = ("arrived", "future", "images")

    def __init__(self, images: np.ndarray, future: asyncio.Future[np.ndarray]) -> None:
        self.images = images
        self.future = future
        self.arrived = time.monotonic()


class ComponentHost:
    """Hosts one component: batches concurrent requests, caches per-image results, counts work."""

    def __init__(self, spec: ComponentSpec, batching: Batching = Batching(), cache_mb: float = 0.0) -> None:
        self.spec = spec
        self.batching = batching
        self.component = spec.build()
        self.info_ = ComponentInfo.of(spec, self.component)
        self.cache = ResultCache.from_mb(cache_mb)
        self.counters = HostStats()
        self._owner = f"{spec.kind} {spec.name!r}"
        self._min_side = int(getattr(self.component, "min_side", 1))
        self._queue: list[_Pending] = []
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"component-{spec.name}")

    # ---- the public surface (actor methods) -------------------------------------------------------
    async def call(self, batch: np.ndarray) -> np.ndarray:
        """Run the component on a uint8 ``(N, H, W, 3)`` batch; results in the same order."""
        batch = check_batch(batch, self._owner, self._min_side)
        self.counters.requests += 1
        self.counters.images += len(batch)
        try:
            keys = self.cache.keys_for(self.spec.key, batch)
            found = self.cache.lookup(keys, len(batch))
            missing = [i for i, value in enumerate(found) if value is None]
            if missing:
                todo = batch[missing]  # a writable copy: arrays from the object store are read-only
                step = self.batching.max_batch
                chunks = [todo[i : i + step] for i in range(0, len(todo), step)]
                outs = await asyncio.gather(*(self._submit(chunk) for chunk in chunks))
                computed = np.concatenate(outs)
                if keys:
                    self.cache.store([keys[i] for i in missing], computed)
                for j, i in enumerate(missing):
                    found[i] = computed[j]
            return assemble(found)
        except Exception:
            self.counters.errors += 1
            raise

    async def info(self) -> ComponentInfo:
        """The hosted component's description (also a cheap readiness probe)."""
        return self.info_

    async def stats(self) -> dict[str, Any]:
        """Counters for tests and metrics: requests, batches, cache, and where this actor runs."""
        actor_id = ray.get_runtime_context().get_actor_id() if ray.is_initialized() else None
        with warnings.catch_warnings():  # Ray's own property trips its deprecation warning
            warnings.simplefilter("ignore")
            restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed) if actor_id else False
        return {
            "component": self.spec.key,
            **asdict(self.counters),
            "mean_batch": self.counters.batched_images / self.counters.batches if self.counters.batches else 0.0,
            "queued": sum(len(p.images) for p in self._queue),
            "cache": self.cache.stats().as_dict(),
            "pid": os.getpid(),
            "actor_id": actor_id,
            "restarted": restarted,
        }

    async def reset_stats(self) -> None:
        """Zero the request, batch and cache-hit counters (the cache keeps its entries)."""
        self.counters = HostStats()
        self.cache.reset_counters()

    async def clear_cache(self) -> None:
        """Drop every cached result."""
        self.cache.clear()

    # ---- batching ----------------------------------------------------------------------------------
    async def _submit(self, images: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        if self._wake is None:
            self._wake = asyncio.Event()
        if self._loop_task is None or self._loop_task.done():
            self._loop_task = loop.create_task(self._batch_loop())
        pending = _Pending(images, loop.create_future())
        self._queue.append(pending)
        self._wake.set()
        return await pending.future

    async def _batch_loop(self) -> None:
        assert self._wake is not None
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            group: list[_Pending] = []
            try:
                await self._gather_company()
                group = self._take()
                if group:
                    await self._run(group)
            except Exception as err:  # noqa: BLE001 - a bug here must fail the callers, not hang them
                for pending in group:
                    if not pending.future.done():
                        pending.future.set_exception(err)

    async def _gather_company(self) -> None:
        """Wait until a full batch of the oldest request's size is queued, or its deadline passes."""
        assert self._wake is not None
        head = self._queue[0]
        size = head.images.shape[1:]
        deadline = head.arrived + self.batching.max_wait_ms / 1000.0
        while sum(len(p.images) for p in self._queue if p.images.shape[1:] == size) < self.batching.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), remaining)
            except TimeoutError:
                return

    def _take(self) -> list[_Pending]:
        """Remove and return queued requests of the oldest request's size, up to ``max_batch`` images."""
        self._queue = [p for p in self._queue if not p.future.done()]  # callers that gave up
        if not self._queue:
            return []
        size = self._queue[0].images.shape[1:]
        group: list[_Pending] = []
        rest: list[_Pending] = []
        total = 0
        for pending in self._queue:
            n = len(pending.images)
            if pending.images.shape[1:] == size and (not group or total + n <= self.batching.max_batch):
                group.append(pending)
                total += n
            else:
                rest.append(pending)
        self._queue = rest
        return group

    async def _run(self, group: list[_Pending]) -> None:
        """One component call for the group; on failure, each request alone so only the culprit fails."""
        batch = np.concatenate([p.images for p in group])  # (B, H, W, 3) uint8
        try:
            out = await self._compute(batch)
        except Exception as err:  # noqa: BLE001 - handed to the callers below
            if len(group) == 1:
                if not group[0].future.done():
                    group[0].future.set_exception(err)
                return
            for pending in group:
                await self._run([pending])
            return
        start = 0
        for pending in group:
            n = len(pending.images)
            if not pending.future.done():
                pending.future.set_result(out[start : start + n])
            start += n

    async def _compute(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        self.counters.batches += 1
        self.counters.batched_images += n
        self.counters.max_batch_seen = max(self.counters.max_batch_seen, n)
        self.counters.batch_sizes[n] = self.counters.batch_sizes.get(n, 0) + 1
        t0 = time.perf_counter()
        try:
            out = await asyncio.get_running_loop().run_in_executor(self._thread, self.component, batch)
        finally:
            self.counters.compute_s += time.perf_counter() - t0
        if len(out) != n:
            raise ComponentError(f"{self._owner} returned {len(out)} results for {n} images")
        return out


ComponentActor = ray.remote(ComponentHost)
"""``ComponentHost`` as a Ray actor class; ``tool_actors.pool`` sets its name and resources."""
