#!/usr/bin/env bash
# System (Debian) packages the tests and `make report` need. Idempotent and additive:
# one `apt-get install -y` line per package group, each run only when something is missing.
# CI calls this from .ci/run; on a developer machine: sudo bash scripts/install_system_deps.sh
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# missing PKG...: true when any of the packages is not installed.
missing() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}
UPDATED=0
apt_update() { if [ "$UPDATED" = 0 ]; then $SUDO apt-get update -qq; UPDATED=1; fi; }

# Headless browser: renders the KPI report for its tests and screenshots (reporting/browser.py).
if missing chromium; then apt_update; $SUDO apt-get install -y -qq chromium; fi
