"""The content-addressed result cache: keys, hits, the LRU byte bound, and partial-hit batches."""

from __future__ import annotations

import numpy as np
import pytest

from tool_actors.cache import DIGEST_BYTES, ResultCache, content_key


def _images(n: int, h: int = 8, w: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def test_key_depends_on_component_bytes_and_shape() -> None:
    img = _images(1)[0]
    assert content_key("tool:a", img) == content_key("tool:a", img.copy())
    assert content_key("tool:a", img) != content_key("tool:b", img)
    changed = img.copy()
    changed[3, 3, 1] ^= 1
    assert content_key("tool:a", img) != content_key("tool:a", changed)
    # the same bytes read as another shape are another image
    assert content_key("tool:a", img) != content_key("tool:a", img.reshape(4, 16, 3))
    assert content_key("tool:a", img) != content_key("tool:a", img.view(np.int8))
    # a non-contiguous view hashes like its contiguous copy
    assert content_key("tool:a", img[:, ::2]) == content_key("tool:a", np.ascontiguousarray(img[:, ::2]))
    assert len(content_key("tool:a", img)) == DIGEST_BYTES


def test_repeated_call_is_a_hit_and_skips_compute() -> None:
    cache = ResultCache.from_mb(1)
    seen: list[int] = []

    def invert(batch: np.ndarray) -> np.ndarray:
        seen.append(len(batch))
        return 255 - batch

    batch = _images(4)
    first = cache.run("tool:invert", batch, invert)
    second = cache.run("tool:invert", batch, invert)
    np.testing.assert_array_equal(first, 255 - batch)
    np.testing.assert_array_equal(second, first)
    assert seen == [4]
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.entries) == (4, 4, 4)
    assert stats.hit_rate == pytest.approx(0.5)


def test_partial_hits_compute_only_the_new_images_in_order() -> None:
    cache = ResultCache.from_mb(1)
    seen: list[np.ndarray] = []

    def plus_one(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.copy())
        return batch + 1

    a, b = _images(2, seed=1), _images(2, seed=2)
    cache.run("tool:p", a, plus_one)
    mixed = np.stack([b[0], a[1], b[1], a[0]])
    out = cache.run("tool:p", mixed, plus_one)
    np.testing.assert_array_equal(out, mixed + 1)
    np.testing.assert_array_equal(seen[1], b)  # only the two unseen images, in their order
    assert cache.stats().hits == 2


def test_returned_arrays_do_not_alias_the_cache() -> None:
    cache = ResultCache.from_mb(1)
    batch = _images(2)
    out = cache.run("tool:id", batch, lambda b: b.copy())
    out[:] = 0  # a caller editing its answer in place
    again = cache.run("tool:id", batch, lambda b: pytest.fail("should be cached"))
    np.testing.assert_array_equal(again, batch)
    assert again.flags.writeable


def test_lru_bound_in_bytes_is_respected() -> None:
    img_bytes = 8 * 8 * 3
    entry = img_bytes + DIGEST_BYTES
    cache = ResultCache(max_bytes=3 * entry)  # room for exactly three images
    imgs = _images(5, seed=3)
    for i in range(3):
        cache.run("tool:id", imgs[i : i + 1], lambda b: b)
    cache.run("tool:id", imgs[0:1], lambda b: pytest.fail("image 0 should be cached"))  # 0 becomes most recent
    cache.run("tool:id", imgs[3:4], lambda b: b)  # evicts 1, the least recently used
    stats = cache.stats()
    assert stats.bytes <= cache.max_bytes
    assert (stats.entries, stats.evictions) == (3, 1)
    calls: list[int] = []
    cache.run("tool:id", imgs[[0, 2, 3]], lambda b: calls.append(len(b)) or b)
    assert calls == []  # 0, 2 and 3 are still there
    cache.run("tool:id", imgs[1:2], lambda b: calls.append(len(b)) or b)
    assert calls == [1]  # 1 was evicted
    for _ in range(3):  # a long run never exceeds the bound
        cache.run("tool:id", _images(7, seed=10 + _), lambda b: b)
        assert cache.stats().bytes <= cache.max_bytes


def test_value_larger_than_bound_is_rejected_not_stored() -> None:
    cache = ResultCache(max_bytes=100)
    out = cache.run("tool:id", _images(1), lambda b: b)  # 192 bytes of pixels
    assert out.shape == (1, 8, 8, 3)
    stats = cache.stats()
    assert (stats.entries, stats.rejected, stats.bytes) == (0, 1, 0)


def test_disabled_cache_always_computes() -> None:
    cache = ResultCache(max_bytes=0)
    calls: list[int] = []
    batch = _images(3)
    for _ in range(2):
        cache.run("tool:id", batch, lambda b: calls.append(len(b)) or b)
    assert calls == [3, 3]
    assert (cache.stats().hits, cache.stats().misses, len(cache)) == (0, 6, 0)


def test_scalar_and_vector_results_are_cached_per_image() -> None:
    cache = ResultCache.from_mb(1)
    batch = _images(3)
    scores = cache.run("scorer:mean", batch, lambda b: b.mean(axis=(1, 2, 3)).astype(np.float32))
    assert scores.shape == (3,) and scores.dtype == np.float32
    again = cache.run("scorer:mean", batch[::-1], lambda b: pytest.fail("should be cached"))
    np.testing.assert_array_equal(again, scores[::-1])


def test_negative_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        ResultCache(-1)
    with pytest.raises(ValueError, match=">= 0 MB"):
        ResultCache.from_mb(-0.5)
