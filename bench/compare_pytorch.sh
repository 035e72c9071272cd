#!/usr/bin/env bash
# Runs retort's benchmarks (bench_train: BM_KdStep, bench_distill: BM_DistillEpoch) and the
# PyTorch baseline (bench/pytorch_baseline.py) on the same steps, data, batch and threads, in
# one go, and prints time per step/epoch, images/s, peak RSS and the ratios. Each benchmark
# runs in its own process so that peak RSS is its own.
#
# The sides take turns: ROUNDS rounds (default 3), each running every benchmark on both sides,
# retort first in odd rounds and PyTorch first in even ones, 3 repetitions per process. This
# machine's speed drifts over minutes, and one side measured after the other would carry the
# drift into the ratio. Each side's time is the median of its rounds' medians; "paired" is the
# median of the rounds' own ratios (the one to quote), and the per-round ratios show the spread.
# Usage: bench/compare_pytorch.sh [build-dir]   (needs: scripts/setup.sh --with-torch, and the
#        bench_train and bench_distill targets built in build-dir)
# Threads: OMP_NUM_THREADS if set, else 2; both sides use the same count.
# Rounds: ROUNDS=N (1 or more).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${OMP_NUM_THREADS:-2}
rounds=${ROUNDS:-3}
if ! [[ $rounds =~ ^[1-9][0-9]*$ ]]; then
  echo "compare_pytorch.sh: ROUNDS is '$rounds'; use a whole number, 1 or more" >&2
  exit 2
fi
repetitions=3
export OMP_NUM_THREADS=$threads  # retort (oneDNN on OpenMP) and torch's OpenMP pool
export OPENBLAS_CORETYPE=SkylakeX  # OpenBLAS takes this CPU for Haswell (AVX2 only) otherwise
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296
for bin in bench_train bench_distill; do
  if [[ ! -x "$build/bench/$bin" ]]; then
    echo "compare_pytorch.sh: $build/bench/$bin not found; build it: ninja -C $build $bin" >&2
    exit 1
  fi
done
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# retort <round> <binary> <benchmark name> <min seconds per repetition>: one JSON line, the
# median of the process's repetitions.
retort() {
  "$build/bench/$2" --benchmark_filter="^$3/" --benchmark_min_time="$4" \
    --benchmark_repetitions="$repetitions" --benchmark_report_aggregates_only=true \
    --benchmark_format=json |
    /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
b = [x for x in d["benchmarks"] if x.get("aggregate_name") == "median"][0]
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
out = {"side": "retort", "round": int(sys.argv[1]), "name": b["run_name"].removesuffix("/real_time"),
       "seconds": b["real_time"] * scale, "items_per_second": b["items_per_second"],
       "peak_rss_mb": b.get("peak_rss_mb", 0)}
if "teacher_cache_s" in b:
    out["teacher_cache_s"] = b["teacher_cache_s"]
print(json.dumps(out))' "$1" >> "$results"
}

# pytorch <round> <pytorch_baseline.py arguments...>: one JSON line.
pytorch() {
  local round=$1
  shift
  /usr/bin/python3 bench/pytorch_baseline.py --threads "$threads" --repetitions "$repetitions" "$@" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d["side"]="pytorch"; d["round"]=int(sys.argv[1]); print(json.dumps(d))' \
      "$round" >> "$results"
}

# both <round> <binary> <benchmark name> <seconds> <pytorch_baseline.py arguments...>: one
# benchmark on both sides, retort first in odd rounds.
both() {
  local round=$1 binary=$2 name=$3 seconds=$4
  shift 4
  if ((round % 2)); then
    retort "$round" "$binary" "$name" "$seconds"
    pytorch "$round" "$@" --seconds "$seconds"
  else
    pytorch "$round" "$@" --seconds "$seconds"
    retort "$round" "$binary" "$name" "$seconds"
  fi
}

echo "threads: $threads; $rounds rounds of $repetitions repetitions per side;" \
  "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; ++round)); do
  for student in mlp cnn; do
    both "$round" bench_train "BM_KdStep/$student" 2 --student "$student"
  done
  for variant in live_teacher cached_logits; do
    both "$round" bench_distill "BM_DistillEpoch/$variant" 4 --distill "$variant"
  done
  echo "round $round done; load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
rounds = sorted({r["round"] for r in rows})
print(f"time = ms per step (KdStep) or per epoch (DistillEpoch), median over the {len(rounds)} "
      "rounds' medians;")
print("time ratio = retort / PyTorch (below 1: retort faster); img/s ratio = retort / PyTorch of "
      "those medians; paired = the median of the rounds' own img/s ratios (each round's two sides "
      "ran back to back, so the machine's slow drift cancels), listed under per round")
head = (f"{'benchmark':<30}{'retort ms':>11}{'torch ms':>11}{'time ratio':>11}"
        f"{'retort img/s':>14}{'torch img/s':>13}{'img/s ratio':>12}{'paired':>8}"
        f"{'retort RSS MB':>15}{'torch RSS MB':>14}  per round")
print(head)
names = []
for r in rows:
    if r["name"] not in names:
        names.append(r["name"])
cache = []
for name in names:
    side = {s: [x for x in rows if x["name"] == name and x["side"] == s] for s in ("retort", "pytorch")}
    med = {s: {k: statistics.median(x[k] for x in side[s]) for k in ("seconds", "items_per_second")}
           for s in side}
    rss = {s: max(x["peak_rss_mb"] for x in side[s]) for s in side}
    r, p = med["retort"], med["pytorch"]
    per_round = []
    for k in rounds:
        rr = [x for x in side["retort"] if x["round"] == k]
        pp = [x for x in side["pytorch"] if x["round"] == k]
        if rr and pp:
            per_round.append(rr[0]["items_per_second"] / pp[0]["items_per_second"])
    print(f"{name:<30}{r['seconds'] * 1e3:>11.1f}{p['seconds'] * 1e3:>11.1f}{r['seconds'] / p['seconds']:>11.2f}"
          f"{r['items_per_second']:>14.0f}{p['items_per_second']:>13.0f}"
          f"{r['items_per_second'] / p['items_per_second']:>12.2f}"
          f"{statistics.median(per_round):>8.2f}"
          f"{rss['retort']:>15.0f}{rss['pytorch']:>14.0f}  {' '.join(f'{x:.2f}' for x in per_round)}")
    rc = [x["teacher_cache_s"] for x in side["retort"] if "teacher_cache_s" in x]
    pc = [x["teacher_cache_s"] for x in side["pytorch"] if "teacher_cache_s" in x]
    if rc or pc:
        cache.append((name, statistics.median(rc) if rc else None, statistics.median(pc) if pc else None))
for name, rc, pc in cache:
    fmt = lambda v: "n/a" if v is None else f"{v * 1e3:.1f} ms"
    print(f"{name}: one-off teacher logit cache (not in the epoch time, median over rounds): "
          f"retort {fmt(rc)}, PyTorch {fmt(pc)}")
PY
