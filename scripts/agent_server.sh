#!/usr/bin/env bash
# Start an OpenHands agent server for this project, on a host with or without internet.
#
#   scripts/agent_server.sh                         # 127.0.0.1:8010
#   scripts/agent_server.sh --host 127.0.0.1 --port 8011
#   SESSION_API_KEY=<key> scripts/agent_server.sh   # auth on (then set SRE_AGENT_SERVER_API_KEY on the runner)
#
# What it sets (the same as the project's own launcher, openhands_driver/remote.py LocalAgentServer,
# and the worker image, deploy/worker/Dockerfile):
#   LITELLM_LOCAL_MODEL_COST_MAP=True  litellm's price table from the package, not the network: without
#                                      it, an offline host deadlocks in litellm's retry thread at import
#   OPENHANDS_SUPPRESS_BANNER=1        no banner
#   PATH=<repo>/bin:$PATH               the agent's `targetctl`
# The server keeps its conversations under ./workspace of its working directory: it runs in
# $SRE_AGENT_SERVER_STATE (default: a per-port directory under ${TMPDIR:-/tmp}), never in the repository.
# Needs the optional extra `remote` (uv sync --locked --extra remote).
set -euo pipefail

repo=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
host=127.0.0.1
port=8010
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done

export LITELLM_LOCAL_MODEL_COST_MAP=True
export OPENHANDS_SUPPRESS_BANNER=1
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
export PATH="$repo/bin:$PATH"
state="${SRE_AGENT_SERVER_STATE:-${TMPDIR:-/tmp}/sre-agent-server-$port}"
mkdir -p "$state"
cd "$state"
echo "agent server on http://$host:$port (state: $state)" >&2
exec uv run --project "$repo" --locked --extra remote python -m openhands.agent_server \
  --host "$host" --port "$port" ${args[@]+"${args[@]}"}
