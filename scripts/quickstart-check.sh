#!/usr/bin/env bash
# Runs the README's quick-start command exactly as written (taken from the README, not copied
# here) against a fresh data dir on a free port, waits until /healthz answers 200, then stops it.
# CI runs this so the front door cannot break silently.
set -euo pipefail
cd "$(dirname "$0")/.."

# The command is the first line of the ```sh block that follows the quickstart marker.
cmd=$(awk '/<!-- quickstart:serve -->/{m=1} m&&/^```sh/{getline; print; exit}' README.md)
if [ -z "$cmd" ]; then
    echo "quickstart-check: no command after <!-- quickstart:serve --> in README.md" >&2
    exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d)
log=$(mktemp)
echo "quickstart-check: $cmd  (OPENICE_DATA_DIR=$data OPENICE_LISTEN=127.0.0.1:$port)"
OPENICE_DATA_DIR=$data OPENICE_LISTEN=127.0.0.1:$port setsid bash -c "$cmd" </dev/null >"$log" 2>&1 &
pid=$!
stop() { kill -TERM -- "-$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap stop EXIT
# A fresh clone builds the release binary first: allow it 20 minutes.
for _ in $(seq 1 1200); do
    if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        echo "quickstart-check: /healthz answered 200"
        [ -s "$data/default-credentials.json" ] || { echo "quickstart-check: no default-credentials.json" >&2; exit 1; }
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "quickstart-check: the command exited before /healthz answered:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "quickstart-check: /healthz did not answer within 20 minutes" >&2
tail -n 40 "$log" >&2
exit 1
