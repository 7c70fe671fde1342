"""The healthy per-request traffic layout: flagd flags and the schedules directory.

Healthy state: etc/flags.json with every OpenTelemetry Demo failure flag off, an empty etc/chaos/.
The app re-reads both on every request (app_traffic.py). The fault classes that break them are
fault_feature_flag.py and fault_chaos_schedule.py (ITBench analogues; openhands_driver/itbench/
mapping.py maps to them); they use the constants here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Tuple

if __package__:  # imported as target_service.faults_traffic (the runner, the tests)
    from . import faults_core as core, root_layout as layout
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout

_ON_OFF = {"on": True, "off": False}
# Modelled on the OpenTelemetry Demo's flagd config (demo.flagd.json): every flag off by default.
OTEL_DEMO_FLAGS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "adFailure": ("Fail ad service", _ON_OFF),
    "adHighCpu": ("Triggers high cpu load in the ad service", _ON_OFF),
    "adManualGc": ("Triggers full manual garbage collections in the ad service", _ON_OFF),
    "cartFailure": ("Fail cart service", _ON_OFF),
    "emailMemoryLeak": ("Memory leak in the email service", {"off": 0, "1x": 1, "10x": 10,
                                                              "100x": 100, "1000x": 1000}),
    "imageSlowLoad": ("Slow loading images in the frontend", {"10sec": 10000, "5sec": 5000,
                                                              "off": 0}),
    "kafkaQueueProblems": ("Overloads the Kafka queue and delays consumers", {"on": 100, "off": 0}),
    "loadGeneratorFloodHomepage": ("Flood the frontend with a large amount of requests",
                                   {"on": 100, "off": 0}),
    "paymentFailure": ("Fail payment service charge requests n%",
                       {"100%": 1, "90%": 0.95, "75%": 0.75, "50%": 0.5, "25%": 0.25,
                        "10%": 0.1, "off": 0}),
    "paymentUnreachable": ("Payment service is unavailable", _ON_OFF),
    "productCatalogFailure": ("Fail product catalog service on a specific product", _ON_OFF),
    "recommendationCacheFailure": ("Fail recommendation service cache", _ON_OFF),
}
DEFAULT_CHAOS_NAME = "service-network-delay"
DEFAULT_CHAOS_SPEC: Dict[str, Any] = {
    "type": "NetworkChaos",
    "networkChaos": {"action": "delay", "delay": {"latency": "20000ms"}, "mode": "all",
                     "selector": {"labelSelectors": {"app.kubernetes.io/component": "service"}}}}


@core.register_layout
def _healthy_traffic(root: Path, scenario_id: str) -> None:
    flags = {name: {"description": doc, "state": "ENABLED", "variants": dict(variants),
                    "defaultVariant": "off"} for name, (doc, variants) in OTEL_DEMO_FLAGS.items()}
    core.write_file(root / layout.FLAGS_FILE,
                    json.dumps({"$schema": "https://flagd.dev/schema/v0/flags.json",
                                "flags": flags}, indent=2) + "\n")
    (root / layout.CHAOS_DIR).mkdir(parents=True, exist_ok=True)
