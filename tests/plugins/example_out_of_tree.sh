#!/usr/bin/env bash
# Installs this build into a temporary prefix, builds plugins/example against it out of tree
# (find_package(retort) + retort_add_plugin), loads the plugin, runs its stage directly and in
# a recipe through the installed CLI.
# usage: example_out_of_tree.sh BUILD_DIR SOURCE_DIR WORK_DIR CHECKER GENERATOR CXX
set -euo pipefail
build=$1 source=$2 work=$3 checker=$4 generator=$5 cxx=$6
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

step() { echo "== $*"; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
for f in include/retort/plugin/sdk.h include/retort/plugin/abi.h bin/retort \
         lib/cmake/retort/retortConfig.cmake lib/cmake/retort/retortConfigVersion.cmake \
         lib/cmake/retort/retortTargets.cmake lib/cmake/retort/retortPlugin.cmake; do
  [[ -e $prefix/$f ]] || { echo "not installed: $f"; exit 1; }
done
ls "$prefix"/lib*/libretort.so* >/dev/null

step "configure and build plugins/example out of tree"
cmake -S "$source/plugins/example" -B "$work/example" -G "$generator" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
  >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" || exit 1
plugin=$work/example/scale-logits.so
[[ -f $plugin ]] || { echo "no $plugin"; exit 1; }

step "the installed package does not point back into the source tree"
if grep -q "$source/pipeline" "$prefix"/lib*/cmake/retort/retortTargets*.cmake; then
  echo "retortTargets refers to $source/pipeline"; exit 1
fi

step "load the plugin"
listing=$("$checker" list "$work/example")
echo "$listing"
grep -q "^scale-logits	scale_logits 1.0.0	" <<<"$listing"

step "run scale-logits on a small MLP"
result=$("$checker" run "$plugin" scale-logits model '{"arch":"mlp","hidden":[8]}' \
  '{"temperature":2.0}' "$work/out")
echo "$result"
grep -q "^model.onnx nodes=[0-9]* last_op=Mul$" <<<"$result"

step "an exception in the stage (no temperature: this host skips validation) is an error"
if "$checker" run "$plugin" scale-logits model '{"arch":"mlp","hidden":[8]}' '{}' "$work/out2" \
    2>"$work/err.log"; then
  echo "expected a failure without params.temperature"; exit 1
fi
grep -q "stage failed: unhandled exception: " "$work/err.log" || { cat "$work/err.log"; exit 1; }

retort=$prefix/bin/retort
step "retort plugins: the installed built-ins and the example from --plugin-dir"
json=$("$retort" plugins --plugin-dir "$work/example" --json)
grep -q '"scale-logits"' <<<"$json"
grep -q '"train"' <<<"$json"

step "run the example's stage in a recipe"
cat >"$work/recipe.json" <<'JSON'
{"version": 1, "seed": 3,
 "models": {"mlp": {"arch": "mlp", "hidden": [8]}},
 "stages": [{"id": "calibrated", "type": "scale-logits", "inputs": {"model": "models.mlp"},
             "params": {"temperature": 2.0}}]}
JSON
"$retort" run "$work/recipe.json" --out "$work/run" --plugin-dir "$work/example"
[[ -f $work/run/calibrated/model.onnx ]] || { echo "no calibrated/model.onnx"; exit 1; }
grep -q '"status": "ran"' "$work/run/report.json"
"$retort" run "$work/recipe.json" --out "$work/run" --plugin-dir "$work/example" >/dev/null
grep -q '"status": "cached"' "$work/run/report.json"

step "the recipe validator enforces the plugin's params schema"
sed 's/"temperature": 2.0/"temperature": 0/' "$work/recipe.json" >"$work/bad.json"
set +e
"$retort" validate "$work/bad.json" --plugin-dir "$work/example" >"$work/validate.log" 2>&1
rc=$?
set -e
cat "$work/validate.log"
[[ $rc -eq 2 ]] || { echo "expected exit code 2, got $rc"; exit 1; }
grep -q "/stages/0/params/temperature" "$work/validate.log"
echo "ok"
