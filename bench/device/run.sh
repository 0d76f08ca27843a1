#!/usr/bin/env bash
# run.sh: both GPU checks of the shared actors, one after the other, JSON into one folder.
#
# On the CPU machine, once, from the checkout's root (spandrel is not on the GPU machine):
#   bash ../shared/device/bundle-ray.sh spandrel==0.4.2 spandrel_extra_arches==0.2.0
# On the GPU machine (a run that carries .device), from the checkout's root:
#   source .device/on-device.sh && bash bench/device/run.sh "$OUT"
# Anywhere, without a GPU, to prove the scripts work (tiny models, CPU):
#   bash bench/device/run.sh /tmp/device --cpu-dry-run
set -euo pipefail
out=${1:-bench/results}
shift || true
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
export RAY_USAGE_STATS_ENABLED=0
py=${PYTHON:-python3}
t0=$SECONDS
"$py" "$here/tool_actor_gpu.py" --out "$out" "$@"
"$py" "$here/scorer_batching_gpu.py" --out "$out" "$@"
echo "run.sh: both checks done in $((SECONDS - t0)) s; JSON in $out"
