"""Fault class scaled_to_zero: generator, legacy params, oracle, live symptom and skill."""

from __future__ import annotations

import json
import unittest
from pathlib import Path

from tests.support import workload as wk
from tests.support.workload import HealthyDiagnoseTests  # noqa: F401

FAULT = "scaled_to_zero"


def _edit(root: Path, rel: str, change) -> None:
    data = json.loads((root / rel).read_text())
    change(data)
    (root / rel).write_text(json.dumps(data))


class ScaledToZeroClassTests(wk.WorkloadClassTests):
    FAULT = FAULT
    LEGACY = ({},)

    def fix(self, root: Path, v: dict) -> None:
        entity = v["entity"]
        data = json.loads((root / entity).read_text())
        if data.get("kind") == "HorizontalPodAutoscaler":
            _edit(root, entity, lambda d: d["spec"].update(minReplicas=1, maxReplicas=3))
        else:
            _edit(root, entity, lambda d: d["spec"].update(replicas=2))

    def workarounds(self):
        def delete_scaler_or_deployment(root: Path, v: dict) -> None:
            (root / v["entity"]).unlink()

        def scale_everything(root: Path, v: dict) -> None:
            self.fix(root, v)
            self.damage_decoy(root, v)

        return {"delete the file": delete_scaler_or_deployment, "scale every deployment": scale_everything}

    def damage_decoy(self, root: Path, v: dict) -> None:
        _edit(root, v["decoys"][0], lambda d: d["spec"].update(replicas=1))

    def test_variants_cover_both_places(self) -> None:
        modes = {self.variant(seed)["params"]["mode"] for seed in range(20)}
        self.assertEqual(modes, {"replicas", "autoscaler"})

    def test_supervisor_message(self) -> None:
        from target_service import supervisor

        for seed in range(4):
            v = self.variant(seed)
            root = wk.inject_root(self.tmp, FAULT, v["params"], "m%d" % seed)
            with self.assertRaises(supervisor.WorkloadError) as caught:
                supervisor.read_workload(root)
            self.assertIn("0 desired replicas", str(caught.exception))
            self.assertIn(v["entity"], str(caught.exception))


class ScaledToZeroLiveTests(wk.WorkloadLiveTests):
    FAULT = FAULT
    SKILL = "scaled-to-zero"
    EVIDENCE = {0: "0 desired replicas", 1: "0/0 instances ready", 2: "not starting app: deployment"}



class ScaledToZeroDockerTests(wk.WorkloadDockerTests):
    FAULT = FAULT
    SKILL = "scaled-to-zero"


if __name__ == "__main__":
    unittest.main()
