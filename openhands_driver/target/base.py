"""The Target abstraction: one broken service per incident, whatever runs it.

A backend (local process group, Docker container, ...) implements `Target`. Every backend exposes
the same service root layout (see CONTRIBUTING "Service root layout") and the same control
surface for the agent (`targetctl`, configured by `control_env()`).
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from openhands_driver.errors import UserError


class TargetError(RuntimeError):
    """A target could not be started, restarted or controlled. The message says what to check."""


@dataclass(frozen=True)
class CommandResult:
    """Outcome of `Target.exec`: the exact argv that ran and what it produced."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Target(abc.ABC):
    """A running (or startable) target service for one incident.

    Lifecycle: construct -> start() -> exec()/restart()/logs()/status() ... -> cleanup().
    `with target:` starts it (if not started) and always cleans up.
    """

    backend: str = "abstract"

    def __init__(self, *, scenario_id: str, fault: str | None, port: int) -> None:
        if not scenario_id:
            raise ValueError("scenario_id is required (the id the service reports in its health body)")
        self._scenario_id = scenario_id
        self._fault = fault
        self._port = int(port)

    # --- identity ------------------------------------------------------------------------

    @property
    def scenario_id(self) -> str:
        return self._scenario_id

    @property
    def fault(self) -> str | None:
        return self._fault

    @property
    def fault_names(self) -> list[str]:
        """Every injected fault class (several when the incident has several injections)."""
        injections = getattr(self, "_injections", None)
        return [i["fault"] for i in injections] if injections else [self._fault or "healthy"]

    @property
    def port(self) -> int:
        """Port the verifier probes on 127.0.0.1 (host side)."""
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/"

    @property
    @abc.abstractmethod
    def root(self) -> Path:
        """Service root as seen by commands run with exec() ("/" inside a container)."""

    # --- lifecycle and control -----------------------------------------------------------

    @abc.abstractmethod
    def start(self) -> None:
        """Inject the fault (once) and start the supervisor + app. Idempotent."""

    @abc.abstractmethod
    def exec(self, argv: list[str], timeout_s: float = 30.0) -> CommandResult:
        """Run argv (no shell) with cwd = service root."""

    @abc.abstractmethod
    def restart(self, timeout_s: float = 10.0) -> None:
        """Restart the app through the supervisor; return once a new app process is up."""

    @abc.abstractmethod
    def logs(self, tail: int = 200) -> str:
        """Last `tail` lines of var/log/service.log."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """Process-level state (not health): at least {"running": bool, ...}."""

    @abc.abstractmethod
    def control_env(self) -> dict[str, str]:
        """Environment for `targetctl` in the agent terminal (TARGETCTL_*)."""

    def service_tool_argv(self) -> list[str]:
        """argv prefix that runs target_service/faults.py (oracle, snapshot) where the target runs,
        through exec(); the caller appends the sub-command and ``--root`` (this target's root)."""
        raise NotImplementedError(f"{type(self).__name__} cannot run the service tools")

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """JSON-able summary for traces: at least backend, url, root, port."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Stop everything and release resources. Idempotent; safe after a failed start."""

    # --- context manager -----------------------------------------------------------------

    def __enter__(self) -> Target:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(scenario_id={self._scenario_id!r}, fault={self._fault!r}, "
                f"url={self.url!r})")


def validate_argv(argv: object) -> list[str]:
    """exec() takes a list of strings, never a shell string."""
    if isinstance(argv, (str, bytes)):
        raise TypeError(f"exec() takes an argv list, not a shell string: {argv!r}; "
                        "use ['sh', '-c', '...'] if you really need a shell")
    if not isinstance(argv, (list, tuple)) or not argv:
        raise TypeError(f"exec() needs a non-empty argv list, got {argv!r}")
    if not all(isinstance(part, str) for part in argv):
        raise TypeError(f"every argv element must be a str, got {argv!r}")
    return list(argv)


def url_port(url: str) -> int:
    """The port of an attached target's health URL (--target-url); UserError when it is not one."""
    parts = urlsplit(url)
    try:
        port = parts.port or 80
    except ValueError:  # a port that is not a number, or out of range
        port = None
    if parts.scheme != "http" or not parts.hostname or port is None:
        raise UserError(f"--target-url must look like http://127.0.0.1:PORT/, got {url!r}")
    return port
