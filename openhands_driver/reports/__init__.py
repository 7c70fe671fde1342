"""Reports over trace logs: per-skill leaderboards and approach scorecards.

Readers go through :func:`openhands_driver.trace.read_rows` (every schema version the project wrote)
and :mod:`.stats` (one definition of success rate, mean steps and percentiles). Rows with
``simulate: true`` are plans, not runs: they never count in success figures. Importing this package
is cheap (no SDK): only :func:`.scorecard.run_scorecard` starts real runs.
"""
