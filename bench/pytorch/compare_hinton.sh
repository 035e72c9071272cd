#!/usr/bin/env bash
# The hinton benchmark (recipes/benchmarks/hinton.json) side by side: retort and PyTorch 1.13
# train the same teacher once, then per seed a student from scratch and a KD student, and
# this prints test accuracy (mean over seeds) and training seconds per epoch for each.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/pytorch/compare_hinton.sh [options]

Runs the hinton benchmark's teacher, scratch student and KD student (T = 20, alpha 0.9) on
retort and on PyTorch 1.13 (bench/pytorch/hinton.py), with the same data, architectures,
initial weights, optimizer, schedule and loss, then prints per model: test accuracy (mean over
seeds) on each side and the difference in points, training seconds per epoch on each side
(training loop only: no test evaluation, no data loading, no teacher-logit cache) and the
ratio PyTorch / retort, and whether the bar is met (accuracy within 0.3 points, retort at
least 1.5x faster per epoch).

One teacher (seed 1) on each side; students for seeds 1..N (scratch and KD of a seed start
from the same weights). retort runs one derived recipe (in OUT/hinton-derived.json): stages
teacher, scratch-sK and kd-sK (stage seed K), evaluate; its results are OUT/retort/report.json.
PyTorch's are OUT/pytorch.json. The two sides never run at once.

By default the sides take turns model by model (retort's teacher, PyTorch's teacher, retort's
scratch-s1, PyTorch's scratch-s1, ...): on a shared machine whose speed drifts over minutes,
each pair of times is then taken under the same conditions. retort runs the derived recipe's
prefixes (OUT/hinton-upto-ID.json) in the one run folder, where the earlier stages are cached;
PyTorch runs bench/pytorch/hinton.py --only ID. --order sequential runs all of retort, then
all of PyTorch, as one process each.

options (defaults: the full benchmark, several hours on 2 cores):
  --seeds N            students for seeds 1..N (default 3)
  --teacher-epochs E   teacher epochs (default 60, as the recipe)
  --student-epochs E   epochs of each student (default 30, as the recipe)
  --train-size N       first N training images (default: all 60000)
  --threads N          threads on both sides (default 2): retort --threads N and
                       OMP_NUM_THREADS=N; torch.set_num_threads(N)
  --out DIR            output folder (default runs/compare_hinton in the repository); an
                       earlier retort run there is re-run, not reused
  --build DIR          retort build folder (default build in the repository)
  --order ORDER        interleaved (default: the sides take turns model by model) or
                       sequential (all of retort, then all of PyTorch)
  -h, --help           this text

Environment on both sides, as ../shared/TOOLCHAIN.md asks for a fair PyTorch baseline:
OPENBLAS_CORETYPE=SkylakeX and the GLIBC_TUNABLES malloc setting. Needs PyTorch for
/usr/bin/python3 (bash scripts/setup.sh --with-torch) and build/pipeline/retort.
EOF
}

die() {
  echo "compare_hinton.sh: $*" >&2
  exit 1
}

seeds=3 teacher_epochs=60 student_epochs=30 train_size=0 threads=2
out=runs/compare_hinton build=build order=interleaved
while (($#)); do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --seeds | --teacher-epochs | --student-epochs | --train-size | --threads | --out | --build | \
      --order)
      (($# >= 2)) || die "$1 needs a value (see --help)"
      case "$1" in
        --seeds) seeds=$2 ;;
        --teacher-epochs) teacher_epochs=$2 ;;
        --student-epochs) student_epochs=$2 ;;
        --train-size) train_size=$2 ;;
        --threads) threads=$2 ;;
        --out) out=$(realpath -m -- "$2") ;;      # relative to the caller's folder
        --build) build=$(realpath -m -- "$2") ;;
        --order) order=$2 ;;
      esac
      shift 2 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
