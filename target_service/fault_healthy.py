"""Class healthy: no fault. The service answers 200; a run must change nothing.

The oracle checks that the service's own state is still healthy (config and settings valid,
warm-up data loads, the listen port is the one the load balancer forwards to, no foreign lock);
the collateral check (nothing in may_change) does the rest.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_healthy (the runner, the tests)
    from . import faults_core as core, faults_service as service
    from .app_service import REQUIRED_SETTINGS, setting_problem, warmup_problem
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import faults_service as service
    from app_service import REQUIRED_SETTINGS, setting_problem, warmup_problem


@core.register_class
class Healthy(core.FaultClass):
    name = core.HEALTHY

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        return {}

    def inject(self, ctx: core.FaultContext) -> None:
        """No fault: the healthy root init_root wrote."""

    def symptom(self, params: Mapping[str, Any]) -> str:
        return "healthy"

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        values = core.read_env(root)
        settings = [setting_problem(key, values) for key in REQUIRED_SETTINGS]
        port, source = service.effective_port(root)
        expected = service.upstream_port(root)
        try:
            warmup = core.read_service_json(root).get("warmup") or {}
        except (OSError, ValueError):
            warmup = {}
        data = warmup.get("data_file") if isinstance(warmup, dict) else None
        warm = warmup_problem(root, data) if isinstance(data, str) else None
        return [
            core.Check("every required setting is valid", not any(settings),
                       "; ".join(s for s in settings if s) or "all valid"),
            core.Check("the listen port is the one the service is reached on",
                       expected is not None and port == expected,
                       "listen port %r (from %s), upstream %r" % (port, source, expected)),
            core.Check("the warm-up data loads", warm is None, warm or str(data)),
        ]
