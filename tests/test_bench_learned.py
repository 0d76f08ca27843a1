"""bench/learned.py's scorer measures on hand-made tool applications with a known scorer."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench_learned():
    spec = importlib.util.spec_from_file_location("bench_learned", ROOT / "bench" / "learned.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class MeanBrightness:
    """A stand-in scorer: the mean pixel value (higher is better)."""

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return batch.reshape(len(batch), -1).mean(axis=1).astype(np.float32)

    def normalised(self, scores: np.ndarray) -> np.ndarray:
        return scores


def flat(value: int) -> np.ndarray:
    return np.full((4, 4, 3), value, np.uint8)


def item(degradation: str, outputs: dict[str, tuple[int, float]], misapplied: set[str], usm: tuple[int, float] | None):
    it = {"degradation": degradation, "gt": flat(200), "lq": flat(100), "misapplied": misapplied,
          "outputs": {n: flat(v) for n, (v, _) in outputs.items()}, "d_psnr": {n: d for n, (_, d) in outputs.items()}}
    if usm is not None:
        it["usm"], it["usm_d_psnr"] = flat(usm[0]), usm[1]
    return it


def test_misapplied_tools_are_measured_apart_from_the_aimed_ones(bench_learned) -> None:
    single = [item("rain", {"streak-derain": (150, 1.0), "oidn": (90, -0.5)}, {"oidn"}, (120, -0.2)),
              item("noise", {"streak-derain": (110, -0.3), "oidn": (160, 2.0)}, {"streak-derain"}, None)]
    mixed = [item("rain+noise", {"streak-derain": (130, 0.4), "oidn": (140, 0.8)}, set(), None)]
    m = bench_learned.scorer_metrics(MeanBrightness(), single, mixed)
    # deraining the noisy image lowered PSNR and raised the score; denoising the rainy one lowered both
    assert m["misapplied"] == {"n": 2, "mean_d_psnr": pytest.approx(-0.4), "share_psnr_fell": 1.0,
                               "share_score_rose_where_psnr_fell": 0.5}
    assert m["unsharp_on_blur"]["share_score_rose_where_psnr_fell"] == 1.0
    assert m["n_tool_applications"] == 6 and m["clean_above"] == 1.0
