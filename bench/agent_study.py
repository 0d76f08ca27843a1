"""The agent study: learned policies against baselines on held-out builtin images, settings I–IV.

Trains PPO, GRPO (same number of env steps) and PPO without the STOP action on the builtin Setting I
training images, then evaluates every planner on the held-out test images of all four settings:
reward quality, PSNR, SSIM, tool calls and time. Writes bench/results/agent_study.json and
bench/results/agent_study_curves.png (learning curves of the runs); ``--out NAME`` writes
NAME.json and NAME_curves.png instead. The variants ``ppo-stats``, ``ppo-detect`` and
``ppo-stats-detect`` train the same PPO with that encoder in place of the config's (an encoder comparison).

    python bench/agent_study.py --iterations 30 --per-combination 3
    python bench/agent_study.py --iterations 150 --variants ppo-stats-detect,ppo-stats,ppo-detect \
        --out agent_study_encoders
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from restore_ray.config import TrainConfig
from restore_ray.datasets import build_dataset
from restore_ray.evaluate import evaluate, pick, summarise
from restore_ray.figures import plt
from restore_ray.manifest import read_manifest
from restore_ray.planners import DoNothingPlanner, FixedOrderPlanner, GreedyPlanner, RandomPlanner
from restore_ray.restorer import Restorer
from restore_ray.train import train

RESULTS = Path(__file__).parent / "results"


def policy_encoder(info: dict) -> str:
    """The encoder a trained policy observes through (from its policy file's metadata)."""
    from policies.export import load_policy

    return load_policy(info["policy"])[1].encoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, default=Path(__file__).parents[1] / "configs" / "demo.yaml")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--per-combination", type=int, default=3)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--keep", type=Path, default=None, help="keep the runs in this folder")
    ap.add_argument("--variants", default="ppo,grpo,ppo-nostop",
                    help="comma-separated: ppo, grpo, ppo-nostop, ppo-stats, ppo-detect, ppo-stats-detect")
    ap.add_argument("--seed", type=int, default=None, help="training seed (default: the config's run.seed)")
    ap.add_argument("--out", default="agent_study", help="result name under bench/results/ (NAME.json, NAME_curves.png)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        data = build_dataset("builtin", root / "data", per_combo=30, size=args.size, single_per_split=0).manifest
        base = TrainConfig.from_yaml(args.config).with_overrides({"run.iterations": args.iterations,
                                                                  "run.max_image_side": args.size})
        if args.seed is not None:
            base = base.with_overrides({"run.seed": args.seed})
        variants = {
            "ppo": {},
            "grpo": {"ppo.algo": "grpo"},
            "ppo-nostop": {"env.stop_action": False},
            "ppo-stats": {"components.encoder": "stats"},
            "ppo-detect": {"components.encoder": "detect"},
            "ppo-stats-detect": {"components.encoder": "stats-detect"},
        }
        unknown = set(args.variants.split(",")) - set(variants)
        if unknown:
            ap.error(f"unknown variant(s) {', '.join(sorted(unknown))}; choose from {', '.join(variants)}")
        runs, curves = {}, {}
        for name in args.variants.split(","):
            cfg = base.with_overrides(variants[name])
            t0 = time.perf_counter()
            res = train(cfg, data, root / f"run_{name}")
            runs[name] = {"policy": str(res.policy), "env_steps": res.env_steps, "seconds": time.perf_counter() - t0,
                          "final_row": res.metrics[-1]}
            curves[name] = res.metrics
            print(f"{name}: {res.env_steps} env steps in {runs[name]['seconds']:.0f} s")

        first = Restorer.from_policy(runs[next(iter(runs))]["policy"])
        executor = first.executor
        planners = []  # learned first: their timings are not helped by results the baselines left in the cache
        own: list[Restorer] = []  # policies that observe through another encoder bring their own executor
        for name, info in runs.items():
            shared = policy_encoder(info) == first.meta.encoder
            r = Restorer.from_policy(info["policy"], executor=executor if shared else None)
            r.name = f"learned-{name}"
            (planners if shared else own).append(r)
        planners += [DoNothingPlanner(), RandomPlanner(steps=3, seed=0), FixedOrderPlanner(), GreedyPlanner(5)]
        records = pick(read_manifest(data), args.per_combination)
        t0 = time.perf_counter()
        rows = evaluate(records, planners, executor, max_image_side=args.size,
                        progress=lambda d, t: print(f"\r{d}/{t}", end="", flush=True))
        for r in own:
            rows += evaluate(records, [r], r.executor, max_image_side=args.size)
        print(f"\nevaluated {len(records)} images in {time.perf_counter() - t0:.0f} s")
    table = summarise(rows)
    ratios = {}
    for setting, planners_ in table.items():
        greedy = planners_.get("greedy")
        for name in runs:
            learned = planners_.get(f"learned-{name}")
            if greedy and learned:
                ratios.setdefault(setting, {})[name] = {
                    "quality_vs_greedy": learned["final_quality"] / greedy["final_quality"],
                    "gain_vs_greedy": (learned["final_quality"] - learned["initial_quality"])
                    / max(greedy["final_quality"] - greedy["initial_quality"], 1e-9),
                    "calls_vs_greedy": learned["tool_calls"] / max(greedy["tool_calls"], 1e-9)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(
        {"iterations": args.iterations, "seed": base.run.seed, "encoder": base.components.encoder,
         "encoders": {name: base.with_overrides(variants[name]).components.encoder for name in runs},
         "image_side": args.size, "per_combination": args.per_combination,
         "runs": runs, "summary": table, "learned_vs_greedy": ratios,
         "plans": [{"id": r.id, "planner": r.planner, "plan": r.plan} for r in rows if r.planner.startswith("learned")]},
        indent=2) + "\n")
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, rows_ in curves.items():
        steps = [r["env_steps"] for r in rows_]
        ax[0].plot(steps, [r["episode_return_mean"] for r in rows_], label=name)
        ax[1].plot(steps, [r["final_quality"] for r in rows_], label=name)
    ax[0].set_ylabel("mean episode return")
    ax[1].set_ylabel("final reward quality")
    for a in ax:
        a.set_xlabel("environment steps")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / f"{args.out}_curves.png", dpi=110)
    for setting, planners_ in table.items():
        print(setting, {k: round(v["final_quality"], 3) for k, v in planners_.items()})
    print(json.dumps(ratios, indent=1))


if __name__ == "__main__":
    main()
