"""Shared set-up of the GPU checks: project on the path (driver and Ray workers), Ray start, timing, JSON."""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def project_on_path() -> None:
    """Make ``tool_actors`` importable here and in every Ray worker this process starts."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(ROOT) not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *parts])  # workers inherit it


def start_ray(cpu_dry_run: bool) -> dict[str, Any]:
    """A local Ray cluster: the GPU when there is one (none in a dry run); returns its resources."""
    import ray
    import torch

    if not cpu_dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: run on the GPU machine, or pass --cpu-dry-run")
    if cpu_dry_run:
        torch.set_num_threads(1)  # like the actors (Ray gives a 0-CPU actor one thread); small shared machines
    ray.init(num_gpus=0 if cpu_dry_run else 1, include_dashboard=False, log_to_driver=False)
    return {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")}


def device_description(cpu_dry_run: bool) -> dict[str, Any]:
    """What ran the check: GPU name and memory, torch and Ray versions."""
    import ray
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "ray": ray.__version__,
                            "cpus": os.cpu_count(), "cpu_dry_run": cpu_dry_run}
    if torch.cuda.is_available() and not cpu_dry_run:
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1), cuda=torch.version.cuda)
    return info


def images_per_second(fn: Callable[[], int], iters: int, warmup: int = 2) -> dict[str, float]:
    """Call ``fn`` (returns images processed) ``warmup`` times untimed, then ``iters`` times timed."""
    for _ in range(warmup):
        fn()
    times, images = [], 0
    for _ in range(iters):
        t0 = time.perf_counter()
        images += fn()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    return {"images_per_s": round(images / total, 2), "ms_per_call_median": round(1000 * statistics.median(times), 2),
            "calls": iters, "images": images}


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values`` by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def write_json(out_dir: Path, name: str, cpu_dry_run: bool, report: dict[str, Any]) -> Path:
    """``out_dir/<name>.json`` (``<name>.cpu-dry-run.json`` for a dry run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}{'.cpu-dry-run' if cpu_dry_run else ''}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return path


class GpuSampler(threading.Thread):
    """Polls nvidia-smi for utilisation (%) and memory used (MiB) until stopped; nothing without it."""

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

    def summary(self) -> dict[str, Any]:
        """Mean and peak utilisation, peak memory; Nones when nothing was sampled."""
        util = [u for _, u, _ in self.samples]
        mem = [m for _, _, m in self.samples]
        return {"samples": len(util), "util_mean_pct": round(sum(util) / len(util), 1) if util else None,
                "util_max_pct": max(util) if util else None, "mem_max_mib": max(mem) if mem else None}
