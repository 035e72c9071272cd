#!/usr/bin/env bash
# Runs retort's benchmarks (bench_train: BM_KdStep, bench_distill: BM_DistillEpoch) and the
# PyTorch baseline (bench/pytorch_baseline.py) on the same steps, data, batch and threads, in
# one go, and prints time per step/epoch, images/s, peak RSS and the ratios. Each benchmark
# runs in its own process so that peak RSS is its own.
# Usage: bench/compare_pytorch.sh [build-dir]   (needs: scripts/setup.sh --with-torch, and the
#        bench_train and bench_distill targets built in build-dir)
# Threads: OMP_NUM_THREADS if set, else 2; both sides use the same count.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=${OMP_NUM_THREADS:-2}
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

# retort <binary> <benchmark name> <min seconds per repetition>: one JSON line, the median of 5.
retort() {
  "$build/bench/$1" --benchmark_filter="^$2/" --benchmark_min_time="$3" \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_format=json |
    /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
b = [x for x in d["benchmarks"] if x.get("aggregate_name") == "median"][0]
scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
out = {"side": "retort", "name": b["run_name"].removesuffix("/real_time"),
       "seconds": b["real_time"] * scale, "items_per_second": b["items_per_second"],
       "peak_rss_mb": b.get("peak_rss_mb", 0)}
if "teacher_cache_s" in b:
    out["teacher_cache_s"] = b["teacher_cache_s"]
print(json.dumps(out))' >> "$results"
}

# pytorch <pytorch_baseline.py arguments...>: one JSON line.
pytorch() {
  /usr/bin/python3 bench/pytorch_baseline.py --threads "$threads" "$@" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d["side"]="pytorch"; print(json.dumps(d))' >> "$results"
}

echo "threads: $threads; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for student in mlp cnn; do
  retort bench_train "BM_KdStep/$student" 2
  pytorch --student "$student" --seconds 2
done
for variant in live_teacher cached_logits; do
  retort bench_distill "BM_DistillEpoch/$variant" 4
  pytorch --distill "$variant" --seconds 4
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("time = ms per step (KdStep) or per epoch (DistillEpoch), median of 5 repetitions;")
print("time ratio = retort / PyTorch (below 1: retort faster); img/s ratio = retort / PyTorch")
head = (f"{'benchmark':<30}{'retort ms':>11}{'torch ms':>11}{'time ratio':>11}"
        f"{'retort img/s':>14}{'torch img/s':>13}{'img/s ratio':>12}{'retort RSS MB':>15}{'torch RSS MB':>14}")
print(head)
names = []
for r in rows:
    if r["name"] not in names:
        names.append(r["name"])
cache = []
for name in names:
    r = next(x for x in rows if x["name"] == name and x["side"] == "retort")
    p = next(x for x in rows if x["name"] == name and x["side"] == "pytorch")
    print(f"{name:<30}{r['seconds'] * 1e3:>11.1f}{p['seconds'] * 1e3:>11.1f}{r['seconds'] / p['seconds']:>11.2f}"
          f"{r['items_per_second']:>14.0f}{p['items_per_second']:>13.0f}"
          f"{r['items_per_second'] / p['items_per_second']:>12.2f}"
          f"{r['peak_rss_mb']:>15.0f}{p['peak_rss_mb']:>14.0f}")
    if "teacher_cache_s" in r or "teacher_cache_s" in p:
        cache.append((name, r.get("teacher_cache_s"), p.get("teacher_cache_s")))
for name, rc, pc in cache:
    fmt = lambda v: "n/a" if v is None else f"{v * 1e3:.1f} ms"
    print(f"{name}: one-off teacher logit cache (not in the epoch time): retort {fmt(rc)}, "
          f"PyTorch {fmt(pc)}")
PY
