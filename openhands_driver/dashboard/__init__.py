"""The web dashboard: live executions, one execution, history, benchmark and fan-out runs,
scorecard and leaderboard with plots. Served by the intake (``scripts/serve.py``) over its SQLite
audit, or read-only by ``scripts/dashboard.py`` over a trace log and result files.

- ``app.py``: the Flask blueprint (pages, JSON for live updates, approvals) and the standalone app;
- ``auth.py``: sign-in with the intake token, signed HttpOnly SameSite=Strict session, CSRF;
- ``sources.py``: where the data comes from (``IntakeSource``, ``TraceSource``);
- ``views.py``: an execution or a trace row -> the records the templates show;
- ``links.py``: ``--trace-url-template`` (``{run_id}``, ``{incident_id}``, ``{trace_id}``).
"""
