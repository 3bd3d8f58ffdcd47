#!/usr/bin/env bash
# Java for local Spark (make test-spark, TI_ENGINE=spark): pyspark 4.3 runs on Java 17 or 21.
# Idempotent: does nothing when a `java` of 17 or later is on PATH; else installs Debian's
# openjdk-17-jre-headless (root, or sudo).
set -euo pipefail
if command -v java >/dev/null 2>&1; then
  major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  if [ -n "$major" ] && [ "$major" -ge 17 ]; then exit 0; fi
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq openjdk-17-jre-headless
