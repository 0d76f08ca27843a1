"""A content-addressed result cache for deterministic components, bounded in memory (LRU by bytes).

Training repeats itself: every episode that starts from the same degraded image calls the same
tools on the same pixels, and the reward scorer and the encoder see the same intermediate images
again and again. Tools, scorers and encoders are pure functions of their input (``tool_actors.base``),
so a result can be reused whenever the exact same pixels come back.

The cache works **per image**, not per batch: the key of one image is a digest of

    component key (e.g. ``"tool:clahe"``) ‖ dtype ‖ shape ‖ raw pixel bytes

and the value is that image's output (a tool's ``(H, W, 3)`` image, a scorer's scalar, an
encoder's ``(dim,)`` vector). Per-image keys keep hits independent of how requests happened to be
batched together in a shared actor. This rests on one assumption the interfaces already state: a
component's output for an image does not depend on the other images in its batch.

Where it lives: inside each shared component actor (``tool_actors.actors``), so every caller of
that actor — env runners, Serve replicas, Ray Data workers — shares one cache; the in-process
``LocalExecutor`` keeps one per component. Stored values are read-only copies, so a caller that
edits a returned array in place can never corrupt the cache.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

Key = bytes

DIGEST_BYTES = 16  # 128-bit blake2b: accidental collisions are out of reach at any cache size


def content_key(component: str, image: np.ndarray) -> Key:
    """The cache key of one image for one component: a digest of name, dtype, shape and bytes."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    h.update(component.encode())
    h.update(b"\0")
    h.update(str(image.dtype).encode())
    h.update(repr(tuple(image.shape)).encode())
    h.update(b"\0")
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


@dataclass
class CacheStats:
    """Counters of one cache since it was made (or last reset)."""

    hits: int = 0  # images answered from the cache
    misses: int = 0  # images that had to be computed
    evictions: int = 0  # entries dropped to respect the byte bound
    rejected: int = 0  # results larger than the whole bound, never stored
    entries: int = 0  # entries held now
    bytes: int = 0  # bytes held now (values plus keys)
    max_bytes: int = 0  # the bound

    @property
    def hit_rate(self) -> float:
        """Hits over lookups; 0 before the first lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def as_dict(self) -> dict[str, float]:
        """Plain numbers, for JSON and metrics loggers."""
        return {**asdict(self), "hit_rate": self.hit_rate}


class ResultCache:
    """Per-image results keyed by content, evicting least-recently-used entries beyond ``max_bytes``.

    Thread-safe. ``max_bytes == 0`` disables it: every lookup misses and nothing is stored.
    """

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"cache size must be >= 0 bytes, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[Key, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._stats = CacheStats(max_bytes=self.max_bytes)

    @classmethod
    def from_mb(cls, megabytes: float) -> ResultCache:
        """A cache bounded to ``megabytes`` MiB."""
        if megabytes < 0:
            raise ValueError(f"cache size must be >= 0 MB, got {megabytes}")
        return cls(int(megabytes * 1024 * 1024))

    @property
    def enabled(self) -> bool:
        """Whether anything can be stored."""
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._lock:
            return CacheStats(**asdict(self._stats))

    def clear(self) -> None:
        """Drop every entry (the hit and miss counters are kept)."""
        with self._lock:
            self._entries.clear()
            self._stats.entries = 0
            self._stats.bytes = 0

    def reset_counters(self) -> None:
        """Zero hits, misses, evictions and rejections (entries are kept)."""
        with self._lock:
            self._stats = CacheStats(entries=len(self._entries), bytes=self._stats.bytes, max_bytes=self.max_bytes)

    def keys_for(self, component: str, batch: np.ndarray) -> list[Key]:
        """One key per image of ``batch`` (empty when the cache is disabled: nothing to look up)."""
        if not self.enabled:
            return []
        return [content_key(component, image) for image in batch]

    def lookup(self, keys: list[Key], count: int) -> list[np.ndarray | None]:
        """The stored value for each key, or ``None``; refreshes hits, counts hits and misses.

        ``count`` is the number of images looked up (with the cache disabled ``keys`` is empty
        and every one of the ``count`` images is a miss).
        """
        with self._lock:
            if not self.enabled:
                self._stats.misses += count
                return [None] * count
            found: list[np.ndarray | None] = []
            for key in keys:
                value = self._entries.get(key)
                if value is None:
                    self._stats.misses += 1
                else:
                    self._entries.move_to_end(key)
                    self._stats.hits += 1
                found.append(value)
            return found

    def store(self, keys: list[Key], values: np.ndarray) -> None:
        """Store ``values[i]`` under ``keys[i]`` (as read-only copies), evicting LRU entries."""
        if not self.enabled:
            return
        if len(keys) != len(values):
            raise ValueError(f"store: {len(keys)} keys for {len(values)} values")
        with self._lock:
            for key, value in zip(keys, values):
                size = _entry_bytes(key, value)
                if size > self.max_bytes:
                    self._stats.rejected += 1
                    continue
                old = self._entries.pop(key, None)
                if old is not None:
                    self._stats.bytes -= _entry_bytes(key, old)
                stored = np.array(value, copy=True)
                stored.setflags(write=False)
                self._entries[key] = stored
                self._stats.bytes += size
                while self._stats.bytes > self.max_bytes:
                    old_key, old_value = self._entries.popitem(last=False)
                    self._stats.bytes -= _entry_bytes(old_key, old_value)
                    self._stats.evictions += 1
            self._stats.entries = len(self._entries)

    def run(self, component: str, batch: np.ndarray, compute: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``compute(batch)``, answering repeated images from the cache and computing only the rest.

        ``compute`` takes a ``(M, ...)`` sub-batch of the images not found and returns ``M``
        results along the first axis; the answer is assembled in the order of ``batch``.
        """
        keys = self.keys_for(component, batch)
        found = self.lookup(keys, len(batch))
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            computed = compute(batch[missing] if len(missing) < len(batch) else batch)
            if keys:
                self.store([keys[i] for i in missing], computed)
            for j, i in enumerate(missing):
                found[i] = computed[j]
        return assemble(found)


def assemble(parts: list[np.ndarray | None]) -> np.ndarray:
    """Stack per-image results into one fresh (writable) array; every part must be present."""
    if any(part is None for part in parts):
        raise ValueError("assemble: a result is missing")
    return np.stack(parts)  # type: ignore[arg-type]


def _entry_bytes(key: Key, value: np.ndarray) -> int:
    return int(value.nbytes) + len(key)
