#!/usr/bin/env bash
# Installs ONNX Runtime for Node (npm package onnxruntime-node, CPU binaries inside the package)
# into tests/ort/node_modules, at the version pinned by tests/ort/package-lock.json. The unit
# tests run exported models in it (tests/unit/support/onnxruntime_runner.h).
# Idempotent: does nothing when the pinned version is already there. Called by scripts/setup.sh
# after the Debian packages (nodejs, npm) are in place; works as root and as a normal user.
set -euo pipefail
cd "$(dirname "$0")/.."
ort_dir=tests/ort

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup_node: node and npm are required (scripts/setup.sh installs Debian's nodejs npm)" >&2
  exit 1
fi

# The installed onnxruntime-node matches the lock file's version: nothing to do.
installed_matches_lock() {
  (cd "$ort_dir" && node -e '
    const fs = require("fs");
    const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8"))
        .packages["node_modules/onnxruntime-node"].version;
    const have = JSON.parse(fs.readFileSync(
        "node_modules/onnxruntime-node/package.json", "utf8")).version;
    process.exit(want === have ? 0 : 1);' 2>/dev/null)
}

if installed_matches_lock; then
  echo "setup_node: onnxruntime-node present in $ort_dir"
  exit 0
fi

echo "setup_node: installing onnxruntime-node into $ort_dir/node_modules"
# ONNXRUNTIME_NODE_INSTALL=skip: the package's install script would otherwise download CUDA
# binaries (and fail without access to their host); the CPU binaries ship in the package.
npm_install=(npm ci --no-audit --no-fund --no-update-notifier --loglevel=error)

# npm keeps its cache in $HOME/.npm; a user without a writable home (a service account) gets a
# throwaway cache instead.
run_npm_as() {  # user home: runs npm_install in $ort_dir as `user` ("" for the current one)
  local user=$1 home=$2 cache=""
  if [[ ! -d "$home" || ! -w "$home" ]] && [[ ! -w "$home/.npm" ]]; then
    cache=$(mktemp -d)
    [[ -n "$user" ]] && chown "$user" "$cache"
  fi
  local cmd=(env HOME="$home" ONNXRUNTIME_NODE_INSTALL=skip ${cache:+npm_config_cache="$cache"}
    "${npm_install[@]}")
  local rc=0
  if [[ -n "$user" ]]; then
    (cd "$ort_dir" && runuser -u "$user" -- "${cmd[@]}") || rc=$?
  else
    (cd "$ort_dir" && "${cmd[@]}") || rc=$?
  fi
  [[ -n "$cache" ]] && rm -rf "$cache"
  return $rc
}

# Run as root (e.g. `sudo scripts/setup.sh`) in a checkout owned by a normal user: install as
# that user, so that node_modules does not end up owned by root in their tree.
owner=$(stat -c %U "$ort_dir")
if [[ $(id -u) -eq 0 && "$owner" != "root" && "$owner" != "UNKNOWN" ]] &&
  command -v runuser >/dev/null 2>&1; then
  run_npm_as "$owner" "$(getent passwd "$owner" | cut -d: -f6)"
else
  run_npm_as "" "${HOME:-/tmp}"
fi

if ! installed_matches_lock; then
  echo "setup_node: npm ci finished but $ort_dir/node_modules/onnxruntime-node is not the" \
    "version in package-lock.json" >&2
  exit 1
fi
# The native binding loads (catches a missing shared library or an incompatible Node).
(cd "$ort_dir" && node -e 'require("onnxruntime-node")')
echo "setup_node: onnxruntime-node installed"
