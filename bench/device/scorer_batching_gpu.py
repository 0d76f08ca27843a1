"""GPU check (b): the shared scorer actor's request batching in front of a heavy judge model.

The judge is a ViT-L/14 image tower at 448×448 (the vision half of a DeQA-sized judge; random
weights, saved to a weights folder with its configuration and loaded back through the registry's
weights path) whose five logits are read as DeQA reads its level words: softmax over
bad..excellent, weighted 1..5, so the score lies in [1, 5].

``--clients`` separate client processes (Ray actors with no CPU reservation, like env runners) each
connect to the pool by name and score one 512×512 image at a time, ``--calls`` times, back to back.
The same load runs three times: batching off (``max_batch`` 1), on (``max_batch`` 32, 5 ms wait),
and on without waiting (``max_wait_ms`` 0: a batch is whatever queued while the judge was busy);
reported are images per second, per-call latency percentiles and the actor's mean batch. The judge
called in this process at batch 1, 8 and 32 gives the compute ceiling.

    source .device/on-device.sh && python3 bench/device/scorer_batching_gpu.py --out "$OUT"
    python bench/device/scorer_batching_gpu.py --cpu-dry-run --out /tmp/device   # tiny judge on CPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    device_description,
    images_per_second,
    percentile,
    project_on_path,
    start_ray,
    write_json,
)

project_on_path()

import ray

from tool_actors.base import Scorer
from tool_actors.pool import ActorPool, PoolConfig

WEIGHTS_FILE = "vit-judge-random.pth"
FULL = {"img_size": 448, "patch_size": 14, "embed_dim": 1024, "depth": 24, "num_heads": 16}
TINY = {"img_size": 64, "patch_size": 16, "embed_dim": 64, "depth": 2, "num_heads": 2}


class ViTJudge(Scorer):
    """A ViT image tower with a 5-level head; score = Σ softmax(levels) · (1..5), in [1, 5]."""

    name = "vit-judge"
    higher_is_better = True
    score_range = (1.0, 5.0)

    def __init__(self, path: Path, device: str, dtype: str) -> None:
        import torch
        from timm.models.vision_transformer import VisionTransformer

        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        self.config = dict(checkpoint["config"])
        self.model = VisionTransformer(**self.config, num_classes=5)
        self.model.load_state_dict(checkpoint["state_dict"])
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
        self.model = self.model.eval().to(device=device, dtype=self.dtype)
        self.device = device
        self.levels = torch.arange(1, 6, dtype=torch.float32, device=device)  # bad … excellent
        self.description = f"ViT judge {self.config['embed_dim']}d×{self.config['depth']}, random weights, {dtype}"

    def score(self, batch: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        side = self.config["img_size"]
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float() / 255.0  # (N, 3, H, W)
            x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
            x = ((x - 0.5) / 0.5).to(self.dtype)
            p = self.model(x).float().softmax(-1)  # (N, 5)
            return (p * self.levels).sum(-1).cpu().numpy()


def save_random_judge(folder: Path, tiny: bool) -> dict[str, Any]:
    """Write a randomly initialised judge with its configuration beside the weights."""
    import torch
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(0)
    config = TINY if tiny else FULL
    model = VisionTransformer(**config, num_classes=5)
    torch.save({"config": config, "state_dict": model.state_dict()}, folder / WEIGHTS_FILE)
    return {"parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1), "config": config}


def registry(dtype: str):
    from tool_actors.registry import Entry, Registry

    def factory(weights_dir: str | None = None, device: str = "cpu") -> ViTJudge:
        from tool_actors.weights import weights_file

        return ViTJudge(weights_file(WEIGHTS_FILE, weights_dir), device, dtype)

    scorers: Registry[Scorer] = Registry("scorer")
    scorers.register(Entry("vit-judge", factory, category="NR", backend="neural", weights=(WEIGHTS_FILE,)))
    return scorers


def measure_direct(judge: Scorer, size: int, iters: int) -> dict[str, Any]:
    """The judge called in this process at batch 1, 8 and 32: the compute ceiling."""
    images = np.random.default_rng(1).integers(0, 256, size=(32, size, size, 3), dtype=np.uint8)
    return {f"batch_{b}": images_per_second(lambda b=b: len(judge(images[:b])), iters) for b in (1, 8, 32)}


@ray.remote(num_cpus=0)
class Client:
    """One env-runner-like caller: connects by name, scores one image at a time."""

    def __init__(self, config: PoolConfig, size: int, seed: int) -> None:
        self.pool = ActorPool.connect(config)
        self.images = np.random.default_rng(seed).integers(0, 256, size=(8, size, size, 3), dtype=np.uint8)

    def ready(self) -> bool:
        return True

    def run(self, calls: int) -> list[float]:
        latencies = []
        for i in range(calls):
            t0 = time.perf_counter()
            self.pool.score(self.images[i % len(self.images)][None])
            latencies.append(time.perf_counter() - t0)
        return latencies


def load_test(config: PoolConfig, scorers: Any, clients: int, calls: int, size: int) -> dict[str, Any]:
    """Start the scorer pool, run the clients at once, report throughput, latency and batching."""
    t0 = time.perf_counter()
    pool = ActorPool(config, scorers=scorers)
    start_s = time.perf_counter() - t0
    try:
        callers = [Client.remote(config, size, seed) for seed in range(clients)]
        ray.get([c.ready.remote() for c in callers], timeout=300)
        ray.get([c.run.remote(2) for c in callers], timeout=300)  # warm-up
        pool.reset_stats()
        t0 = time.perf_counter()
        latencies = [x for run in ray.get([c.run.remote(calls) for c in callers], timeout=600) for x in run]
        wall = time.perf_counter() - t0
        stats = pool.stats()[f"scorer:{config.scorer}"]
        for c in callers:
            ray.kill(c)
    finally:
        pool.shutdown()
    return {"max_batch": config.scorer_batching.max_batch, "max_wait_ms": config.scorer_batching.max_wait_ms,
            "clients": clients, "calls_per_client": calls, "pool_start_s": round(start_s, 2),
            "images_per_s": round(len(latencies) / wall, 2),
            "latency_ms": {"p50": round(1000 * percentile(latencies, 0.5), 2),
                           "p95": round(1000 * percentile(latencies, 0.95), 2)},
            "mean_batch": round(stats["mean_batch"], 2), "component_calls": stats["batches"],
            "batch_sizes": {str(k): v for k, v in sorted(stats["batch_sizes"].items())}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny judge and images on CPU, to prove it runs")
    parser.add_argument("--size", type=int, default=None, help="image side sent by clients (default 512; 64)")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None, help="default bf16; fp32 dry")
    parser.add_argument("--clients", type=int, default=None, help="concurrent callers (default 16; 2)")
    parser.add_argument("--calls", type=int, default=None, help="calls per client (default 40; 4)")
    parser.add_argument("--gpu-fraction", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    dry = args.cpu_dry_run
    size = args.size or (64 if dry else 512)
    dtype = args.dtype or ("fp32" if dry else "bf16")
    clients = args.clients or (2 if dry else 16)
    calls = args.calls or (4 if dry else 40)

    resources = start_ray(dry)
    report: dict[str, Any] = {"check": "scorer_batching_gpu", "device": device_description(dry),
                              "ray_resources": resources, "size": size, "dtype": dtype}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report["model"] = save_random_judge(Path(tmp), tiny=dry)
            scorers = registry(dtype)
            judge = scorers.build("vit-judge", weights_dir=tmp, device="cpu" if dry else "cuda")
            report["direct"] = measure_direct(judge, size, 3 if dry else 10)
            del judge
            base = {"tools": [], "scorer": "vit-judge", "weights_dir": tmp, "gpu_fraction": args.gpu_fraction,
                    "cache_mb": 0, "timeout_s": 300, "start_timeout_s": 300}
            report["batching_off"] = load_test(
                PoolConfig(**base, namespace="device-scorer-off", scorer_batching={"max_batch": 1, "max_wait_ms": 0}),
                scorers, clients, calls, size)
            report["batching_on"] = load_test(
                PoolConfig(**base, namespace="device-scorer-on", scorer_batching={"max_batch": 32, "max_wait_ms": 5}),
                scorers, clients, calls, size)
            report["batching_no_wait"] = load_test(
                PoolConfig(**base, namespace="device-scorer-no-wait",
                           scorer_batching={"max_batch": 32, "max_wait_ms": 0}),
                scorers, clients, calls, size)
    finally:
        ray.shutdown()
    off = report["batching_off"]["images_per_s"]
    report["speedup"] = {"on": round(report["batching_on"]["images_per_s"] / off, 2),
                         "no_wait": round(report["batching_no_wait"]["images_per_s"] / off, 2)}
    print("direct", {b: r["images_per_s"] for b, r in report["direct"].items()})
    for key in ("batching_off", "batching_on", "batching_no_wait"):
        r = report[key]
        print(key, r["images_per_s"], "img/s, p50", r["latency_ms"]["p50"], "ms, mean batch", r["mean_batch"])
    print("speedup", report["speedup"])
    write_json(args.out, "device_scorer_batching", dry, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