for pair in "--seeds:$seeds" "--teacher-epochs:$teacher_epochs" \
  "--student-epochs:$student_epochs" "--threads:$threads"; do
  [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || die "${pair%%:*} must be a positive integer, got '${pair#*:}'"
done
[[ $train_size =~ ^[0-9]+$ ]] || die "--train-size must be a non-negative integer, got '$train_size'"
[[ $order == interleaved || $order == sequential ]] ||
  die "--order takes interleaved or sequential, got '$order'"

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
retort=$build/pipeline/retort
py=/usr/bin/python3
[[ -x $py ]] || die "$py not found; install python3 (bash scripts/setup.sh --with-torch)"
"$py" -c 'import torch, numpy' 2>/dev/null ||
  die "PyTorch is not installed for $py; run: bash scripts/setup.sh --with-torch"
[[ -x $retort ]] || die "$retort not found; build retort first (bash scripts/build.sh), or pass --build DIR"

export OMP_NUM_THREADS=$threads
export OPENBLAS_CORETYPE=SkylakeX  # OpenBLAS takes this CPU for Haswell (AVX2 only) otherwise
export GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296

mkdir -p "$out"
recipe=$out/hinton-derived.json
stage_ids=$("$py" - recipes/benchmarks/hinton.json "$recipe" "$seeds" "$teacher_epochs" "$student_epochs" \
  "$train_size" <<'PY'
import copy, json, os, sys
src, dst = sys.argv[1], sys.argv[2]
seeds, teacher_epochs, student_epochs, train_size = map(int, sys.argv[3:7])
r = json.load(open(src))
by_id = {s["id"]: s for s in r["stages"]}
for needed in ("teacher", "scratch", "kd", "evaluate"):
    if needed not in by_id:
        sys.exit(f"compare_hinton.sh: {src} has no stage '{needed}'")
r["seed"] = 1
r["description"] = (f"derived from {src} by bench/pytorch/compare_hinton.sh: teacher (seed 1), "
                    f"then per seed K in 1..{seeds} scratch-sK and kd-sK (stage seed K)")
if train_size:
    r["data"]["train_size"] = train_size
teacher = copy.deepcopy(by_id["teacher"])
teacher["seed"] = 1
teacher["params"]["epochs"] = teacher_epochs
stages, models = [teacher], ["teacher.model"]
for k in range(1, seeds + 1):
    for base in ("scratch", "kd"):
        s = copy.deepcopy(by_id[base])
        s["id"] = f"{base}-s{k}"
        s["seed"] = k
        s["params"]["epochs"] = student_epochs
        stages.append(s)
        models.append(f"{base}-s{k}.model")
# Prefixes for --order interleaved: the stages up to each model (earlier ones come from cache).
for i, s in enumerate(stages):
    prefix = dict(r, stages=stages[: i + 1])
    json.dump(prefix, open(os.path.join(os.path.dirname(dst), f"hinton-upto-{s['id']}.json"), "w"),
              indent=2)
evaluate = copy.deepcopy(by_id["evaluate"])
evaluate["inputs"]["models"] = models
evaluate["params"]["speed"] = False
stages.append(evaluate)
r["stages"] = stages
json.dump(r, open(dst, "w"), indent=2)
print(" ".join(s["id"] for s in stages[:-1]))
PY
)
force=(--force evaluate)
for id in $stage_ids; do force+=(--force "$id"); done

load() { cut -d' ' -f1-3 /proc/loadavg; }
images=$train_size
((train_size)) || images=all
echo "threads $threads; seeds 1..$seeds; teacher $teacher_epochs epochs, students $student_epochs epochs;" \
  "training images: $images"
load_start=$(load)
echo "load average before: $load_start"

# busy_seconds: CPU seconds all cores spent busy since boot (/proc/stat, USER_HZ ticks).
busy_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit}' /proc/stat
}
# measured SIDE NAME CMD...: runs CMD with its output in OUT/NAME.log, then says how many cores
# other processes kept busy meanwhile (all busy CPU time minus CMD's own user + system time,
# over the wall time) and adds "SIDE wall other-core-seconds" to OUT/others.tsv. Fails when
# CMD fails.
measured() {
  local side=$1 name=$2 b0 b1 t0 t1 self
  shift 2
  b0=$(busy_seconds)
  t0=$(date +%s.%N)
  local TIMEFORMAT='%U %S'
  { time "$@" >"$out/$name.log" 2>&1; } 2>"$out/$name.time" || return 1
  t1=$(date +%s.%N)
  b1=$(busy_seconds)
  self=$(tail -n1 "$out/$name.time")
  # shellcheck disable=SC2086  # $self is two numbers
  "$py" -c 'import sys; side, b0, b1, t0, t1, u, s = sys.argv[1], *map(float, sys.argv[2:8])
wall, other = t1 - t0, max(0.0, b1 - b0 - u - s)
open(sys.argv[8], "a").write(f"{side} {wall:.3f} {other:.3f}\n")
print(f"{wall:.0f} s wall; other processes kept {other / wall:.2f} cores busy meanwhile")' \
    "$side" "$b0" "$b1" "$t0" "$t1" $self "$out/others.tsv" | sed 's/^/   /'
}

