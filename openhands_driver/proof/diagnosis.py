"""The agent's structured diagnosis, and whether it names the real cause.

The standing orders ask the agent to end its report with a JSON block such as
``{"fault_class": "...", "entity": "...", "evidence": [...]}``; the last JSON object of the final
message that has a ``fault_class`` key is the diagnosis. It is correct when the class matches the
ground truth (``-``, ``_`` and spaces are one separator) and the entity names the same thing (a
path may be given relative to the service root or absolute).
"""

from __future__ import annotations

import json
import re

from openhands_driver.incident import GroundTruth


def _json_objects(text: str) -> list[dict]:
    """Every top-level JSON object in a text, in order."""
    found, decoder, index = [], json.JSONDecoder(), 0
    while True:
        start = text.find("{", index)
        if start == -1:
            return found
        try:
            value, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(value, dict):
            found.append(value)
        index = end


def parse_diagnosis(message: str) -> dict | None:
    """The reported diagnosis ({fault_class, entity, evidence}), or None when there is none."""
    for candidate in reversed(_json_objects(message or "")):
        if "fault_class" in candidate:
            evidence = candidate.get("evidence")
            return {"fault_class": str(candidate.get("fault_class") or ""),
                    "entity": str(candidate.get("entity") or ""),
                    "evidence": [str(e) for e in evidence] if isinstance(evidence, list)
                    else ([str(evidence)] if evidence else [])}
    return None


def _class_key(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().lower())


def _entity_key(value: str) -> str:
    value = value.strip().strip("'\"`").replace("\\", "/")
    value = re.sub(r"/+", "/", value)
    return value.lstrip("./").lower() if "/" in value else value.lower()


def entity_matches(reported: str, truth: str) -> bool:
    """Same thing named: equal, or the same path given with a root prefix."""
    got, want = _entity_key(reported), _entity_key(truth)
    if not got or not want:
        return not want and not got
    return got == want or ("/" in want and got.endswith("/" + want))


def parse_diagnoses(message: str) -> list[dict]:
    """Every diagnosis block in the message (an incident with several causes may get several)."""
    found = []
    for candidate in _json_objects(message or ""):
        if "fault_class" in candidate:
            found.append(parse_diagnosis(json.dumps(candidate)))
    return found


def score_diagnosis(message: str, truth: GroundTruth) -> dict:
    """{reported, class_correct, entity_correct, correct} for the agent's final message.

    Several injected faults (``truth.faults``): the diagnosis is correct when a reported block
    names one of them (class and entity); ``matched`` lists the faults named correctly (index and
    class) and ``all_named`` says whether every one was. ``reported`` stays the last block."""
    reported = parse_diagnosis(message)
    faults = truth.faults or [{"fault_class": truth.fault_class, "entity": truth.entity}]
    if reported is None:
        return {"reported": None, "class_correct": False, "entity_correct": False, "correct": False,
                "matched": [], "all_named": False}
    blocks = parse_diagnoses(message)
    matched, class_ok, entity_ok = [], False, False
    for index, fault in enumerate(faults):
        for block in blocks:
            c_ok = _class_key(block["fault_class"]) == _class_key(fault["fault_class"])
            e_ok = entity_matches(block["entity"], fault["entity"])
            class_ok = class_ok or c_ok
            entity_ok = entity_ok or (c_ok and e_ok)
            if c_ok and e_ok:
                matched.append({"index": index, "fault_class": fault["fault_class"]})
                break
    if len(faults) == 1:  # the single-fault verdict, as before: the last block against the truth
        class_ok = _class_key(reported["fault_class"]) == _class_key(faults[0]["fault_class"])
        entity_ok = entity_matches(reported["entity"], faults[0]["entity"])
        matched = [{"index": 0, "fault_class": faults[0]["fault_class"]}] if class_ok and entity_ok else []
    return {"reported": reported, "class_correct": class_ok, "entity_correct": entity_ok,
            "correct": bool(matched), "matched": matched, "all_named": len(matched) == len(faults)}


def time_to_diagnosis(actions: list) -> float | None:
    """MTTD: seconds from the run's start to the end of the agent's last read-only step before its
    first change (the first action the command policy rated MEDIUM or higher), or to its last step
    when it changed nothing. Only meaningful when the diagnosis is correct (the caller checks)."""
    last = None
    for action in actions:
        if action.tool == "finish":
            break
        if (action.policy_risk or action.risk) in ("MEDIUM", "HIGH"):
            break
        if action.ended_s is not None:
            last = action.ended_s
    return last
