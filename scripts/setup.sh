#!/usr/bin/env bash
# Installs what the toolchain needs and is missing on this machine: LLVM 14 with its static
# libraries (Debian packages: llvm-14-dev when llvm-config-14 is absent, libpolly-14-dev
# when libPolly.a is, which the static link needs) and the pinned npm packages of vendor/
# (npm ci, only when vendor/node_modules is missing or older than the lock file).
# Idempotent; safe to run before every build.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=()
if ! command -v llvm-config-14 >/dev/null 2>&1; then packages+=(llvm-14-dev); fi
if [ ! -f /usr/lib/llvm-14/lib/libPolly.a ]; then packages+=(libpolly-14-dev); fi
if ((${#packages[@]})); then
  echo "setup: installing ${packages[*]} with apt" >&2
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq "${packages[@]}" >/dev/null
fi

lock="$root/vendor/package-lock.json"
stamp="$root/vendor/node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ]; then
  echo "setup: installing npm packages in vendor/ (npm ci)" >&2
  (cd "$root/vendor" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
