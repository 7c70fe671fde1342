"""The one risk ordering of the project: LOW < MEDIUM < HIGH (UNKNOWN, no label, ranks below LOW)."""

from __future__ import annotations


RISK_ORDER = ("LOW", "MEDIUM", "HIGH")
LOW, MEDIUM, HIGH = RISK_ORDER
UNKNOWN = "UNKNOWN"  # the SDK's label when the model gave none; ranks below LOW


def _label(label) -> str:
    if label is None:
        return UNKNOWN
    return str(getattr(label, "value", label)).strip().upper()  # accepts the SDK's SecurityRisk


def risk_rank(label) -> int:
    """LOW=0, MEDIUM=1, HIGH=2; UNKNOWN (or None: no label) = -1. Anything else: ValueError."""
    text = _label(label)
    if text == UNKNOWN:
        return -1
    if text not in RISK_ORDER:
        raise ValueError(f"unknown risk label {label!r}; valid values: UNKNOWN, {', '.join(RISK_ORDER)}")
    return RISK_ORDER.index(text)


def max_risk(*labels) -> str:
    """The highest of the labels ("UNKNOWN" if none is given or all are unknown)."""
    best = UNKNOWN
    for label in labels:
        if risk_rank(label) > risk_rank(best):
            best = _label(label)
    return best


def parse_risk(text, *, allow_unknown: bool = False) -> str:
    """'medium' -> 'MEDIUM' (case-insensitive); ValueError naming the valid values otherwise."""
    valid = RISK_ORDER + ((UNKNOWN,) if allow_unknown else ())
    value = _label(text) if text is not None else ""
    if value not in valid:
        raise ValueError(f"invalid risk level {text!r}; valid values: {', '.join(valid)} (any case)")
    return value


def allows(risk, max_risk) -> bool:  # noqa: A002 - the name callers use for the limit
    """True if an action of `risk` may run under the limit `max_risk` (LOW|MEDIUM|HIGH)."""
    return risk_rank(risk) <= risk_rank(parse_risk(max_risk))
