"""The audit trail nobody can quietly edit: hash-chained, ed25519-signed entries.

- ``chain.py``: canonical JSON, sealing an entry (``audit``: seq, prev, hash, key_id, sig) after
  the previous one, verifying a sequence of entries and naming the first changed, removed,
  reordered or inserted one.
- ``keys.py``: the signing key kept outside the log (``SRE_AUDIT_KEY`` / ``--audit-key``: a 0600
  PEM file), the public key set (``SRE_AUDIT_KEYSET``: every key id ever used), keygen, rotation.
- ``verify.py``: a trace log (JSONL) or the intake database checked end to end (``scripts/verify_audit.py``).

Used by ``trace.append_row`` (every trace row) and the intake store (every audit record).
Stdlib only unless a key is configured (then ``cryptography``).
"""
