"""Why a stage failed: credential/config, provider/transient, or likely SDK incompatibility, with the
evidence (exception chain, HTTP status, the frame that raised) that led to the verdict.

``category`` is the fine label (``credentials``, ``config``, ``transient``, ``incompatibility``);
``kind`` the three-way class the auto-fix lane acts on (only ``sdk_incompatibility`` is fixable there).
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field

CREDENTIALS, CONFIG, TRANSIENT, INCOMPATIBLE = "credentials", "config", "transient", "incompatibility"
KIND = {CREDENTIALS: "credential_config", CONFIG: "credential_config", TRANSIENT: "provider_transient",
        INCOMPATIBLE: "sdk_incompatibility"}

_CRED_NAMES = ("authenticationerror", "permissiondeniederror")
_CONFIG_NAMES = ("notfounderror", "usererror", "unsupportedparamserror")
_TRANSIENT_NAMES = ("ratelimiterror", "serviceunavailableerror", "internalservererror", "timeout",
                    "apiconnectionerror", "badgatewayerror", "llmnoresponseerror", "connecterror",
                    "connectionerror", "readtimeout", "llmtimeouterror")
_PROGRAMMING = (TypeError, AttributeError, KeyError, IndexError, NameError, ImportError, NotImplementedError)


@dataclass
class Verdict:
    category: str
    kind: str
    evidence: list[str] = field(default_factory=list)
    where: list[str] = field(default_factory=list)  # innermost frames, "path:line in func"


def chain(exc: BaseException) -> list[BaseException]:
    seen, out = set(), []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        out.append(exc)
        exc = exc.__cause__ or exc.__context__
    return out


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code
    match = re.search(r"\b(?:status(?: code)?|Error code:?)\s*[:=]?\s*(\d{3})\b", str(exc), re.I)
    return int(match.group(1)) if match else None


def frames(exc: BaseException, limit: int = 6) -> list[str]:
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return [f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in tb[-limit:]]


def _short(path: str) -> str:
    for marker in ("site-packages/", "/openhands_driver/", "/src/"):
        if marker in path:
            return path.split(marker, 1)[1] if marker == "site-packages/" else marker.strip("/") + "/" + \
                path.split(marker, 1)[1]
    return path


def classify(exc: BaseException) -> Verdict:
    links = chain(exc)
    evidence = [f"{type(e).__module__}.{type(e).__name__}: {str(e)[:160]}" for e in links[:4]]
    innermost = links[-1]
    where = frames(innermost)
    names = [type(e).__name__.lower() for e in links]
    statuses = [s for s in (_status(e) for e in links) if s]
    text = " ".join(str(e).lower() for e in links)
    if statuses:
        evidence.append(f"HTTP status {statuses[0]}")

    def verdict(category: str, why: str) -> Verdict:
        return Verdict(category, KIND[category], [why, *evidence], where)

    if any(n in _CRED_NAMES for n in names) or any(s in (401, 403) for s in statuses) \
            or "api key" in text or "api_key" in text:
        return verdict(CREDENTIALS, "the provider refused the credentials (401/403 or an API-key error)")
    if any(n in _CONFIG_NAMES for n in names) or 404 in statuses or "llm provider not provided" in text \
            or ("badrequest" in " ".join(names) and "model" in text):
        return verdict(CONFIG, "the model id, provider or base URL is wrong (404, unknown provider or model)")
    if any(n in _TRANSIENT_NAMES or "timeout" in n for n in names) or any(s == 429 or s >= 500 for s in statuses):
        return verdict(TRANSIENT, "the provider failed or timed out (429/5xx/connection): retry later")
    sdk_frames = [f for f in where if f.startswith("openhands/")]
    if isinstance(innermost, _PROGRAMMING) and sdk_frames:
        why = f"a {type(innermost).__name__} raised inside the SDK ({sdk_frames[-1]}): the SDK mishandles this model's replies"
    elif sdk_frames:
        why = f"the failure was raised inside the SDK ({sdk_frames[-1]}) with no credential or provider signal"
    else:
        why = "the model answered but not the way the SDK/runner needs (no credential or provider signal)"
    return verdict(INCOMPATIBLE, why)
