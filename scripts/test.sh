#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs the whole suite.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real Kodi (headless on Xvfb) and ffmpeg for its test clips: see tests/kodi_real.py.
need_apt=()
command -v kodi >/dev/null 2>&1 || need_apt+=(kodi)
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
# The status page is tested in a real headless Chromium (tests/browser.py), the systemd unit with
# systemd-analyze (tests/test_packaging.py).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# Debian's Python makes virtual environments (below) only with python3-venv.
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "note: ${need_apt[*]} missing and not root: the tests that need them will be skipped" >&2
    fi
fi

# A distribution's own Python refuses pip installs (PEP 668, Debian's "externally-managed-environment"):
# the suite then runs in a virtual environment of its own, .venv.
if python3 -c 'import os, sys, sysconfig; sys.exit(sys.prefix != sys.base_prefix or not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    [ -x .venv/bin/python3 ] || python3 -m venv .venv
    export PATH="$PWD/.venv/bin:$PATH"
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# Static checks first: a style or type error fails the run before the slow tests start.
python3 -m ruff check bridge tests bench scripts plugins
python3 -m mypy
python3 -m pytest "$@"