: >"$out/others.tsv"
rm -f "$out"/pytorch-*.json
py_common=(--teacher-epochs "$teacher_epochs" --student-epochs "$student_epochs" --threads "$threads")
((train_size)) && py_common+=(--train-size "$train_size")
if [[ $order == sequential ]]; then
  echo "== retort: $retort run $recipe --out $out/retort --threads $threads"
  measured retort retort "$retort" run "$recipe" --out "$out/retort" --threads "$threads" \
    "${force[@]}" || die "retort failed; see $out/retort.log"
  load_mid=$(load)
  echo "   load average now: $load_mid"
  py_args=(--seeds "$seeds" "${py_common[@]}" --out "$out/pytorch.json")
  echo "== pytorch: $py bench/pytorch/hinton.py ${py_args[*]}"
  measured pytorch pytorch "$py" bench/pytorch/hinton.py "${py_args[@]}" ||
    die "hinton.py failed; see $out/pytorch.log"
else
  for id in $stage_ids; do
    echo "== retort: $retort run $out/hinton-upto-$id.json --out $out/retort --threads $threads --force $id"
    measured retort "retort-$id" "$retort" run "$out/hinton-upto-$id.json" --out "$out/retort" \
      --threads "$threads" --force "$id" || die "retort failed; see $out/retort-$id.log"
    py_args=(--only "$id" --teacher-state "$out/pytorch-teacher.pt" "${py_common[@]}"
      --out "$out/pytorch-$id.json")
    echo "== pytorch: $py bench/pytorch/hinton.py ${py_args[*]}"
    measured pytorch "pytorch-$id" "$py" bench/pytorch/hinton.py "${py_args[@]}" ||
      die "hinton.py failed; see $out/pytorch-$id.log"
  done
  load_mid=$(load)
  echo "== retort: the evaluate stage (the models come from cache)"
  "$retort" run "$recipe" --out "$out/retort" --threads "$threads" --force evaluate \
    >"$out/retort-evaluate.log" 2>&1 || die "retort failed; see $out/retort-evaluate.log"
  # One pytorch.json, as --order sequential writes it.
  # shellcheck disable=SC2086  # one argument per stage id
  "$py" - "$out" $stage_ids <<'PY'
import json, os, sys
out, ids = sys.argv[1], sys.argv[2:]
merged = None
for i in ids:
    part = json.load(open(os.path.join(out, f"pytorch-{i}.json")))
    if merged is None:
        merged = {k: v for k, v in part.items()
                  if k not in ("teacher", "scratch", "kd", "teacher_logit_cache_seconds")}
        merged["config"]["seeds"] = sum(1 for j in ids if j.startswith("scratch-"))
        merged["scratch"], merged["kd"] = [], []
    if "teacher" in part:
        merged["teacher"] = part["teacher"]
    for kind in ("scratch", "kd"):
        merged[kind] += part.get(kind, [])
    if "teacher_logit_cache_seconds" in part:  # each kd-sK run makes its own cache: the first
        merged.setdefault("teacher_logit_cache_seconds", part["teacher_logit_cache_seconds"])
json.dump(merged, open(os.path.join(out, "pytorch.json.tmp"), "w"), indent=1)
os.replace(os.path.join(out, "pytorch.json.tmp"), os.path.join(out, "pytorch.json"))
PY
fi
load_end=$(load)
echo "load average after: $load_end"

"$py" - "$out/retort/report.json" "$out/pytorch.json" "$seeds" "$out/summary.json" \
  "$load_start" "$load_mid" "$load_end" "$out/others.tsv" "$order" <<'PY'
import json, statistics, sys
report_path, torch_path, seeds, summary_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
loads = sys.argv[5:8]
order = sys.argv[9]
walls, busy = {"retort": 0.0, "pytorch": 0.0}, {"retort": 0.0, "pytorch": 0.0}
for line in open(sys.argv[8]):
    side, wall, other = line.split()
    walls[side] += float(wall)
    busy[side] += float(other)
