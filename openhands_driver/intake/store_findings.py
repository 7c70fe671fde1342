"""The intake store's finding records: hypotheses, evidence, verifications and provenance of an
execution (tables of migration 0002; derived by findings.py from the finished run).

A mixin of :class:`~openhands_driver.intake.store.Store`: written inside ``finish_run``'s
transaction (and sealed into the audit chain as one ``findings`` entry), read by the ServiceNow API.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

from openhands_driver.intake import findings as derive_findings


def _bool(value: Any) -> int | None:
    return None if value is None else int(bool(value))


def _unbool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


class FindingRecords:
    def _record_findings(self, db, execution_id: str, now: float, run: dict, actions: list[dict]) -> None:
        row = db.execute("SELECT incident, plan FROM executions WHERE id=?", (execution_id,)).fetchone()
        try:
            found = derive_findings.derive(run, actions, json.loads(row["incident"]), json.loads(row["plan"]))
        except Exception as exc:  # noqa: BLE001 - never lose the verdict to a run record of an unexpected shape
            traceback.print_exc()
            found = derive_findings.Findings(provenance=[{
                "subject": "findings", "source": "error", "ref": None,
                "detail": f"no findings derived: {type(exc).__name__}: {exc} (the service log has the traceback)"}])
        for ordinal, hypothesis in enumerate(found.hypotheses, start=1):
            hypothesis_id = db.execute(
                "INSERT INTO hypotheses (execution_id, ordinal, source, hypothesis_text, fault_class, entity, "
                "confidence_score, status, status_reason, step, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (execution_id, ordinal, hypothesis["source"], hypothesis["hypothesis_text"],
                 hypothesis["fault_class"], hypothesis["entity"], hypothesis["confidence_score"],
                 hypothesis["status"], hypothesis["status_reason"], hypothesis["step"], now)).lastrowid
            hypothesis["id"] = hypothesis_id
            for item in hypothesis["evidence"]:
                db.execute("INSERT INTO evidence (execution_id, hypothesis_id, source, step, detail, supports, "
                           "created_at) VALUES (?,?,?,?,?,?,?)",
                           (execution_id, hypothesis_id, item["source"], item["step"], item["detail"],
                            _bool(item["supports"]), now))
        for check in found.verifications:
            db.execute("INSERT INTO verifications (execution_id, kind, name, passed, detail, data, created_at) "
                       "VALUES (?,?,?,?,?,?,?)", (execution_id, check["kind"], check["name"],
                                                  _bool(check["passed"]), check["detail"],
                                                  json.dumps(check["data"], sort_keys=True, default=str), now))
        for item in found.provenance:
            db.execute("INSERT INTO provenance (execution_id, subject, source, ref, detail, created_at) "
                       "VALUES (?,?,?,?,?,?)", (execution_id, item["subject"], item["source"],
                                                None if item["ref"] is None else str(item["ref"]),
                                                item["detail"], now))
        self._audit(db, "findings", execution_id, now, {
            "execution_id": execution_id, "hypotheses": found.hypotheses,
            "verifications": found.verifications, "provenance": found.provenance})

    def findings(self, execution_id: str) -> dict:
        """hypotheses (each with its evidence), verifications and provenance of one execution."""
        hypotheses = []
        for row in self.query("SELECT * FROM hypotheses WHERE execution_id=? ORDER BY ordinal", (execution_id,)):
            item = dict(row)
            item["evidence"] = [{**dict(e), "supports": _unbool(e["supports"])} for e in self.query(
                "SELECT id, source, step, detail, supports FROM evidence WHERE hypothesis_id=? ORDER BY id",
                (row["id"],))]
            hypotheses.append(item)
        verifications = [{**dict(r), "passed": _unbool(r["passed"]), "data": json.loads(r["data"])}
                         for r in self.query("SELECT id, kind, name, passed, detail, data, created_at FROM "
                                             "verifications WHERE execution_id=? ORDER BY id", (execution_id,))]
        provenance = [dict(r) for r in self.query("SELECT id, subject, source, ref, detail, created_at FROM "
                                                  "provenance WHERE execution_id=? ORDER BY id", (execution_id,))]
        return {"hypotheses": hypotheses, "verifications": verifications, "provenance": provenance}
