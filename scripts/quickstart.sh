#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds retort and runs the quickstart: trains an MLP on
# Fashion-MNIST, prints its test accuracy and saves runs/quickstart/model.onnx.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
mkdir -p runs/quickstart
./build/pipeline/retort train --spec '{"arch":"mlp","hidden":[256,128]}' --epochs 5 --threads "$(nproc)" \
  --out runs/quickstart/model.onnx
./build/pipeline/retort eval runs/quickstart/model.onnx
