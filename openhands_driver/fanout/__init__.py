"""Fan-out: many incidents at once, in one process, each isolated; batch or continuous intake.

    from openhands_driver.fanout import FanoutConfig, run_fanout, simulate
    report = run_fanout(FanoutConfig(run=RunConfig(training_data=...), sample_size=6, concurrency=3))

- ``records``  FanoutConfig, Incident, FanoutRow, the summary (one definition of each figure)
- ``intake``   which incidents: seeded sample (batch) or seeded Poisson arrivals (continuous)
- ``engine``   the thread pool over ``runner.run_incident``; timeouts, Ctrl-C, per-incident logs
- ``simulate`` the dry-run proxy (routing and plans only, no SDK, no claims)
- ``cli``      the scripts' shared command line
Remote agent servers: ``openhands_driver.remote``; the live view: ``openhands_driver.progress``.
Importing this package does not import the SDK.
"""

from openhands_driver.fanout.records import FanoutConfig, FanoutRow, Incident, summarize


def run_fanout(config, **kw):
    from openhands_driver.fanout.engine import run_fanout as _run

    return _run(config, **kw)


def simulate(config):
    from openhands_driver.fanout.simulate import simulate as _simulate

    return _simulate(config)


__all__ = ["FanoutConfig", "FanoutRow", "Incident", "run_fanout", "simulate", "summarize"]
