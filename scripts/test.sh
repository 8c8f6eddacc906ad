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
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "note: ${need_apt[*]} missing and not root: the real-Kodi tests will be skipped" >&2
    fi
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'
# Static checks first: a style or type error fails the run before the slow tests start.
python3 -m ruff check bridge tests bench scripts plugins
python3 -m mypy
python3 -m pytest "$@"
