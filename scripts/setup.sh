#!/usr/bin/env bash
# Installs every Debian package retort needs. Idempotent; run as root (or with sudo).
# Usage: scripts/setup.sh [--with-torch]   (--with-torch adds PyTorch for bench/ only)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libdnnl-dev ocl-icd-opencl-dev
  libtbb-dev
  nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libzstd-dev pkg-config
  dataset-fashion-mnist
  libonnx-testdata
)
if [[ "${1:-}" == "--with-torch" ]]; then
  packages+=(python3-torch python3-onnx libopenblas0-openmp)
fi

missing=()
# Node.js (for ONNX Runtime checks) is often preinstalled outside Debian; only add Debian's when absent.
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# ONNX Runtime for Node into tests/ort (for the tests that run exported models in it).
bash "$(dirname "$0")/setup_node.sh"
