"""Which incidents a fan-out runs: a seeded sample (batch) or seeded Poisson arrivals (continuous).

Both are reproducible: the same training data, seed and options give the same incident list and
the same arrival times.
"""

from __future__ import annotations

import random

from openhands_driver.errors import UserError
from openhands_driver.fanout.records import FanoutConfig, Incident
from openhands_driver.scenarios import Catalog, load_catalog


def batch(config: FanoutConfig, catalog: Catalog | None = None) -> list[Incident]:
    """Every incident arrives at t=0: the explicit ``scenario_ids`` or a seeded sample."""
    catalog = catalog or load_catalog(config.run.training_data)
    if config.scenario_ids and config.variant_seeds is not None:  # every scenario x every seed
        pairs = [(catalog.get(sid), seed) for sid in config.scenario_ids for seed in config.variant_seeds]
        return [Incident(i, scenario, 0.0, seed) for i, (scenario, seed) in enumerate(pairs)]
    if config.scenario_ids:
        return [Incident(i, catalog.get(sid), 0.0, _seed(config, i))
                for i, sid in enumerate(config.scenario_ids)]
    pool = list(catalog.scenarios)
    if config.incidents is not None:  # N incidents: a seeded order of the runnable ones, cycled
        if config.incidents < 1:
            raise UserError(f"--incidents must be >= 1 (got {config.incidents})")
        runnable = [s for s in pool if s.runnable] or pool
        order = list(runnable)
        random.Random(config.seed).shuffle(order)
        return [Incident(i, order[i % len(order)], 0.0, _seed(config, i)) for i in range(config.incidents)]
    if config.sample_size is None or config.sample_size >= len(pool):
        chosen = pool
    else:
        if config.sample_size < 1:
            raise UserError(f"--sample-size must be >= 1 (got {config.sample_size})")
        chosen = random.Random(config.seed).sample(pool, config.sample_size)
    return [Incident(i, scenario, 0.0, _seed(config, i)) for i, scenario in enumerate(chosen)]


def _seed(config: FanoutConfig, index: int) -> int | None:
    """Blind runs without an explicit seed list: a reproducible seed per incident."""
    return config.seed * 1000 + index if config.run.blind else None


def arrivals(config: FanoutConfig, catalog: Catalog | None = None) -> list[Incident]:
    """Continuous intake: a Poisson process of ``arrival_rate`` incidents per minute for
    ``duration_s`` seconds; each arrival is drawn (with replacement) from the sample pool."""
    if config.arrival_rate <= 0 or config.duration_s <= 0:
        raise UserError("--continuous needs --arrival-rate > 0 (incidents per minute) and --duration-s > 0")
    pool = [incident.scenario for incident in batch(config, catalog)]
    rng = random.Random(config.seed)
    rate_per_s = config.arrival_rate / 60.0
    incidents: list[Incident] = []
    clock = rng.expovariate(rate_per_s)
    while clock < config.duration_s:
        index = len(incidents)
        incidents.append(Incident(index, rng.choice(pool), round(clock, 3), _seed(config, index)))
        clock += rng.expovariate(rate_per_s)
    if not incidents:
        import sys

        print(f"note: no incident arrived in {config.duration_s:g}s at {config.arrival_rate:g} per minute "
              f"(expected {rate_per_s * config.duration_s:.1f}; seed {config.seed}); raise --duration-s or "
              "--arrival-rate", file=sys.stderr)
    return incidents


def incidents_for(config: FanoutConfig, catalog: Catalog | None = None) -> list[Incident]:
    return arrivals(config, catalog) if config.continuous else batch(config, catalog)
