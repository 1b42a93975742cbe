#!/usr/bin/env bash
# Installs what the tests drive, if missing: Debian's headless Chromium and its ChromeDriver
# (the versions match: both come from the same Debian source package) for the pages, and the
# openssl binary that checks the certificate authority's certificates and CRLs.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  && command -v openssl >/dev/null 2>&1; then
  exit 0
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root to run: $*" >&2; exit 1
  fi
}
echo "==> Installing Debian's chromium, chromium-driver and openssl for the tests"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver openssl >/dev/null
