"""The intake service configuration: every flag of ``scripts/serve.py`` as one typed record."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from openhands_driver.errors import UserError
from openhands_driver.paths import ARTIFACTS_DIR, DEFAULT_TRACE_LOG

DEFAULT_DB = ARTIFACTS_DIR / "intake" / "intake.db"
ENV_TOKEN = "SRE_INTAKE_TOKEN"
ENV_REGISTRY = "SRE_SERVICE_REGISTRY"
ENV_ESCALATION_URL = "SRE_ESCALATION_URL"
ENV_ROUTING_KEY = "SRE_ESCALATION_ROUTING_KEY"


@dataclass
class IntakeConfig:
    host: str = "127.0.0.1"
    port: int = 8088                          # 0 = pick a free port
    db: Path = DEFAULT_DB
    reports_dir: Path | None = None           # default: <db dir>/reports
    token: str | None = None                  # bearer token (role admin, id "default")
    tokens_file: Path | None = None           # SRE_INTAKE_TOKENS: tokens with ids and roles (roles.py)
    insecure_no_auth: bool = False
    services_file: Path | None = None         # service registry JSON (name -> {url, backend, ...})
    demo_targets: bool = False                # alert field/label `scenario` -> fresh target
    blind_demo_targets: bool = False          # demo targets are blind incidents (a drawn variant)
    concurrency: int = 2                      # global limit of runs at once
    ttl_s: float = 3600.0                     # a queued alert expires after this long
    max_attempts: int = 2                     # a run interrupted by a restart is retried this often
    incident_token_budget: int | None = None  # tokens one run may use (estimate checked before)
    hourly_token_budget: int | None = None    # tokens all runs may use in a rolling hour
    token_estimate: int | None = None         # default: mean of recent runs' actual usage
    escalation_url: str | None = None         # PagerDuty Events API v2 endpoint (or compatible)
    routing_key: str | None = None            # from SRE_ESCALATION_ROUTING_KEY
    escalation_backoff_s: float = 2.0         # first retry delay; doubles up to the cap
    escalation_backoff_max_s: float = 300.0
    escalation_timeout_s: float = 5.0
    shutdown_deadline_s: float = 30.0         # in-flight runs may finish for this long on SIGTERM
    cancel_grace_s: float = 20.0              # then cancelled runs get this long to clean up
    max_body_bytes: int = 1 << 20
    # Run options passed to every RunConfig
    training_data: Path | None = None
    trace_log: Path = DEFAULT_TRACE_LOG
    verify_interval_s: float | None = None
    max_iterations: int = 40
    sandbox: str = "auto"                     # the agents' boundary: auto | bwrap | none
    # Confirmation gate: actions at or above this risk wait for an operator (approvals.py, dashboard)
    confirm_risk: str | None = None
    approval_timeout_s: float = 600.0
    trace_url_template: str | None = None     # the dashboard's link to an external trace UI
    results: tuple[Path, ...] = (ARTIFACTS_DIR,)  # where the dashboard finds benchmark/fan-out JSON
    http_threads: int = 8                     # waitress worker threads (http_server.py)
    log_level: str = "INFO"                   # JSON log lines on stderr (logs.py); POST /ops/loglevel

    @property
    def reports_path(self) -> Path:
        return self.reports_dir or Path(self.db).parent / "reports"

    @property
    def logs_path(self) -> Path:
        return Path(self.db).parent / "logs"

    def validate(self) -> IntakeConfig:
        """Refuse configurations that cannot work: one UserError listing every problem, one per line,
        each with the fix (scripts/serve.py prints them and exits 2)."""
        problems = self.problems()
        if problems:
            raise UserError("\n".join(problems))
        return self

    def problems(self) -> list[str]:
        """Every problem of this configuration (empty when it can start), each with its fix."""
        from openhands_driver.intake import logs, roles

        found: list[str] = []

        def check(test) -> None:  # a check that raises UserError adds its message
            try:
                test()
            except UserError as exc:
                found.append(str(exc))

        if not self.token and not self.tokens_file and not self.insecure_no_auth:
            found.append(f"no bearer token: set {ENV_TOKEN} (an admin token) or {roles.ENV_TOKENS} (a token "
                         "file with roles; every endpoint but /healthz requires one), or pass "
                         "--insecure-no-auth for a local demo")
        check(lambda: roles.load(self.token, self.tokens_file))  # a bad token file
        if self.token and len(self.token) < 16:
            found.append(f"{ENV_TOKEN} is too short ({len(self.token)} characters); use at least 16, "
                         "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`")
        if not 0 <= self.port <= 65535:
            found.append(f"--port must be 0-65535 (0 = a free port), got {self.port}")
        if not self.host:
            found.append("--host is empty; use an address such as 127.0.0.1 or 0.0.0.0")
        for flag, value, least in (("--concurrency", self.concurrency, 1), ("--http-threads", self.http_threads, 1),
                                   ("--max-iterations", self.max_iterations, 1)):
            if value < least:
                found.append(f"{flag} must be >= {least}, got {value}")
        for flag, value in (("--ttl-s", self.ttl_s), ("--approval-timeout-s", self.approval_timeout_s),
                            ("--escalation-timeout-s", self.escalation_timeout_s)):
            if value <= 0:
                found.append(f"{flag} must be > 0, got {value}")
        if self.shutdown_deadline_s < 0:
            found.append(f"--shutdown-deadline-s must be >= 0, got {self.shutdown_deadline_s}")
        for name in ("incident_token_budget", "hourly_token_budget", "token_estimate"):
            value = getattr(self, name)
            if value is not None and value < 0:
                found.append(f"--{name.replace('_', '-')} must be >= 0, got {value}")
        check(lambda: logs.check_level(self.log_level))
        if self.confirm_risk is not None:
            from openhands_driver.security import RISK_ORDER

            if self.confirm_risk not in RISK_ORDER:
                found.append(f"--require-confirmation-for-risk must be one of {', '.join(RISK_ORDER)}, "
                             f"got {self.confirm_risk!r}")
        if self.trace_url_template:
            from openhands_driver.dashboard.links import check_template

            check(lambda: check_template(self.trace_url_template))
        if self.escalation_url and not self.escalation_url.startswith(("http://", "https://")):
            found.append(f"--escalation-url must be an http(s) URL, got {self.escalation_url!r}")
        from openhands_driver.intake.registry import load_registry
        from openhands_driver.trace import check_writable

        check(lambda: load_registry(self.services_file))  # a bad registry file
        check(lambda: check_writable(self.trace_log, "--trace-log"))
        if not found:  # refused at start-up (exit 2, the package to install), not on the first alert
            from openhands_driver.sandbox import resolve_kind

            def sandbox() -> None:
                if resolve_kind(self) == "none":
                    from openhands_driver.sandbox import NONE_WARNING

                    logging.getLogger("openhands_driver.intake.config").warning(NONE_WARNING)
            check(sandbox)
        return found


def from_environment(**overrides) -> IntakeConfig:
    """A config whose secrets and paths come from the environment unless given."""
    env = os.environ
    values = {"token": env.get(ENV_TOKEN) or None,
              "services_file": Path(env[ENV_REGISTRY]) if env.get(ENV_REGISTRY) else None,
              "tokens_file": Path(env["SRE_INTAKE_TOKENS"]) if env.get("SRE_INTAKE_TOKENS") else None,
              "escalation_url": env.get(ENV_ESCALATION_URL) or None,
              "routing_key": env.get(ENV_ROUTING_KEY) or None}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return IntakeConfig(**values)
