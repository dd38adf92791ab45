#!/usr/bin/env bash
# Runs every test openice has: Rust unit and integration tests, then the conformance suite
# that drives the server with the vendor's official Python SDK. Installs what they need
# (ffmpeg from apt, a Python venv with the pinned SDK under .venv) on first use.
#
# PostgreSQL: set OPENICE_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test)
# to run every suite against PostgreSQL as well as SQLite; each run creates and drops its
# own databases there. OPENICE_REQUIRE_POSTGRES=1 turns a missing URL into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# ffmpeg/ffprobe make, probe and render the test media; the CJK font renders Chinese captions.
if ! command -v ffprobe >/dev/null || ! command -v ffmpeg >/dev/null \
    || [ ! -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then
    echo "== installing ffmpeg and a CJK font"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ffmpeg fonts-wqy-zenhei >/dev/null
fi

# The console tests drive Debian's headless chromium with its chromedriver, and run the
# console's signer under node; all from apt, no downloaded browser builds.
MISSING=()
[ -x /usr/lib/chromium/chromium ] || MISSING+=(chromium)
[ -x /usr/bin/chromedriver ] || MISSING+=(chromium-driver)
command -v node >/dev/null || MISSING+=(nodejs)
if [ ${#MISSING[@]} -gt 0 ]; then
    echo "== installing ${MISSING[*]}"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${MISSING[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ] || ! cmp -s conformance/requirements.txt .venv/.requirements; then
    echo "== preparing .venv with the official SDK"
    "$PYTHON" -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r conformance/requirements.txt
    cp conformance/requirements.txt .venv/.requirements
fi

# ali-oss (pinned in conformance/js/package-lock.json), the Node.js OSS SDK test_oss.py drives.
if ! command -v npm >/dev/null; then
    echo "== installing Node.js"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -d conformance/js/node_modules/ali-oss ] || ! cmp -s conformance/js/package-lock.json conformance/js/node_modules/.package-lock-copy.json; then
    echo "== installing ali-oss"
    (cd conformance/js && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.package-lock-copy.json)
fi

echo "== building"
cargo build --locked --workspace
echo "== Rust unit and integration tests"
cargo test --locked --workspace
echo "== conformance suite (official Python SDK)"
OPENICE_BIN="$PWD/target/debug/openice" .venv/bin/python -m pytest conformance -q -p no:cacheprovider
