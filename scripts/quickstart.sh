#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds retort and runs the quickstart recipe, the full
# pipeline on few epochs: train a CNN teacher on Fashion-MNIST, distil it through an assistant
# into a small student, prune the student's channels, quantization-aware distillation to int8,
# export runs/quickstart/student-int8.onnx (QDQ) and runs/quickstart/teacher.onnx, and evaluate
# every step against the teacher. The run folder runs/quickstart holds report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/pipeline/retort run recipes/quickstart.json --out runs/quickstart "$@"
./build/pipeline/retort eval runs/quickstart/teacher.onnx --no-speed
./build/pipeline/retort eval runs/quickstart/student-int8.onnx
