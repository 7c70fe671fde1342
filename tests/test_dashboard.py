"""The web dashboard through Flask's test client: sign-in, session cookie, CSRF, every page over the
golden trace log, plots, and approvals of pending commands through a real intake service (its
SQLite audit, a runner that pauses at the confirmation gate like a worker does).

Browser tests (real Chromium) are in test_dashboard_browser.py.
"""

from __future__ import annotations

import re
import tempfile
import time
import unittest
from pathlib import Path

from openhands_driver.dashboard.app import create_app
from openhands_driver.dashboard.links import check_template, trace_url
from openhands_driver.dashboard.sources import TraceSource
from openhands_driver.errors import UserError
from openhands_driver.gates import APPROVE, Proposal
from openhands_driver.intake import approvals
from openhands_driver.intake.api import create_app as create_intake_app
from openhands_driver.intake.config import IntakeConfig
from openhands_driver.intake.service import IntakeService
from openhands_driver.intake.testing import FakeRunner
from openhands_driver.security import RiskAssessment

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "trace_log_v1.jsonl"
TOKEN = "dashboard-test-token-0123456789"
PNG = b"\x89PNG\r\n\x1a\n"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def wait_for(predicate, timeout_s: float = 15.0, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s")


def sign_in(test: unittest.TestCase, client, token: str = TOKEN):
    page = client.get("/login")
    test.assertEqual(page.status_code, 200)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    return client.post("/login", data={"token": token, "csrf_token": csrf, "next": "/"})


def csrf_of(client, path: str = "/") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


class TraceDashboardTest(unittest.TestCase):
    def setUp(self):
        self.app = create_app(TraceSource(FIXTURE, [], "https://lmnr.example/traces/{run_id}"), token=TOKEN)
        self.client = self.app.test_client()

    def test_nothing_visible_without_signing_in(self):
        for path in ("/", "/ui/history", "/ui/runs", "/ui/reports", "/ui/executions/fx-skill-stale-1",
                     "/ui/trace/fx-skill-stale-1", "/ui/plots/skill/steps.png"):
            response = self.client.get(path)
            self.assertEqual(response.status_code, 302, path)
            self.assertIn("/login", response.headers["Location"])
            self.assertNotIn(b"remediate", response.data)
        self.assertEqual(self.client.get("/ui/live.json").status_code, 401)
        self.assertEqual(self.client.get("/healthz").status_code, 200)

    def test_sign_in_sets_a_strict_httponly_session_and_needs_csrf(self):
        page = self.client.get("/login")
        csrf = CSRF.search(page.get_data(as_text=True)).group(1)
        refused = self.client.post("/login", data={"token": TOKEN})  # no CSRF token
        self.assertEqual(refused.status_code, 403)
        wrong = self.client.post("/login", data={"token": "not-the-token-at-all", "csrf_token": csrf})
        self.assertEqual(wrong.status_code, 401)
        self.assertEqual(self.client.get("/").status_code, 302)
        ok = self.client.post("/login", data={"token": TOKEN, "csrf_token": csrf, "next": "//evil.example/x"})
        self.assertEqual(ok.status_code, 302)
        self.assertEqual(ok.headers["Location"], "/")  # never off-site after sign-in
        cookie = ok.headers["Set-Cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertNotIn(TOKEN, cookie)
        self.assertEqual(self.client.get("/").status_code, 200)
        # sign-out needs CSRF too, and ends the session
        self.assertEqual(self.client.post("/logout").status_code, 403)
        self.assertEqual(self.client.post("/logout", data={"csrf_token": csrf_of(self.client)}).status_code, 302)
        self.assertEqual(self.client.get("/").status_code, 302)

    def test_a_session_of_another_token_is_refused(self):
        other = create_app(TraceSource(FIXTURE, []), token="another-token-0123456789abc").test_client()
        sign_in(self, other, "another-token-0123456789abc")
        cookie = other.get_cookie("sre_dashboard")
        self.client.set_cookie("sre_dashboard", cookie.value)
        self.assertEqual(self.client.get("/").status_code, 302)

    def test_pages_over_the_golden_trace(self):
        sign_in(self, self.client)
        live = self.client.get("/ui/live.json").get_json()
        self.assertEqual(live["active"], [])
        self.assertEqual(live["recent"][0]["id"], "fx-interrupted-1")  # newest first
        page = self.client.get("/ui/executions/fx-skill-stale-1").get_data(as_text=True)
        for text in ("python3 .agents/skills/stale-lockfile/remediate.py", "MEDIUM", "allowed", "remediate",
                     "skill stale-lockfile", "https://lmnr.example/traces/fx-skill-stale-1", "Verifier probes"):
            self.assertIn(text, page)
        history = self.client.get("/ui/history?status=not_fixed").get_data(as_text=True)
        self.assertIn("fx-skill-stale-3", history)
        self.assertNotIn("fx-skill-stale-1<", history)
        reports = self.client.get("/ui/reports").get_data(as_text=True)
        self.assertIn("stale-lockfile", reports)
        self.assertIn("baseline", reports)
        self.assertIn("fx-baseline-port-1", self.client.get("/ui/trace/fx-baseline-port-1").get_data(as_text=True))
        self.assertEqual(self.client.get("/ui/executions/nope").status_code, 404)
        for page in ("/", "/ui/history", "/ui/reports", "/ui/runs", "/ui/executions/fx-skill-stale-1"):
            self.assertNotIn(TOKEN, self.client.get(page).get_data(as_text=True), page)

    def test_a_run_that_started_and_has_no_final_row_is_live(self):
        import json

        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "trace.jsonl"
            started = {"schema_version": 1, "run_id": "r-live", "status": "started", "scenario": "port_mismatch",
                       "started_at": "2026-11-29T10:00:00+00:00", "actions": []}
            done = {**started, "run_id": "r-done", "status": "fixed", "finished_at": "2026-11-29T10:00:09+00:00",
                    "duration_s": 9.0, "service_up": True}
            log.write_text(json.dumps(started) + "\n" + json.dumps({**done, "status": "started"}) + "\n"
                           + json.dumps(done) + "\n")
            client = create_app(TraceSource(log, []), token=TOKEN).test_client()
            sign_in(self, client)
            live = client.get("/ui/live.json").get_json()
            self.assertEqual([r["id"] for r in live["active"]], ["r-live"])
            self.assertEqual([r["id"] for r in live["recent"]], ["r-done"])
            self.assertEqual(live["recent"][0]["elapsed_s"], 9.0)

    def test_plots_are_images(self):
        sign_in(self, self.client)
        png = self.client.get("/ui/plots/skill/mttr.png")
        self.assertEqual(png.status_code, 200)
        self.assertEqual(png.mimetype, "image/png")
        self.assertTrue(png.data.startswith(PNG))
        svg = self.client.get("/ui/plots/approach/success.svg")
        self.assertEqual(svg.mimetype, "image/svg+xml")
        self.assertIn(b"<svg", svg.data[:500])
        self.assertEqual(self.client.get("/ui/plots/skill/pie.png").status_code, 404)

    def test_read_only_source_refuses_approvals(self):
        sign_in(self, self.client)
        response = self.client.post("/ui/approvals/1", data={"verdict": "approve",
                                                             "csrf_token": csrf_of(self.client)})
        self.assertEqual(response.status_code, 403)

    def test_result_files_are_listed_and_shown(self):
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "bench.json"
            rows = [{"scenario_id": "stale_lockfile", "status": "fixed", "resolved": True, "service_up": True,
                     "step_count": 9, "duration_s": 8.0, "mttr_s": 6.0, "run_id": "fx-skill-stale-1",
                     "ground_truth": {"fault_class": "stale_lockfile"}, "variant_seed": 3}]
            import json

            report.write_text(json.dumps({"kind": "bench_blind", "summary": {
                "runs": 1, "mitigation_pass_at_1": 1.0, "by_fault": {"stale_lockfile": {
                    "runs": 1, "diagnosis_pass_at_1": 1.0, "mitigation_pass_at_1": 1.0, "mttd_p50_s": 3.0,
                    "mttr_p50_s": 6.0, "mttr_p95_s": 6.0, "mean_steps": 9, "collateral_incidents": 0}}},
                "rows": rows}))
            (Path(tmp) / "other.json").write_text('{"not": "a report"}')
            client = create_app(TraceSource(FIXTURE, [Path(tmp)]), token=TOKEN).test_client()
            sign_in(self, client)
            listing = client.get("/ui/runs").get_data(as_text=True)
            self.assertIn("bench.json", listing)
            self.assertNotIn("other.json", listing)
            view = client.get("/ui/runs/view", query_string={"file": str(report)}).get_data(as_text=True)
            self.assertIn("stale_lockfile", view)
            self.assertIn("/ui/trace/fx-skill-stale-1", view)
            image = client.get("/ui/plots/file/steps.png", query_string={"file": str(report)})
            self.assertTrue(image.data.startswith(PNG))
            # only listed files: no path outside the result paths
            self.assertEqual(client.get("/ui/runs/view", query_string={"file": "/etc/passwd"}).status_code, 404)


class StandaloneScriptTest(unittest.TestCase):
    def test_refuses_to_serve_without_a_token_or_a_trace_log(self):
        import os
        import subprocess
        import sys

        env = {k: v for k, v in os.environ.items() if k not in ("SRE_DASHBOARD_TOKEN", "SRE_INTAKE_TOKEN")}
        script = str(REPO / "scripts" / "dashboard.py")
        proc = subprocess.run([sys.executable, script, "--trace-log", str(FIXTURE), "--port", "0"], env=env,
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("SRE_DASHBOARD_TOKEN", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        proc = subprocess.run([sys.executable, script, "--trace-log", "/nonexistent/trace.jsonl", "--port", "0"],
                              env={**env, "SRE_DASHBOARD_TOKEN": TOKEN}, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("no trace log at /nonexistent/trace.jsonl", proc.stderr)


class LinksTest(unittest.TestCase):
    def test_template_fields(self):
        self.assertEqual(trace_url("https://x/{trace_id}?r={run_id}", run_id="a b", trace_id="t1"),
                         "https://x/t1?r=a%20b")
        self.assertIsNone(trace_url("https://x/{trace_id}", run_id="a"))  # the field it needs is unknown
        self.assertIsNone(trace_url(None, run_id="a"))
        with self.assertRaises(UserError):
            check_template("https://x/{secret}")
        with self.assertRaises(UserError):
            check_template("ftp://x/{run_id}")

    def test_the_intake_refuses_a_bad_template_or_risk_before_it_starts(self):
        with self.assertRaises(UserError):
            IntakeConfig(token=TOKEN, trace_url_template="https://x/{secret}").validate()
        with self.assertRaises(UserError):
            IntakeConfig(token=TOKEN, confirm_risk="CRITICAL").validate()


class PausingRunner(FakeRunner):
    """Pauses every run at the confirmation gate exactly like a worker: DbApprover on the intake's db."""

    def __init__(self):
        super().__init__()
        self.decisions = []
        self.sidecars = []

    def __call__(self, request):
        from openhands_driver.runrecord import _write_sidecar, sidecar_path

        # the runner's checkpoint of the actions so far, as run_incident writes it
        sidecar = sidecar_path(request.config.run_id)
        _write_sidecar(sidecar, {"run_id": request.config.run_id, "actions": [
            {"tool": "terminal", "command": "python3 .agents/skills/x/diagnose.py", "risk": "LOW", "exit_code": 0,
             "duration_s": 0.4, "summary": "diagnose", "gate": "allowed"},
            {"tool": "terminal", "command": "python3 .agents/skills/x/remediate.py", "risk": "MEDIUM",
             "exit_code": None, "duration_s": None, "summary": "remediate", "gate": "allowed"}]})
        self.sidecars.append(sidecar)
        approver = approvals.DbApprover(request.lease.db, request.execution_id, request.approval_timeout_s,
                                        poll_s=0.05)
        proposal = Proposal("call-1", "terminal", "python3 .agents/skills/x/remediate.py",
                            RiskAssessment("MEDIUM", ("changes the target",)), "MEDIUM", "MEDIUM")
        decision = approver(proposal)
        self.decisions.append(decision)
        self.outcome = "fixed" if decision.verdict == APPROVE else "failed"
        return super().__call__(request)


class IntakeDashboardTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="dashboard-test-")
        self.addCleanup(self._tmp.cleanup)
        tmp = Path(self._tmp.name)
        self.runner = PausingRunner()
        config = IntakeConfig(port=0, db=tmp / "intake.db", token=TOKEN, demo_targets=True,
                              trace_log=tmp / "trace.jsonl", shutdown_deadline_s=2.0, cancel_grace_s=2.0,
                              confirm_risk="MEDIUM", approval_timeout_s=20, results=())
        self.service = IntakeService(config, runner=self.runner).start()
        self.addCleanup(self.service.stop, 2.0, 2.0)
        self.addCleanup(lambda: [p.unlink(missing_ok=True) for p in self.runner.sidecars])
        self.client = create_intake_app(self.service).test_client()

    def alert(self) -> str:
        response = self.client.post("/webhook/generic", json={
            "title": "checkout lock", "service": "checkout", "priority": "P1", "scenario": "stale_lockfile"},
            headers={"Authorization": f"Bearer {TOKEN}"})
        self.assertEqual(response.status_code, 202, response.get_json())
        return response.get_json()["execution_id"]

    def test_no_secret_value_is_rendered(self):
        response = self.client.post("/webhook/generic", json={
            "title": "db auth", "service": "db", "priority": "P2", "scenario": "stale_lockfile",
            "text": f"client sent Authorization: Bearer abcdefghijklmnop123 and {TOKEN}",
            "labels": {"api_key": "sk-live-0123456789"}}, headers={"Authorization": f"Bearer {TOKEN}"})
        execution_id = response.get_json()["execution_id"]
        sign_in(self, self.client)
        page = self.client.get(f"/ui/executions/{execution_id}").get_data(as_text=True)
        self.assertIn("client sent Authorization", page)
        for secret in (TOKEN, "abcdefghijklmnop123", "sk-live-0123456789"):
            self.assertNotIn(secret, page)

    def test_the_api_keeps_its_bearer_token_and_the_dashboard_its_session(self):
        self.assertEqual(self.client.get("/executions").status_code, 401)
        self.assertEqual(self.client.get("/").status_code, 302)
        sign_in(self, self.client)
        self.assertEqual(self.client.get("/").status_code, 200)
        self.assertEqual(self.client.get("/executions").status_code, 401)  # a session is not a bearer token

    def test_approve_a_pending_command_from_the_page(self):
        execution_id = self.alert()
        sign_in(self, self.client)

        def pending():
            live = self.client.get("/ui/live.json").get_json()
            return [r for r in live["active"] if r["id"] == execution_id and r["pending"] == 1]

        row = wait_for(pending)[0]
        self.assertEqual(row["phase"], "awaiting approval")
        self.assertEqual(row["status"], "running")
        page = self.client.get(f"/ui/executions/{execution_id}").get_data(as_text=True)
        self.assertIn("python3 .agents/skills/x/remediate.py", page)
        self.assertIn('value="approve"', page)
        self.assertIn("python3 .agents/skills/x/diagnose.py", page)  # the actions so far, while it runs
        self.assertIn("awaiting approval</td>", page.replace("\n", "").replace("    ", ""))
        approval_id = approvals.listing(self.service.store.path, execution_id=execution_id)[0]["id"]
        # no CSRF token: refused, still pending
        self.assertEqual(self.client.post(f"/ui/approvals/{approval_id}", data={"verdict": "approve"}).status_code,
                         403)
        self.assertEqual(approvals.listing(self.service.store.path)[0]["state"], "pending")
        csrf = csrf_of(self.client, f"/ui/executions/{execution_id}")
        done = self.client.post(f"/ui/approvals/{approval_id}", data={
            "verdict": "approve", "csrf_token": csrf, "back": f"/ui/executions/{execution_id}"})
        self.assertEqual(done.status_code, 302)
        wait_for(lambda: self.service.store.execution(execution_id)["status"] == "fixed")
        self.assertEqual(self.runner.decisions[0].verdict, APPROVE)
        self.assertIn("dashboard operator", self.runner.decisions[0].reason)
        again = self.client.post(f"/ui/approvals/{approval_id}", data={"verdict": "reject", "csrf_token": csrf})
        self.assertEqual(again.status_code, 409)
        notes = [e["detail"] for e in self.service.store.execution(execution_id)["timeline"] if e["name"] == "approval"]
        self.assertTrue(any(n.startswith("waiting for an operator") for n in notes), notes)
        self.assertTrue(any(n.startswith("approved by dashboard operator") for n in notes), notes)
        page = self.client.get(f"/ui/executions/{execution_id}").get_data(as_text=True)
        self.assertIn("approved by dashboard operator", page)
        self.assertNotIn('value="approve"', page)


    def test_role_tokens_sign_in_and_only_an_operator_acts(self):
        """With role tokens only (no single admin token) nothing is open; a viewer sees the pages
        but may not approve; an operator may."""
        from openhands_driver.intake import roles

        tmp = Path(self._tmp.name)
        tokens = tmp / "tokens.json"
        viewer, operator = roles.add_token(tokens, "vera", "viewer"), roles.add_token(tokens, "otto", "operator")
        config = IntakeConfig(port=0, db=tmp / "roles.db", tokens_file=tokens, demo_targets=True,
                              trace_log=tmp / "roles-trace.jsonl", shutdown_deadline_s=2.0, cancel_grace_s=2.0,
                              confirm_risk="MEDIUM", approval_timeout_s=20, results=())
        runner = PausingRunner()
        service = IntakeService(config, runner=runner).start()
        self.addCleanup(service.stop, 2.0, 2.0)
        self.addCleanup(lambda: [p.unlink(missing_ok=True) for p in runner.sidecars])
        app = create_intake_app(service)
        response = app.test_client().post("/webhook/generic", json={
            "title": "checkout lock", "service": "checkout", "priority": "P1", "scenario": "stale_lockfile"},
            headers={"Authorization": f"Bearer {operator}"})
        execution_id = response.get_json()["execution_id"]
        anonymous = app.test_client()
        self.assertEqual(anonymous.get("/").status_code, 302)  # not open: sign in first
        self.assertEqual(sign_in(self, anonymous, "not-a-token").status_code, 401)
        watcher = app.test_client()
        sign_in(self, watcher, viewer)
        self.assertEqual(watcher.get("/").status_code, 200)
        wait_for(lambda: approvals.listing(service.store.path, execution_id=execution_id))
        approval_id = approvals.listing(service.store.path, execution_id=execution_id)[0]["id"]
        csrf = csrf_of(watcher, f"/ui/executions/{execution_id}")
        refused = watcher.post(f"/ui/approvals/{approval_id}", data={"verdict": "approve", "csrf_token": csrf})
        self.assertEqual(refused.status_code, 403)
        self.assertIn("operator role", refused.get_data(as_text=True))
        self.assertEqual(approvals.listing(service.store.path)[0]["state"], "pending")
        acting = app.test_client()
        sign_in(self, acting, operator)
        csrf = csrf_of(acting, f"/ui/executions/{execution_id}")
        done = acting.post(f"/ui/approvals/{approval_id}", data={"verdict": "approve", "csrf_token": csrf})
        self.assertEqual(done.status_code, 302)
        wait_for(lambda: service.store.execution(execution_id)["status"] == "fixed")

    def test_start_a_simulated_fanout_from_the_page(self):
        sign_in(self, self.client)
        csrf = csrf_of(self.client, "/ui/runs")
        bad = self.client.post("/ui/runs/start", data={"csrf_token": csrf, "kind": "fanout",
                                                      "scenarios": "stale_lockfile; rm -rf /", "concurrency": "2"})
        self.assertEqual(bad.status_code, 400)
        self.assertIn("not a scenario or fault class name", bad.get_data(as_text=True))
        self.assertEqual(self.client.post("/ui/runs/start", data={"kind": "fanout", "scenarios": "x"}).status_code, 403)
        started = self.client.post("/ui/runs/start", data={
            "csrf_token": csrf, "kind": "fanout", "scenarios": "stale_lockfile,port_mismatch",
            "concurrency": "2", "simulate": "on"})
        self.assertEqual(started.status_code, 302)
        job = wait_for(lambda: [j for j in self.client.get("/ui/runs/jobs.json").get_json()["jobs"]
                                if not j["running"]], timeout_s=60)[0]
        self.assertEqual(job["status"], "done", job["log_tail"])
        self.assertTrue(job["has_output"])
        listing = self.client.get("/ui/runs").get_data(as_text=True)
        self.assertIn(Path(job["output"]).name, listing)
        view = self.client.get("/ui/runs/view", query_string={"file": job["output"]}).get_data(as_text=True)
        self.assertIn("port_mismatch", view)


class JobRequestTest(unittest.TestCase):
    def test_form_values_become_an_argv_list(self):
        from openhands_driver.dashboard.jobs import JobError, JobRequest

        request = JobRequest.from_form({"kind": "bench_blind", "scenarios": "stale_lockfile", "seeds": "1-3",
                                        "concurrency": "3"})
        args = request.script_args(Path("/tmp/out.json"))
        self.assertEqual(args[:4], ["--seeds", "1-3", "--concurrency", "3"])
        self.assertIn("--faults", args)
        for form, why in (({"kind": "shell"}, "unknown run kind"),
                          ({"kind": "fanout", "scenarios": ""}, "name the incidents"),
                          ({"kind": "fanout", "scenarios": "a", "concurrency": "99"}, "concurrency must be"),
                          ({"kind": "fanout", "scenarios": "a", "seeds": "1-2"}, "tick blind"),
                          ({"kind": "bench_blind", "seeds": "1-2", "simulate": "on"}, "no dry run"),
                          ({"kind": "fanout", "scenarios": "$(id)"}, "not a scenario")):
            with self.assertRaises(JobError) as caught:
                JobRequest.from_form(form)
            self.assertIn(why, str(caught.exception))


class JobWatchdogTest(unittest.TestCase):
    def test_a_job_whose_service_is_gone_stops(self):
        """The job's parent is not the pid it was given (the service is gone): it SIGTERMs itself."""
        import subprocess
        import sys

        with tempfile.TemporaryDirectory() as tmp:
            output = Path(tmp) / "out.json"
            proc = subprocess.Popen(
                [sys.executable, "-m", "openhands_driver.dashboard.jobs", "--parent", "1", "--script",
                 "scripts/fanout_itbench.py", "--", "--training-data", str(REPO / "training_data" / "scenarios.json"),
                 "--scenarios", "stale_lockfile", "--concurrency", "1", "--trace-log", str(Path(tmp) / "t.jsonl"),
                 "--log-dir", tmp, "--output", str(output)],
                cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                code = proc.wait(120)
            finally:
                if proc.poll() is None:
                    import os
                    import signal

                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(10)
            self.assertIn(code, (-15, 130), "the job should stop on its watchdog's SIGTERM")
            self.assertFalse(output.exists() and '"fixed": 1' in output.read_text())


if __name__ == "__main__":
    unittest.main()
