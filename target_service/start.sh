#!/bin/sh
# Container entry point for the target service (service root is "/").
#   SCENARIO  scenario id reported by the service (required)
#   FAULT     fault to inject on first boot (empty or "healthy" = none)
#   PORT      port the service is probed on inside the container (default 8080)
#   LISTEN_HOST  address the app binds (default 0.0.0.0, so a published port reaches it)
#   FAULT_PARAMS per-incident fault details as a JSON object (optional, e.g. {"flag": "cartFailure"})
# Fault injection happens once (marker /var/lib/fault_injected), so a container restart keeps
# whatever the agent fixed. The supervisor then runs the app; SIGHUP to it restarts the app.
set -eu

: "${SCENARIO:?set SCENARIO to the scenario id (e.g. -e SCENARIO=stale_lockfile)}"

python3 /app/faults.py --root / --scenario "$SCENARIO" --fault "${FAULT:-healthy}" --port "${PORT:-8080}" \
    --host "${LISTEN_HOST:-0.0.0.0}" --params "${FAULT_PARAMS:-}"
exec python3 /app/supervisor.py --root /
