#!/usr/bin/env bash
# Install Debian's chromium for the gallery browser test (tests/evaluation/test_gallery_browser.py).
# Idempotent and quiet: does nothing when /usr/bin/chromium already exists.
# Needs root (or sudo) and access to the Debian package mirror.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser.sh: chromium is missing and this is not root (no sudo); browser tests will be skipped" >&2
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
