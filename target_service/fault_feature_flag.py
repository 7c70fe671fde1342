"""Fault class feature_flag: a failure/performance flag of the service was switched on.

The service evaluates flagd flags from the sources listed in etc/service.json (`flag_sources`,
re-read per request, app_traffic.py). Flags the code wires to a failure or performance mode
(OpenTelemetry Demo names such as cartFailure, imageSlowLoad, and the same naming scheme) make
requests fail (HTTP 500) or stall past the probe timeout while they evaluate to a truthy variant;
product flags have no effect on health. The fix: turn that one flag off (`defaultVariant: off`
or `state: DISABLED`); no restart is needed, and restarting alone never helps.

Decoys: a second flag source (UI experiments) with a flag that is ON and must stay on (a careless
"turn every flag off" breaks the product), and the similar failure flags beside the culprit, which
are off and must stay defined.

Variants (by seed): which flag (OpenTelemetry Demo failure flags, or a generated name following
their scheme, {svc} = the service's name) and its variant, where the main flag source lives, where
the experiments source lives, and which experiment flag is on. Older params (ITBench: flag,
variant) still work; the rest falls back to defaults.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, List, Mapping

if __package__:  # imported as target_service.fault_feature_flag (the runner, the tests)
    from . import faults_core as core, root_layout as layout
    from .app_traffic import evaluate
    from .faults_traffic import OTEL_DEMO_FLAGS
else:  # run flat: python faults.py, or /app in the container
    import faults_core as core
    import root_layout as layout
    from app_traffic import evaluate
    from faults_traffic import OTEL_DEMO_FLAGS

_ON_OFF = {"on": True, "off": False}
# (flag, variant) an incident can turn on: OpenTelemetry Demo flags, and generated names.
OTEL_CHOICES = (("adFailure", "on"), ("cartFailure", "on"), ("paymentFailure", "100%"),
                ("paymentFailure", "50%"), ("paymentUnreachable", "on"),
                ("productCatalogFailure", "on"), ("recommendationCacheFailure", "on"),
                ("imageSlowLoad", "10sec"), ("imageSlowLoad", "5sec"), ("adHighCpu", "on"),
                ("kafkaQueueProblems", "on"), ("emailMemoryLeak", "100x"),
                ("loadGeneratorFloodHomepage", "on"))
GENERATED = {  # name pattern -> (description, variants, variant turned on)
    "{svc}Failure": ("Fail {svc} requests", _ON_OFF, "on"),
    "{svc}Unreachable": ("{svc} upstream is unreachable", _ON_OFF, "on"),
    "{svc}DbWriteFailure": ("Fail {svc} database writes", _ON_OFF, "on"),
    "{svc}CacheOutage": ("{svc} cache returns errors", _ON_OFF, "on"),
    "{svc}SlowResponses": ("Delay {svc} responses", {"off": 0, "3000ms": 3000, "8000ms": 8000},
                           "8000ms"),
}
FLAG_FILES = ("etc/flags.json", "etc/flagd/demo.flagd.json", "etc/flagd/{svc}.flagd.json",
              "etc/{svc}/flags.json", "srv/flagd/flags.json")
EXPERIMENT_FILES = ("etc/flagd/experiments.flagd.json", "etc/flags.d/ui-experiments.json",
                    "etc/{svc}/experiments.flagd.json", "srv/flagd/experiments.json")
EXPERIMENT_FLAGS = ("newCheckoutUi", "darkModeBanner", "productCarouselV2", "expressShippingOption",
                    "holidayTheme", "{svc}SearchRanking")
DEFAULT_EXPERIMENTS = "etc/flagd/experiments.flagd.json"
LATENCY_WORDS = ("slowload", "slowresponses", "highcpu", "manualgc")


def _camel_svc(svc: str) -> str:
    parts = [p for p in svc.replace("_", "-").split("-") if p]
    return (parts[0] + "".join(p.title() for p in parts[1:])) if parts else "service"


@core.register_class
class FeatureFlag(core.FaultClass):
    name = "feature_flag"

    def generate(self, rng: random.Random) -> Dict[str, Any]:
        if rng.random() < 0.55:
            flag, variant = rng.choice(OTEL_CHOICES)
        else:
            flag = rng.choice(sorted(GENERATED))
            variant = GENERATED[flag][2]
        decoy = rng.choice(EXPERIMENT_FLAGS)
        return {"flag": flag, "variant": variant, "flags_file": rng.choice(FLAG_FILES),
                "experiments_file": rng.choice(EXPERIMENT_FILES), "decoy_flag": decoy,
                "decoy_variant": rng.choice(("on", "enabled", "v2"))}

    @staticmethod
    def _p(params: Mapping[str, Any]) -> Dict[str, Any]:
        svc = str(params.get("service") or "checkout")

        def sub(value: str) -> str:
            return value.replace("{svc}", _camel_svc(svc) if not value.startswith(("etc/", "srv/"))
                                 else svc)

        flag_pattern = str(params.get("flag") or "adFailure")
        flags_file = sub(str(params.get("flags_file") or layout.FLAGS_FILE))
        experiments = sub(str(params.get("experiments_file") or DEFAULT_EXPERIMENTS))
        if experiments == flags_file:
            experiments = DEFAULT_EXPERIMENTS if flags_file != DEFAULT_EXPERIMENTS else "etc/flags.d/ui.json"
        return {"svc": svc, "flag": sub(flag_pattern), "pattern": flag_pattern,
                "variant": str(params.get("variant") or "on"), "flags_file": flags_file,
                "experiments_file": experiments,
                "decoy_flag": sub(str(params.get("decoy_flag") or "newCheckoutUi")),
                "decoy_variant": str(params.get("decoy_variant") or "on")}

    def inject(self, ctx: core.FaultContext) -> None:
        p = self._p(ctx.params)
        healthy = ctx.root / layout.FLAGS_FILE
        placed = ctx.root / p["flags_file"]
        # a second flag of the same incident goes into the flags an earlier one already placed
        config = core.read_json(placed if placed.is_file() else healthy)
        if p["flags_file"] != layout.FLAGS_FILE and healthy.exists():  # the flags live elsewhere
            healthy.unlink()
        flags = config["flags"]
        if p["flag"] not in flags:
            doc, variants, _on = GENERATED.get(p["pattern"], ("Fail %s" % p["flag"], _ON_OFF, "on"))
            flags[p["flag"]] = {"description": doc.replace("{svc}", p["svc"]), "state": "ENABLED",
                                "variants": dict(variants), "defaultVariant": "off"}
        flag, variant = flags[p["flag"]], p["variant"]
        if not flag["variants"].get(variant):  # a state the flag does not define (or "off")
            on = [key for key, value in flag["variants"].items() if value]
            variant = on[0] if on else variant
            flag["variants"].setdefault(variant, True)
        flag["defaultVariant"], flag["state"] = variant, "ENABLED"
        core.write_json(ctx.root / p["flags_file"], config)
        decoy_variants = {p["decoy_variant"]: True, "off": False}
        core.write_json(ctx.root / p["experiments_file"], {
            "$schema": "https://flagd.dev/schema/v0/flags.json",
            "flags": {
                p["decoy_flag"]: {"description": "Product experiment: rolled out to all users",
                                  "state": "ENABLED", "variants": decoy_variants,
                                  "defaultVariant": p["decoy_variant"]},
                "betaReviewsPanel": {"description": "Product experiment: not started",
                                     "state": "ENABLED", "variants": dict(_ON_OFF),
                                     "defaultVariant": "off"}}})
        service = core.read_service_json(ctx.root)
        service["flag_sources"] = [p["flags_file"], p["experiments_file"]]
        core.write_service_json(ctx.root, service)

    def symptom(self, params: Mapping[str, Any]) -> str:
        name = self._p(params)["flag"].lower()
        return "latency" if any(word in name for word in LATENCY_WORDS) else "http_5xx"

    def entity(self, params: Mapping[str, Any]) -> str:
        return self._p(params)["flag"]

    def decoys(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["experiments_file"]]

    def may_change(self, params: Mapping[str, Any]) -> List[str]:
        return [self._p(params)["flags_file"]]

    def oracle(self, root: Path, params: Mapping[str, Any]) -> List[core.Check]:
        p = self._p(params)
        service = core.service_json_or_empty(root)
        sources = service.get("flag_sources") if isinstance(service, dict) else None
        sources = sources if isinstance(sources, list) else []
        try:
            flags = core.read_json(root / p["flags_file"]).get("flags") or {}
        except (OSError, ValueError, AttributeError) as exc:
            flags, error = {}, str(exc)
        else:
            error = ""
        on, variant, _value = evaluate(flags.get(p["flag"]))
        expected = set(OTEL_DEMO_FLAGS) | {p["flag"]}
        missing = sorted(expected - set(flags))
        try:
            decoy = (core.read_json(root / p["experiments_file"]).get("flags") or {}).get(p["decoy_flag"])
        except (OSError, ValueError, AttributeError):
            decoy = None
        decoy_on, decoy_variant, _ = evaluate(decoy)
        return [
            core.Check("the service still reads its flag sources",
                       p["flags_file"] in sources and p["experiments_file"] in sources,
                       "flag_sources in %s: %s" % (layout.SERVICE_JSON, sources)),
            core.Check("flag %s is defined and evaluates off" % p["flag"],
                       p["flag"] in flags and not on,
                       "%s: %s" % (p["flags_file"], error or ("missing" if p["flag"] not in flags
                                                              else "variant %r" % variant))),
            core.Check("the other flags of %s are still defined" % p["flags_file"], not missing,
                       "missing: %s" % (", ".join(missing) or "none")),
            core.Check("product flag %s is still on" % p["decoy_flag"], decoy_on,
                       "%s: %s" % (p["experiments_file"], "missing" if decoy is None
                                   else "variant %r" % decoy_variant)),
        ]
