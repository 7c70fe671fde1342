"""Serve the runbook brain standalone: an OpenAI-compatible endpoint, independent of any incident.

    uv run python -m openhands_driver.brain --port 8765
    uv run python run_demo.py --blind --model openai/runbook --llm-base-url http://127.0.0.1:8765/v1

It answers from the conversation it is sent and nothing else (no scenario, no ground truth), so a
run through it decides exactly as the built-in default does. Any API key is accepted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from openhands_driver.brain.server import PolicyServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m openhands_driver.brain",
                                     description="Serve the offline runbook brain as an "
                                                 "OpenAI-compatible chat-completions endpoint.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 = any free)")
    args = parser.parse_args(argv)
    try:
        server = PolicyServer(args.host, args.port).start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"runbook brain serving at {server.base_url} (model name: any; key: any)", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
