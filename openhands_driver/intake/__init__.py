"""The alert intake: webhooks in, deduplicated and prioritised runs out, an audit trail of each.

Pipeline (one module per noun):
    payloads  webhook body -> Incident (Alertmanager v4, GCP Monitoring 1.2, ServiceNow, generic)
    registry  Incident -> TargetPlan (attach to a registered service, demo target, or none)
    store     SQLite (WAL) audit trail: deliveries, alerts, executions, timeline, actions, escalations
    queue     dedupe, priority, per-service serialization, concurrency, TTL, gates, runs
    budget    per-incident and hourly token budgets
    workers   the real runner: run_incident in worker processes (cancellable, SDK imported there)
    phases    analyze -> hypothesize -> diagnose -> remediate -> verify -> finalize from a run
    escalation PagerDuty Events API v2 escalations, retried with backoff, never lost
    report    the markdown incident report of an execution
    api       the Flask app (endpoints); service: wiring, start/stop, serve()
    http_server  waitress in a thread (the production WSGI server)
    ops       the intake's own /ops/* routes; health: checks + composite status;
              metrics: the Prometheus registry; logs: JSON lines with trace ids, the error ring
    bench     webhook load, latency and the lost-nothing check (scripts/bench_intake.py)
    config    IntakeConfig, every flag of scripts/serve.py, every problem listed at start-up

Nothing here imports the OpenHands SDK: runs happen in worker processes.
"""
