"""The orchestrator: incidents fanned out to OpenHands agent-server workers, each target on its worker.

    from openhands_driver.orchestrator.engine import OrchestratorConfig, run_orchestrated
    report = run_orchestrated(OrchestratorConfig(fanout=FanoutConfig(run=RunConfig(...)), workers=2))

- ``engine``     severity/load scheduling over the fan-out engine; the run, its report, the dry run
- ``workers``    worker containers on a bridge network of their own (labels, clean-up, memory), or
                 given URLs; the monitor that notices a dead worker
- ``agent_api``  the agent server's own APIs (health, bash, file upload) used to provision targets
- ``image``      the worker image, built offline (deploy/worker/Dockerfile)
- ``cli``        ``scripts/fanout_orchestrated_remote.py``'s flags
The target on a worker is the ``worker`` target backend (``openhands_driver/target/worker.py``).
Importing this package does not import the SDK or docker.
"""