others = [f"{walls[s]:.0f} s wall; other processes kept {busy[s] / max(walls[s], 1e-9):.2f} "
          "cores busy meanwhile" for s in ("retort", "pytorch")]
report = json.load(open(report_path))
stages = {s["id"]: s for s in report["stages"]}
torch_side = json.load(open(torch_path))


def retort_runs(kind):
    ids = ["teacher"] if kind == "teacher" else [f"{kind}-s{k}" for k in range(1, seeds + 1)]
    runs = []
    for i in ids:
        s = stages.get(i)
        if s is None or s.get("status") not in ("ran", "cached") or "metrics" not in s:
            sys.exit(f"compare_hinton.sh: stage '{i}' has no metrics in {report_path}")
        m = s["metrics"]
        runs.append({"test_accuracy": m["test_accuracy"],
                     "seconds_per_epoch": m["train_seconds"] / m["epochs"]})
    return runs


def torch_runs(kind):
    return [torch_side["teacher"]] if kind == "teacher" else torch_side[kind]


rows, summary = [], {"loads": dict(zip(("before", "between", "after"), loads)), "order": order,
                     "models": {}}
labels = {"teacher": "teacher", "scratch": "scratch student", "kd": "KD student (T=20, a=0.9)"}
for kind in ("teacher", "scratch", "kd"):
    r, p = retort_runs(kind), torch_runs(kind)
    mean = lambda runs, key: statistics.mean(x[key] for x in runs)
    row = {"model": labels[kind], "runs": len(r),
           "retort_acc": mean(r, "test_accuracy"), "torch_acc": mean(p, "test_accuracy"),
           "retort_s": mean(r, "seconds_per_epoch"), "torch_s": mean(p, "seconds_per_epoch"),
           "retort_acc_each": [x["test_accuracy"] for x in r],
           "torch_acc_each": [x["test_accuracy"] for x in p]}
    row["diff_points"] = 100 * (row["retort_acc"] - row["torch_acc"])
    row["ratio"] = row["torch_s"] / row["retort_s"]
    rows.append(row)
    summary["models"][kind] = row

print()
print("accuracy: test accuracy, mean over runs (teacher: one run); diff = retort - PyTorch in points")
print("s/epoch: training loop only, mean over runs; ratio = PyTorch s/epoch / retort s/epoch "
      "(above 1: retort faster)")
head = (f"{'model':<26}{'runs':>5}{'retort acc':>12}{'torch acc':>11}{'diff pts':>10}"
        f"{'retort s/ep':>13}{'torch s/ep':>12}{'ratio':>8}")
print(head)
print("-" * len(head))
for w in rows:
    print(f"{w['model']:<26}{w['runs']:>5}{w['retort_acc']:>12.4f}{w['torch_acc']:>11.4f}"
          f"{w['diff_points']:>+10.2f}{w['retort_s']:>13.2f}{w['torch_s']:>12.2f}{w['ratio']:>8.2f}")
print()
acc_ok = all(abs(w["diff_points"]) <= 0.3 for w in rows)
speed_ok = all(w["ratio"] >= 1.5 for w in rows)
print(f"bar: accuracy within 0.3 points on every model: {'MET' if acc_ok else 'NOT MET'}; "
      f"retort >= 1.5x faster per epoch on every model: {'MET' if speed_ok else 'NOT MET'}")
mid = "between the sides" if order == "sequential" else "after the training runs"
print(f"sides run {order}" + (" (taking turns model by model)" if order == "interleaved" else ""))
print(f"load average (1, 5, 15 min): before {loads[0]}; {mid} {loads[1]}; after {loads[2]}")
for side, line in zip(("retort", "PyTorch"), others):
    print(f"while {side} ran: {line}")
print("(numbers taken while other processes kept cores busy are not comparable)")
summary["others"] = dict(zip(("retort", "pytorch"), others))
summary.update({"accuracy_bar_met": acc_ok, "speed_bar_met": speed_ok,
                "torch": torch_side.get("torch"), "threads": torch_side.get("threads")})
json.dump(summary, open(summary_path, "w"), indent=1)
PY
echo "(per-run numbers: $out/summary.json, $out/retort/report.json, $out/pytorch.json)"
