"""The read-only dashboard over a trace log and result files (``scripts/dashboard.py``), for people
who do not run the intake: the same pages, no approvals, no webhooks.

    config = DashboardConfig(trace_log=Path("artifacts/runs/trace_log.jsonl"), token=...)
    serve(config)     # blocks until SIGTERM/SIGINT; prints {"event": "listening", "url": ...}
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from openhands_driver.errors import UserError
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG

ENV_TOKENS = ("SRE_DASHBOARD_TOKEN", "SRE_INTAKE_TOKEN")


@dataclass
class DashboardConfig:
    trace_log: Path = DEFAULT_TRACE_LOG
    results: list[Path] = field(default_factory=lambda: [ARTIFACTS_DIR])
    host: str = "127.0.0.1"
    port: int = 8089                          # 0 = a free one
    token: str | None = None
    insecure_no_auth: bool = False
    trace_url_template: str | None = None

    def validate(self) -> DashboardConfig:
        if not self.token and not self.insecure_no_auth:
            raise UserError(f"no token: set {ENV_TOKENS[0]} (or {ENV_TOKENS[1]}); the browser signs in "
                            "with it once. Or pass --insecure-no-auth for a local demo")
        if self.token and len(self.token) < 16:
            raise UserError(f"the dashboard token is too short ({len(self.token)} characters); use at "
                            "least 16, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if not Path(self.trace_log).exists():
            raise UserError(f"no trace log at {self.trace_log}: run incidents first "
                            "(uv run python run_demo.py --scenario <id>) or pass --trace-log PATH")
        if self.trace_url_template:
            from openhands_driver.dashboard.links import check_template

            check_template(self.trace_url_template)
        return self


def token_from_environment() -> str | None:
    return next((os.environ[name] for name in ENV_TOKENS if os.environ.get(name)), None)


def make_app(config: DashboardConfig):
    from openhands_driver.dashboard.app import create_app
    from openhands_driver.dashboard.sources import TraceSource

    return create_app(TraceSource(config.trace_log, config.results, config.trace_url_template,
                                  secrets=[config.token] if config.token else []),
                      token=None if config.insecure_no_auth and not config.token else config.token)


def serve(config: DashboardConfig, *, out: TextIO = sys.stdout) -> int:
    from openhands_driver.intake.http_server import HttpServer  # waitress, as the intake

    config.validate()
    server = HttpServer(make_app(config), host=config.host, port=config.port).start()
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    print(json.dumps({"event": "listening", "url": f"http://{config.host}:{server.port}",
                      "trace_log": str(config.trace_log)}), file=out, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    print(json.dumps({"event": "stopped"}), file=out, flush=True)
    return 0
