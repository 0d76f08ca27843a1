"""GPU check (b): the DeQA-sized judge in the shared scorer actor, fp16, batched requests.

The judge is the full mPLUG-Owl2 architecture DeQA-Score uses (LLaMA-2-7B decoder, ViT-L/14 vision
tower at 448², visual abstractor: pyiqa's port, built through ``tool_actors.scorers.deqa_arch``)
with random weights, created directly on the GPU in fp16 (writing 14 GB of random weights to disk
and reading them back would only time the disk), wrapped by ``DeQAScorer.from_model``: the same
prompt, preprocessing and level-word formula as real DeQA-Score weights get. A word-level stand-in
tokenizer gives the prompt the same structure (real DeQA uses LLaMA's SentencePiece tokenizer).

Measured at 512×512 input:
  * ``direct``: the judge called in this process at batch 1, 8 and 32 — images/s and peak GPU
    memory (torch's allocator) per batch size;
  * ``actor``: one scorer actor (``--gpu-fraction`` of the GPU) behind ``ActorPool``, batching on
    (up to 32, 5 ms wait), with 1, 8 and 32 concurrent clients (separate processes, one image per
    call, like env runners) — images/s, latency, the actor's mean batch; and batching off
    (``max_batch`` 1) with 32 clients; peak GPU memory from nvidia-smi over the actor runs.

    source .device/on-device.sh && python3 bench/device/scorer_batching_gpu.py --out "$OUT"
    python bench/device/scorer_batching_gpu.py --cpu-dry-run --out /tmp/device   # tiny judge on CPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    ROOT,
    GpuSampler,
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

# mPLUG-Owl2's defaults in pyiqa's configuration classes are the full size (LLaMA-2-7B, ViT-L/14 448)
TINY = {"visual_config": {
            "visual_model": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                             "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
            "visual_abstractor": {"num_learnable_queries": 4, "hidden_size": 32, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "intermediate_size": 64, "encoder_hidden_size": 32,
                                  "grid_size": 2}},
        "vocab_size": 64, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "max_position_embeddings": 128}


def random_judge(tiny: bool, device: str) -> Scorer:
    """The mPLUG-Owl2 judge with random weights, built in place (fp16 on CUDA, fp32 on CPU)."""
    import torch

    from tool_actors.scorers import deqa_arch
    from tool_actors.scorers.deqa import DeQAScorer, word_level_tokenizer

    config = deqa_arch.config_class()(**(TINY if tiny else {}))
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = deqa_arch.model_class()(config)
    finally:
        torch.set_default_dtype(previous)
    scorer = DeQAScorer.from_model(model, word_level_tokenizer(), device=device)
    scorer.description = f"mPLUG-Owl2 judge, random weights, {str(dtype).removeprefix('torch.')}"
    return scorer


def registry(tiny: bool):
    from tool_actors.registry import Entry, Registry

    def factory(weights_dir: str | None = None, device: str = "cpu") -> Scorer:
        return random_judge(tiny, device)

    scorers: Registry[Scorer] = Registry("scorer")
    scorers.register(Entry("deqa-random", factory, category="NR", backend="neural"))
    return scorers


def measure_direct(judge: Any, size: int, iters: int) -> dict[str, Any]:
    """The judge called in this process at batch 1, 8 and 32: the compute ceiling, and its peak memory."""
    import torch

    images = np.random.default_rng(1).integers(0, 256, size=(32, size, size, 3), dtype=np.uint8)
    cuda = judge._dev.type == "cuda"
    out: dict[str, Any] = {}
    for b in (1, 8, 32):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        out[f"batch_{b}"] = images_per_second(lambda b=b: len(judge(images[:b])), iters)
        if cuda:
            out[f"batch_{b}"]["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    if cuda:
        out["weights_gib"] = round(sum(p.numel() * p.element_size() for p in judge.model.parameters()) / 2**30, 2)
    out["parameters_b"] = round(sum(p.numel() for p in judge.model.parameters()) / 1e9, 3)
    return out


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


def load_test(config: PoolConfig, scorers: Any, client_counts: tuple[int, ...], calls: int,
              size: int) -> dict[str, Any]:
    """Start the scorer pool once; for each client count run that many clients at once and report."""
    t0 = time.perf_counter()
    pool = ActorPool(config, scorers=scorers)
    report: dict[str, Any] = {"max_batch": config.scorer_batching.max_batch,
                              "max_wait_ms": config.scorer_batching.max_wait_ms,
                              "pool_start_s": round(time.perf_counter() - t0, 2), "calls_per_client": calls}
    try:
        callers = [Client.remote(config, size, seed) for seed in range(max(client_counts))]
        ray.get([c.ready.remote() for c in callers], timeout=300)
        ray.get([c.run.remote(2) for c in callers], timeout=600)  # warm-up
        for n in client_counts:
            pool.reset_stats()
            t0 = time.perf_counter()
            latencies = [x for run in ray.get([c.run.remote(calls) for c in callers[:n]], timeout=600) for x in run]
            wall = time.perf_counter() - t0
            stats = pool.stats()[f"scorer:{config.scorer}"]
            report[f"clients_{n}"] = {
                "images_per_s": round(len(latencies) / wall, 2),
                "latency_ms": {"p50": round(1000 * percentile(latencies, 0.5), 2),
                               "p95": round(1000 * percentile(latencies, 0.95), 2)},
                "mean_batch": round(stats["mean_batch"], 2), "component_calls": stats["batches"],
                "batch_sizes": {str(k): v for k, v in sorted(stats["batch_sizes"].items())}}
        for c in callers:
            ray.kill(c)
    finally:
        pool.shutdown()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny judge and images on CPU, to prove it runs")
    parser.add_argument("--size", type=int, default=None, help="image side sent by clients (default 512; 64)")
    parser.add_argument("--calls", type=int, default=None, help="calls per client (default 12; 3)")
    parser.add_argument("--gpu-fraction", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    dry = args.cpu_dry_run
    size = args.size or (64 if dry else 512)
    calls = args.calls or (3 if dry else 12)
    client_counts = (1, 2) if dry else (1, 8, 32)

    resources = start_ray(dry)
    report: dict[str, Any] = {"check": "scorer_batching_gpu", "device": device_description(dry),
                              "ray_resources": resources, "size": size}
    sampler = GpuSampler()
    try:
        t0 = time.perf_counter()
        judge = random_judge(dry, "cpu" if dry else "cuda")
        report["model"] = {"description": judge.description, "build_s": round(time.perf_counter() - t0, 1)}
        report["direct"] = measure_direct(judge, size, 2 if dry else 8)
        print("direct", report["direct"], flush=True)
        del judge
        if not dry:
            import torch

            torch.cuda.empty_cache()
        scorers = registry(dry)
        base = {"tools": [], "scorer": "deqa-random", "gpu_fraction": args.gpu_fraction,
                "cache_mb": 0, "timeout_s": 300, "start_timeout_s": 600}
        sampler.start()
        report["actor"] = load_test(
            PoolConfig(**base, namespace="device-scorer-on", scorer_batching={"max_batch": 32, "max_wait_ms": 5}),
            scorers, client_counts, calls, size)
        print("actor", report["actor"], flush=True)
        report["actor_batching_off"] = load_test(
            PoolConfig(**base, namespace="device-scorer-off", scorer_batching={"max_batch": 1, "max_wait_ms": 0}),
            scorers, client_counts[-1:], max(2, calls // 3), size)  # at batch 1 this pass is the slow one
        sampler.stop()
        report["gpu"] = sampler.summary()
    finally:
        sampler.stop()
        ray.shutdown()
    many = f"clients_{client_counts[-1]}"
    report["batching_speedup"] = round(report["actor"][many]["images_per_s"]
                                       / report["actor_batching_off"][many]["images_per_s"], 2)
    print("batching speedup at", many, report["batching_speedup"], "gpu", report["gpu"])
    write_json(args.out, "device_scorer_batching", dry, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
