"""The optimizer lane: strategy texts improved from real runs and their traces.

Pipeline: seed strategy (a triage runbook) -> real incident runs (``evaluation``) -> trace evidence
(``mining``) -> new candidate texts (``proposer``, or a reflection LM) -> search (``gepa_search`` with
the real ``gepa.optimize``, or the ``iterative`` baseline) -> a result file (``result``) that
``run_demo.py --strategy-source optimizer`` reads.

Importing this package is cheap: no SDK, no gepa. Those load only when an optimization runs.
"""
