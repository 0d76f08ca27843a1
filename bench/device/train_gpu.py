"""GPU check of training: PPO with ≥ 4 rollout workers sharing fractional-GPU tool and scorer actors.

Trains the README's configuration (``configs/demo.yaml``: the embedded toolbox, the ``judge-small``
reward, the ``stats`` encoder) for a few iterations on a builtin dataset, with ``--env-runners``
rollout workers; the neural tools and the judge run as 0.25-GPU actors on cuda, the classical tools
as CPU actors. Embedded tools whose package is missing on the machine are left out (and listed).
nvidia-smi is sampled twice a second; writes ``device_train.json``: env steps/s per iteration,
mean/peak GPU utilisation and memory.

    source .device/on-device.sh && python3 bench/device/train_gpu.py --out "$OUT"
    python bench/device/train_gpu.py --out /tmp/device --cpu-dry-run      # proves it runs, no GPU
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, GpuSampler, device_description, project_on_path, write_json

project_on_path()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--env-runners", type=int, default=6)
    ap.add_argument("--size", type=int, default=256, help="longest image side during training")
    ap.add_argument("--cpu-dry-run", action="store_true", help="2 runners, 64-pixel images, 2 iterations, no GPU")
    args = ap.parse_args(argv)
    dry = args.cpu_dry_run

    import ray

    from restore_ray.config import TrainConfig
    from restore_ray.datasets import build_dataset
    from restore_ray.train import train
    from tool_actors.registry import TOOLS

    runners = 2 if dry else args.env_runners
    size = 64 if dry else args.size
    iterations = 2 if dry else args.iterations
    availability = {name: TOOLS.get(name).availability(None) for name in TOOLS.embedded()}
    tools = [name for name, (ok, _) in availability.items() if ok]
    left_out = {name: why for name, (ok, why) in availability.items() if not ok}
    ray.init(num_cpus=runners + 2, num_gpus=0 if dry else None, include_dashboard=False, logging_level="ERROR")
    resources = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")}
    report: dict[str, Any] = {"check": "train_gpu", "device": device_description(dry), "ray_resources": resources,
                              "config": "configs/demo.yaml", "env_runners": runners, "envs_per_runner": 2,
                              "image_side": size, "iterations": iterations, "tools": tools,
                              "tools_left_out": left_out}
    sampler = GpuSampler()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = build_dataset("builtin", Path(tmp) / "data", per_combo=25, size=size, single_per_split=0).manifest
            cfg = TrainConfig.from_yaml(ROOT / "configs" / "demo.yaml").with_overrides({
                "components.tools": tools, "run.iterations": iterations, "run.num_env_runners": runners,
                "run.num_envs_per_env_runner": 2, "run.max_image_side": size, "ppo.train_batch_size": 512,
                "ppo.minibatch_size": 128, "components.gpu_per_neural_actor": 0.25})
            sampler.start()
            t0 = time.time()
            res = train(cfg, data, Path(tmp) / "run",
                        progress=lambda m: print({k: round(v, 3) for k, v in m.items()}, flush=True))
            report["seconds"] = round(time.time() - t0, 1)
            sampler.stop()
    finally:
        sampler.stop()
        ray.shutdown()
    report["env_steps"] = res.env_steps
    report["env_steps_per_s"] = [round(r["env_steps_per_s"], 2) for r in res.metrics]
    report["gpu"] = sampler.summary()
    print("env steps/s", report["env_steps_per_s"], "gpu", report["gpu"])
    write_json(args.out, "device_train", dry, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
