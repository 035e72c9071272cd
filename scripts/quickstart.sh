#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds retort and runs the quickstart recipe: trains a CNN
# teacher on Fashion-MNIST, evaluates it (accuracy, size, FLOPs, latency) and exports it to
# runs/quickstart/teacher.onnx. The run folder runs/quickstart holds report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/pipeline/retort run recipes/quickstart.json --out runs/quickstart "$@"
./build/pipeline/retort eval runs/quickstart/teacher.onnx --no-speed
./build/pipeline/retort eval runs/quickstart/student.onnx --no-speed
