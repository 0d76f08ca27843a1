"""GPU check of training: PPO with ≥ 4 rollout workers sharing fractional-GPU tool and scorer actors.

Builds a small builtin dataset, trains a few iterations with the embedded toolbox (its neural tools
and the neural reward scorer land on the GPU as 0.25-GPU actors), samples GPU utilisation with
nvidia-smi twice a second, and writes train_gpu.json: env steps/s per iteration, mean/peak GPU
utilisation and memory.

    source .device/on-device.sh && python3 bench/device/train_gpu.py --out "$OUT"
    python bench/device/train_gpu.py --out /tmp/device --cpu-dry-run      # proves it runs, no GPU
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path


class GpuSampler(threading.Thread):
    """Polls nvidia-smi for utilisation (%) and memory (MiB) until stopped."""

    def __init__(self, period: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.period, self.samples, self._stop = period, [], threading.Event()

    def run(self) -> None:
        if shutil.which("nvidia-smi") is None:
            return
        while not self._stop.is_set():
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                util, mem = out.stdout.strip().splitlines()[0].split(",")
                self.samples.append((time.time(), float(util), float(mem)))
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=4)
    ap.add_argument("--env-runners", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cpu-dry-run", action="store_true", help="2 runners, small images, no GPU")
    args = ap.parse_args()

    import ray

    from restore_ray.config import TrainConfig
    from restore_ray.datasets import build_dataset
    from restore_ray.train import train

    runners = 2 if args.cpu_dry_run else args.env_runners
    size = 64 if args.cpu_dry_run else args.size
    iterations = 2 if args.cpu_dry_run else args.iterations
    ray.init(num_cpus=runners + 2, include_dashboard=False, logging_level="ERROR")
    gpus = ray.cluster_resources().get("GPU", 0.0)
    sampler = GpuSampler()
    with tempfile.TemporaryDirectory() as tmp:
        data = build_dataset("builtin", Path(tmp) / "data", per_combo=25, size=size, single_per_split=0).manifest
        cfg = TrainConfig().with_overrides({
            "run.iterations": iterations, "run.num_env_runners": runners, "run.num_envs_per_env_runner": 2,
            "run.max_image_side": size, "ppo.train_batch_size": 512, "ppo.minibatch_size": 128,
            "components.gpu_per_neural_actor": 0.25})
        sampler.start()
        t0 = time.time()
        res = train(cfg, data, Path(tmp) / "run")
        seconds = time.time() - t0
        sampler.stop()
    ray.shutdown()
    util = [u for _, u, _ in sampler.samples]
    mem = [m for _, _, m in sampler.samples]
    report = {"gpus_in_cluster": gpus, "env_runners": runners, "envs_per_runner": 2, "image_side": size,
              "iterations": iterations, "seconds": seconds, "env_steps": res.env_steps,
              "env_steps_per_s": [r["env_steps_per_s"] for r in res.metrics],
              "gpu_util_mean": sum(util) / len(util) if util else None, "gpu_util_max": max(util) if util else None,
              "gpu_mem_max_mib": max(mem) if mem else None, "dry_run": args.cpu_dry_run}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "train_gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
