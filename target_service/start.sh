#!/bin/sh
# Container entry point for the target service (service root is "/").
#   /run/provision.json  what to provision on first boot, written by the runner before the
#                        container starts: {"instance": id, "fault": name, "params": {...}} and,
#                        for an incident with several injections, "faults": [{"fault", "params"}]
#                        (applied together; fault/params = the first); read once and deleted, so nothing the agent can read (env, files) names the fault
#   PORT         port the service is probed on inside the container (default 8080)
#   LISTEN_HOST  address the app binds (default 0.0.0.0, so a published port reaches it)
# Without the file, SCENARIO / FAULT / FAULT_PARAMS from the environment are used (manual runs).
# Provisioning happens once (marker /var/lib/provisioned), so a container restart keeps whatever
# the agent fixed. The supervisor then runs the app; SIGHUP to it restarts the app.
set -eu

if [ -f /run/provision.json ]; then
  python3 /app/faults.py --root / --provision-file /run/provision.json --port "${PORT:-8080}" \
      --host "${LISTEN_HOST:-0.0.0.0}"
  rm -f /run/provision.json
else
  : "${SCENARIO:?set SCENARIO to the instance id (e.g. -e SCENARIO=stale_lockfile)}"
  python3 /app/faults.py --root / --scenario "$SCENARIO" --fault "${FAULT:-healthy}" --port "${PORT:-8080}" \
      --host "${LISTEN_HOST:-0.0.0.0}" --params "${FAULT_PARAMS:-}"
fi
exec env -u SCENARIO -u FAULT -u FAULT_PARAMS python3 /app/supervisor.py --root /
