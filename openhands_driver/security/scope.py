"""The records at the policy's boundary: what belongs to the incident (IncidentScope), the verdict
on one action (RiskAssessment), and the message the agent gets when an action is blocked (explain)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .paths import _normpath
from .risk import parse_risk


DEFAULT_SECRET_NAMES = ("LLM_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY",
                        "LMNR_PROJECT_API_KEY", "HF_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class IncidentScope:
    """What belongs to this incident; everything else is outside it."""

    target_url: str = ""              # health URL, e.g. http://127.0.0.1:41234/
    target_root: str = ""             # service root as `targetctl exec` sees it ("/" for docker)
    backend: str = "local"            # local | docker
    container: str | None = None      # docker: the incident's container (name or id)
    workspace: str = ""               # the agent's temp workspace (scratch space, terminal cwd)
    target_pids: tuple[int, ...] = ()  # the incident's host pids / process group ids (its group
    #                                     members count too: the app pid changes on every restart)
    secret_names: tuple[str, ...] = DEFAULT_SECRET_NAMES  # env var names that hold secrets
    secret_values: tuple[str, ...] = field(default=(), repr=False)  # matched only, never shown

    def __post_init__(self) -> None:
        if self.backend not in ("local", "docker"):
            raise ValueError(f"IncidentScope.backend={self.backend!r}; valid values: local, docker")
        put = object.__setattr__
        root = str(self.target_root or ("/" if self.backend == "docker" else ""))
        put(self, "target_root", _normpath(root) if root else "")
        put(self, "workspace", _normpath(str(self.workspace)) if self.workspace else "")
        put(self, "target_pids", tuple(int(p) for p in self.target_pids if p))
        put(self, "secret_names", tuple(str(n) for n in self.secret_names if n))
        put(self, "secret_values", tuple(str(v) for v in self.secret_values if v))

    @classmethod
    def from_target(cls, target, workspace, *, secret_names=DEFAULT_SECRET_NAMES,
                    secret_values=()) -> "IncidentScope":
        """Scope of a running `openhands_driver.target` Target (duck-typed: url, root, backend,
        control_env(), describe()["pid"] = the local process group)."""
        described = target.describe()
        pid = described.get("pid") if isinstance(described, dict) else None
        return cls(target_url=target.url, target_root=str(target.root), backend=target.backend,
                   container=target.control_env().get("TARGETCTL_CONTAINER") or None,
                   workspace=str(workspace), target_pids=(pid,) if isinstance(pid, int) else (),
                   secret_names=tuple(secret_names), secret_values=tuple(secret_values))


@dataclass(frozen=True)
class RiskAssessment:
    risk: str                        # LOW | MEDIUM | HIGH
    reasons: tuple[str, ...] = ()    # highest risk first, e.g. "rm deletes /tmp/x recursively, ..."
    rule_ids: tuple[str, ...] = ()   # ids from RULES, same order

    def to_dict(self) -> dict:
        return {"risk": self.risk, "reasons": list(self.reasons), "rule_ids": list(self.rule_ids)}


def explain(assessment: RiskAssessment, allowed: str = "MEDIUM") -> str:
    """The message the agent gets when an action is rejected."""
    reasons = "; ".join(assessment.reasons) or "no reason recorded"
    return (f"Blocked before execution: risk {assessment.risk} above the allowed {parse_risk(allowed)}: "
            f"{reasons}. Choose a safer command that stays within the incident's target (use targetctl).")
