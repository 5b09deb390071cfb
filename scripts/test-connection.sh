#!/bin/sh
# Test the connection from this Mac to ComfyUI on the PC (Tailscale, DNS, port, HTTP,
# WebSocket, GPU...): a thin wrapper over `comfycine doctor`, whose exit code it keeps
# (0: every required check passes; 3: the PC is unreachable; 7: the cloud key is refused).
#
#   scripts/test-connection.sh [--deep] [--json] [--target NAME] [--url URL]
if command -v comfycine >/dev/null 2>&1; then
    exec comfycine doctor "$@"
fi
# Not installed as a command: run it from this source checkout.
repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
for python in python3 python; do
    if command -v "$python" >/dev/null 2>&1; then
        exec "$python" -m comfycine doctor "$@"
    fi
done
echo "test-connection.sh: neither comfycine nor python3 was found on PATH." >&2
exit 127
