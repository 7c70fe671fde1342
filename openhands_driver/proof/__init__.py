"""Proof of the fix, separate from the agent's claim.

After the agent stops, the runner judges the outcome itself:
- ``verifier`` (``openhands_driver/verifier.py``): N healthy HTTP probes -> ``service_up``;
- ``diagnosis``: the structured diagnosis the agent reported, scored against the ground truth;
- ``mitigation``: the fault class's oracle on the target's real state (run where the target runs);
- ``durability``: the runner restarts the target and probes over a soak window;
- ``collateral``: decoys and every file outside what the fix may change are unchanged.
``resolved`` is true only when the verifier, mitigation, durability and collateral all pass.
"""

from openhands_driver.proof.collateral import compare_snapshots, diffs, take_snapshot, take_texts
from openhands_driver.proof.diagnosis import parse_diagnosis, score_diagnosis, time_to_diagnosis
from openhands_driver.proof.durability import check_durability
from openhands_driver.proof.mitigation import check_mitigation, check_mitigation_all

__all__ = ["check_durability", "check_mitigation", "check_mitigation_all", "compare_snapshots", "parse_diagnosis",
           "score_diagnosis", "take_snapshot", "take_texts", "time_to_diagnosis", "diffs"]
