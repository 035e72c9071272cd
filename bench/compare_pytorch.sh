#!/usr/bin/env bash
# Runs retort's bench_train and the PyTorch baseline on the same steps, batch and threads, in
# one go, and prints images/s, peak RSS and the ratio. Each benchmark runs in its own process
# so that peak RSS is its own.
# Usage: bench/compare_pytorch.sh [build-dir]   (needs: scripts/setup.sh --with-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
threads=2
export OMP_NUM_THREADS=$threads
export OPENBLAS_CORETYPE=SkylakeX  # OpenBLAS takes this CPU for Haswell (AVX2 only) otherwise
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296
results=$(mktemp)
for student in mlp cnn; do
  "$build/bench/bench_train" --benchmark_filter="^BM_KdStep/$student/" --benchmark_min_time=2 \
    --benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_format=json |
    /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
b = [x for x in d["benchmarks"] if x.get("aggregate_name") == "median"][0]
print(json.dumps({"side": "retort", "name": b["run_name"], "items_per_second": b["items_per_second"],
                  "peak_rss_mb": b.get("peak_rss_mb", 0)}))' >> "$results"
  /usr/bin/python3 bench/pytorch_baseline.py --student "$student" --threads $threads |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); d["side"]="pytorch"; print(json.dumps(d))' >> "$results"
done
/usr/bin/python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'benchmark':<16}{'retort img/s':>14}{'pytorch img/s':>15}{'ratio':>8}{'retort RSS MB':>15}{'pytorch RSS MB':>16}")
for name in sorted({r["name"] for r in rows}):
    r = next(x for x in rows if x["name"] == name and x["side"] == "retort")
    p = next(x for x in rows if x["name"] == name and x["side"] == "pytorch")
    print(f"{name:<16}{r['items_per_second']:>14.0f}{p['items_per_second']:>15.0f}"
          f"{r['items_per_second'] / p['items_per_second']:>8.2f}{r['peak_rss_mb']:>15.0f}{p['peak_rss_mb']:>16.0f}")
PY
rm -f "$results"
