"""Hash chain over JSON entries: each entry carries ``audit`` = {v, seq, prev, hash, key_id, sig}.

``hash`` is the SHA-256 of the entry's canonical JSON (sorted keys, no spaces, UTF-8) with ``audit``
minus ``hash`` and ``sig``; ``prev`` is the previous entry's ``hash`` (``None`` for the first; the
canonical hash of the last unchained legacy row when a chain starts after legacy rows); ``sig`` is
the ed25519 signature of ``hash`` (base64) by ``key_id``, absent when no key is configured.

:func:`verify_entries` walks entries in stored order and reports every problem, the first one
named: ``changed`` (content no longer matches its hash, a bad signature, or an entry re-hashed so
its successor no longer links to it), ``removed`` (sequence numbers missing), ``reordered`` (an
entry found before the one it follows), ``inserted`` (an unchained row after the chain began),
``unknown_key`` (a key id missing from the key set). Truncating the tail cannot be seen from the
log alone: the report gives the head (last seq and hash) to compare with a copy kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

AUDIT_FIELD = "audit"
CHAIN_VERSION = 1


def normalize(value: Any) -> Any:
    """The value as a JSON reader will see it (paths, datetimes -> str; tuples -> lists)."""
    return json.loads(json.dumps(value, default=str))


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def legacy_digest(row: dict) -> str:
    """The hash of an unchained row (a chain that starts after legacy rows links to the last one)."""
    return hashlib.sha256(canonical(row)).hexdigest()


def entry_digest(entry: dict) -> str:
    body = dict(entry)
    audit = {k: v for k, v in (body.get(AUDIT_FIELD) or {}).items() if k not in ("hash", "sig")}
    body[AUDIT_FIELD] = audit
    return hashlib.sha256(canonical(body)).hexdigest()


def is_chained(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get(AUDIT_FIELD), dict) \
        and isinstance(entry[AUDIT_FIELD].get("hash"), str)


def seal(row: dict, previous: dict | None, signer=None) -> dict:
    """A copy of ``row`` chained after ``previous`` (the last readable entry, or None) and signed.

    ``signer``: an object with ``key_id`` and ``sign(bytes) -> str`` (keys.Signer), or None.
    """
    entry = normalize(row)
    entry.pop(AUDIT_FIELD, None)
    if previous is None:
        seq, prev, anchor = 0, None, None
    elif is_chained(previous):
        seq, prev, anchor = int(previous[AUDIT_FIELD].get("seq", -1)) + 1, previous[AUDIT_FIELD]["hash"], None
    else:
        seq, prev, anchor = 0, legacy_digest(previous), "legacy"
    audit: dict[str, Any] = {"v": CHAIN_VERSION, "seq": seq, "prev": prev,
                             "key_id": signer.key_id if signer is not None else None}
    if anchor:
        audit["anchor"] = anchor
    entry[AUDIT_FIELD] = audit
    audit["hash"] = entry_digest(entry)
    if signer is not None:
        audit["sig"] = signer.sign(audit["hash"].encode())
    return entry


@dataclass
class Problem:
    kind: str          # changed | removed | reordered | inserted | unknown_key
    where: str         # "line 7", "audit id 12"
    seq: int | None
    detail: str
    ref: str | None = None  # run_id / execution id when the entry has one

    def line(self) -> str:
        ref = f" ({self.ref})" if self.ref else ""
        return f"{self.kind} at {self.where}{ref}: {self.detail}"


@dataclass
class ChainReport:
    source: str
    entries: int = 0
    chained: int = 0
    legacy: int = 0            # unchained rows written before the chain began ("unchained legacy")
    unreadable: int = 0        # torn or non-JSON lines (skipped, never part of the chain)
    signed: int = 0
    unsigned: int = 0
    verified_signatures: int = 0
    key_ids: list[str] = field(default_factory=list)
    keyset: str | None = None  # where the public keys came from (None: signatures not checked)
    problems: list[Problem] = field(default_factory=list)
    head: dict | None = None   # {"seq", "hash", "where"} of the last chained entry
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["first_problem"] = asdict(self.first_problem) if self.first_problem else None
        return data

    def summary(self) -> str:
        lines = [f"{self.source}: {self.entries} entries, {self.chained} chained, {self.legacy} unchained "
                 f"legacy, {self.unreadable} unreadable; {self.signed} signed ({self.verified_signatures} "
                 f"verified), {self.unsigned} unsigned"]
        if self.unsigned:
            lines.append(f"  {self.unsigned} entries carry no signature (no key was configured when they "
                         "were written): their chain is checked, their origin is not")
        if self.signed and self.keyset is None:
            lines.append("  no key set given (--keyset / SRE_AUDIT_KEYSET): signatures were not checked")
        if self.legacy:
            lines.append(f"  {self.legacy} unchained legacy rows (written before the audit chain existed) "
                         "cannot be checked")
        lines.extend(f"  note: {n}" for n in self.notes)
        if self.head:
            lines.append(f"  head: seq {self.head['seq']} hash {self.head['hash']} at {self.head['where']} "
                         "(compare with a copy kept elsewhere to detect a truncated tail)")
        if self.ok:
            lines.append("  OK: no entry was changed, removed or reordered")
        else:
            lines.append(f"  FIRST PROBLEM: {self.first_problem.line()}")
            lines.extend(f"  also: {p.line()}" for p in self.problems[1:10])
            if len(self.problems) > 10:
                lines.append(f"  ... and {len(self.problems) - 10} more")
        return "\n".join(lines)


def verify_entries(items: list[tuple[str, Any]], source: str, keyset: dict | None = None,
                   keyset_name: str | None = None, ref_key: str = "run_id") -> ChainReport:
    """Check entries in stored order. ``items``: (where, parsed entry or None when unreadable).

    ``keyset``: key_id -> object with ``verify(sig_b64, data) -> bool`` (keys.load_keyset), or
    None to skip signature checks (the report says so).
    """
    report = ChainReport(source=source, keyset=keyset_name if keyset is not None else None)
    positions: dict[str, int] = {}
    for index, (_, entry) in enumerate(items):
        if is_chained(entry):
            positions.setdefault(entry[AUDIT_FIELD]["hash"], index)
    previous: dict | None = None      # last readable entry
    previous_chained: tuple[int, dict] | None = None
    key_ids: set[str] = set()
    for index, (where, entry) in enumerate(items):
        if not isinstance(entry, dict):
            report.unreadable += 1
            continue
        report.entries += 1
        ref = entry.get(ref_key)
        ref = str(ref) if ref is not None else None
        if not is_chained(entry):
            if previous_chained is None:
                report.legacy += 1
            else:
                report.problems.append(Problem("inserted", where, None, "an unchained entry after the chain "
                                               "began (added or its chain fields stripped)", ref))
            previous = entry
            continue
        report.chained += 1
        audit = entry[AUDIT_FIELD]
        seq = audit.get("seq") if isinstance(audit.get("seq"), int) else None
        if entry_digest(entry) != audit["hash"]:
            report.problems.append(Problem("changed", where, seq, "its content no longer matches its hash "
                                           "(edited after it was written)", ref))
        sig, key_id = audit.get("sig"), audit.get("key_id")
        if sig:
            report.signed += 1
            key_ids.add(str(key_id))
            if keyset is not None:
                key = keyset.get(key_id)
                if key is None:
                    report.problems.append(Problem("unknown_key", where, seq, f"signed by key {key_id!r}, "
                                                   "which is not in the key set", ref))
                elif key.verify(sig, audit["hash"].encode()):
                    report.verified_signatures += 1
                else:
                    report.problems.append(Problem("changed", where, seq, f"its signature (key {key_id}) "
                                                   "does not match: the entry was forged or re-hashed", ref))
        else:
            report.unsigned += 1
            if report.signed and keyset is not None:
                report.notes.append(f"{where}: unsigned entry after signed ones (key removed from the "
                                    "writer's configuration?)")
        _check_link(report, items, positions, index, where, entry, seq, ref, previous, previous_chained)
        previous = entry
        previous_chained = (index, entry)
        report.head = {"seq": seq, "hash": audit["hash"], "where": where}
    report.key_ids = sorted(key_ids)
    return report


def _check_link(report, items, positions, index, where, entry, seq, ref, previous, previous_chained) -> None:
    audit = entry[AUDIT_FIELD]
    prev = audit.get("prev")
    if previous_chained is None:  # the first chained entry
        if audit.get("anchor") == "legacy":
            if previous is None or legacy_digest(previous) != prev:
                report.problems.append(Problem("changed", where, seq, "the chain starts after a legacy row "
                                               "that is no longer there as it was (legacy rows edited, "
                                               "removed or reordered)", ref))
        elif prev is not None or seq != 0:
            report.problems.append(Problem("removed", where, seq, f"the first chained entry has seq {seq}: "
                                           f"entries 0..{(seq or 1) - 1} before it are missing", ref))
        return
    p_index, p_entry = previous_chained
    p_audit = p_entry[AUDIT_FIELD]
    p_seq = p_audit.get("seq") if isinstance(p_audit.get("seq"), int) else None
    if prev == p_audit["hash"]:
        if audit.get("anchor") == "legacy":
            return
        if seq is not None and p_seq is not None and seq != p_seq + 1:
            report.problems.append(Problem("changed", where, seq, f"seq {seq} follows seq {p_seq}", ref))
        return
    found = positions.get(prev) if prev else None
    if found is not None and found > index:
        report.problems.append(Problem("reordered", where, seq, f"it follows the entry at "
                                       f"{items[found][0]} (seq {seq - 1 if seq else '?'}), which now comes "
                                       "after it", ref))
    elif found is not None and found < p_index:
        report.problems.append(Problem("reordered", items[p_index][0], p_seq, f"it sits between the entry "
                                       f"at {items[found][0]} and its successor at {where}", None))
    elif seq is not None and p_seq is not None and seq > p_seq + 1:
        missing = f"seq {p_seq + 1}" if seq == p_seq + 2 else f"seq {p_seq + 1}..{seq - 1}"
        report.problems.append(Problem("removed", where, seq, f"{missing} missing before it (it links to an "
                                       "entry that is no longer in the log)", ref))
    else:
        report.problems.append(Problem("changed", items[p_index][0], p_seq, "its successor at "
                                       f"{where} links to a different hash: this entry was replaced or "
                                       "re-hashed after it was written", None))
