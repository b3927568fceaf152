#!/usr/bin/env bash
# Installs what the toolchain needs and is missing on this machine: LLVM 14 (Debian
# packages, only when llvm-config-14 is absent) and the pinned npm packages of vendor/
# (npm ci, only when vendor/node_modules is missing or older than the lock file).
# Idempotent; safe to run before every build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v llvm-config-14 >/dev/null 2>&1; then
  echo "setup: installing LLVM 14 (llvm-14-dev) with apt" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq llvm-14-dev >/dev/null
fi

lock="$root/vendor/package-lock.json"
stamp="$root/vendor/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  echo "setup: installing npm packages in vendor/ (npm ci)" >&2
  (cd "$root/vendor" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
