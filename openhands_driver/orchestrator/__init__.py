"""The orchestrator: incidents fanned out to OpenHands agent-server workers, each target on its worker.
"""
