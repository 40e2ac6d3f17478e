#!/usr/bin/env bash
# Create the virtual environment and install what Larder needs.
# Usage: scripts/setup.sh app   -> runtime packages
#        scripts/setup.sh test  -> runtime + test packages and Debian's chromium for browser tests
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-app}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
requirements=requirements.txt
[ "$what" = "test" ] && requirements=requirements-dev.txt
# Skip pip when nothing changed since the last successful install (keeps reruns quick).
stamp=".venv/.installed-$(sha256sum "$requirements" requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi

if [ "$what" = "test" ]; then
  # Browser tests drive Debian's chromium (Playwright's own browser download is not reachable);
  # the two-server test puts Debian's nginx in front of the app. Installed only when missing.
  missing=""
  [ -x /usr/bin/chromium ] || missing="$missing chromium"
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
  if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = "0" ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi
