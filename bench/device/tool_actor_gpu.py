"""GPU check (a): a spandrel Restormer (random weights) as a shared tool actor on a fractional GPU.

Saves a randomly initialised Restormer (the real architecture, 26 M parameters at the default
size) to a weights folder, registers it as a neural tool that loads through spandrel's
``ModelLoader`` — the same path real weights take — and starts it with ``ActorPool`` on a Ray
cluster with one GPU, so the actor asks for ``gpu_fraction`` (0.25) of it and runs on cuda.

Measured at 512×512 (images per second):
  * ``direct``: the tool called in this process (the compute floor, no Ray);
  * ``actor``: one caller sending batches of 1, then of 8, through the pool;
  * ``actor_concurrent``: 8 single-image requests in flight at once, which the actor batches.

    source .device/on-device.sh && python3 bench/device/tool_actor_gpu.py --out "$OUT"
    python bench/device/tool_actor_gpu.py --cpu-dry-run --out /tmp/device   # proves it runs, tiny sizes
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
from common import ROOT, device_description, images_per_second, project_on_path, start_ray, write_json

project_on_path()

from tool_actors.base import Tool

WEIGHTS_FILE = "restormer-random.pth"
SMALL = {"dim": 8, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "heads": [1, 1, 1, 1]}


class SpandrelTool(Tool):
    """Any spandrel image-to-image model as a tool: uint8 (N, H, W, 3) in and out, padded to its multiple."""

    name = "restormer-random"
    category = "denoise"
    backend = "neural"

    def __init__(self, path: Path, device: str, dtype: str) -> None:
        import spandrel
        import spandrel_extra_arches
        import torch

        spandrel_extra_arches.install(ignore_duplicates=True)
        descriptor = spandrel.ModelLoader(device="cpu").load_from_file(path)
        self.dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
        self.model = descriptor.model.eval().to(device=device, dtype=self.dtype)
        self.multiple = int(descriptor.size_requirements.multiple_of)
        self.device = device
        self.description = f"{descriptor.architecture.name}, random weights, {dtype}"

    def process(self, batch: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        h, w = batch.shape[1:3]
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).to(self.dtype) / 255.0  # (N, 3, H, W)
            ph, pw = (-h) % self.multiple, (-w) % self.multiple
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph), mode="reflect")
            y = self.model(x)[..., :h, :w].float().clamp(0, 1)
            return (y * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def save_random_restormer(folder: Path, small: bool) -> dict[str, Any]:
    """Write a randomly initialised Restormer's state dict; return its size."""
    import torch
    from spandrel_extra_arches.architectures.Restormer import Restormer

    torch.manual_seed(0)
    model = Restormer(**(SMALL if small else {}))
    torch.save(model.state_dict(), folder / WEIGHTS_FILE)
    return {"parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
            "config": SMALL if small else "Restormer defaults (dim 48, blocks 4/6/6/8)"}


def measure_direct(tool: Tool, images: np.ndarray, iters: int, dry: bool) -> dict[str, Any]:
    """The tool called in this process at batch 1 and 8 (the compute floor), with peak GPU memory."""
    import torch

    if not dry:
        torch.cuda.reset_peak_memory_stats()
    out: dict[str, Any] = {
        f"batch_{b}": images_per_second(lambda b=b: len(tool(images[:b])), iters if b == 1 else max(2, iters // 4))
        for b in (1, 8)
    }
    if not dry:
        out["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        del tool
        torch.cuda.empty_cache()
    return out


def registry(dtype: str):
    from tool_actors.registry import Entry, Registry

    def factory(weights_dir: str | None = None, device: str = "cpu") -> SpandrelTool:
        from tool_actors.weights import weights_file

        return SpandrelTool(weights_file(WEIGHTS_FILE, weights_dir), device, dtype)

    tools: Registry[Tool] = Registry("tool")
    tools.register(Entry("restormer-random", factory, category="denoise", backend="neural", weights=(WEIGHTS_FILE,)))
    return tools


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu-dry-run", action="store_true", help="tiny model and images on CPU, to prove it runs")
    parser.add_argument("--size", type=int, default=None, help="image side (default 512; 64 in a dry run)")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default=None,
                        help="model precision (default bf16 on GPU, fp32 in a dry run)")
    parser.add_argument("--iters", type=int, default=None, help="timed calls per measurement (default 20; 2)")
    parser.add_argument("--gpu-fraction", type=float, default=0.25)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    dry = args.cpu_dry_run
    size = args.size or (64 if dry else 512)
    dtype = args.dtype or ("fp32" if dry else "bf16")
    iters = args.iters or (2 if dry else 20)

    import ray

    from tool_actors.pool import ActorPool, PoolConfig

    resources = start_ray(dry)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(64, size, size, 3), dtype=np.uint8)
    report: dict[str, Any] = {"check": "tool_actor_gpu", "device": device_description(dry), "ray_resources": resources,
                              "size": size, "dtype": dtype, "gpu_fraction": args.gpu_fraction}
    with tempfile.TemporaryDirectory() as tmp:
        report["model"] = save_random_restormer(Path(tmp), small=dry)
        tools = registry(dtype)
        device = "cpu" if dry else "cuda"
        report["direct"] = measure_direct(tools.build("restormer-random", weights_dir=tmp, device=device),
                                          images, iters, dry)
        config = PoolConfig(tools=["restormer-random"], weights_dir=tmp, namespace="device-tool-actor",
                            gpu_fraction=args.gpu_fraction, cache_mb=0, timeout_s=300, start_timeout_s=300,
                            tool_batching={"max_batch": 8, "max_wait_ms": 5.0})
        t0 = time.perf_counter()
        pool = ActorPool(config, tools=tools)
        report["actor_start_s"] = round(time.perf_counter() - t0, 2)
        try:
            info = pool.info("tool:restormer-random")
            report["actor_device"] = info.device
            if not dry and info.device != "cuda":
                raise AssertionError(f"the neural tool actor runs on {info.device!r}, expected cuda")
            k = iter(range(10**9))

            def batch(b: int) -> int:  # distinct images per call, so nothing could be served from memory
                start = (next(k) * b) % (len(images) - b)
                return len(pool.apply("restormer-random", images[start : start + b]))

            def concurrent(clients: int = 8) -> int:
                refs = [pool.apply_async("restormer-random", images[i : i + 1]) for i in range(clients)]
                return sum(len(r) for r in ray.get(refs, timeout=300))

            report["actor"] = {
                "batch_1": images_per_second(lambda: batch(1), iters),
                "batch_8": images_per_second(lambda: batch(8), max(2, iters // 4)),
            }
            pool.reset_stats()
            report["actor_concurrent"] = {"clients": 8, **images_per_second(concurrent, max(2, iters // 4), warmup=0)}
            stats = pool.stats()["tool:restormer-random"]
            report["actor_concurrent"]["mean_batch"] = round(stats["mean_batch"], 2)
            report["actor_concurrent"]["batch_sizes"] = {str(k): v for k, v in stats["batch_sizes"].items()}
        finally:
            pool.shutdown()
            ray.shutdown()
    for key in ("direct", "actor"):
        print(key, {b: r["images_per_s"] for b, r in report[key].items() if isinstance(r, dict)})
    print("actor_concurrent", report["actor_concurrent"]["images_per_s"], "img/s, mean batch",
          report["actor_concurrent"]["mean_batch"])
    write_json(args.out, "device_tool_actor", dry, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
