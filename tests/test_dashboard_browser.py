"""The dashboard in a real browser: the distribution's Chromium (``apt-get install chromium``)
driven by Playwright (PyPI ``playwright``, dev dependency), headless.

- sign-in: pages are refused until the token is typed into the form; a wrong token is refused;
- plots load (every ``img.plot`` has ``naturalWidth > 0``);
- a real incident through the intake (``scripts/serve.py --demo-targets
  --require-confirmation-for-risk MEDIUM`` as a process, the runbook brain, a real local target):
  the live list shows it without a reload, its remediation waits for approval, the Approve button
  on its page lets it run, and the page then shows the command with its exit code and the fix;
  then a (simulated) fan-out started from the Runs page shows its progress and its report.

Screenshots go to ``artifacts/screenshots/`` (gitignored). Skips with the reason when Playwright or
Chromium is missing (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "trace_log_v1.jsonl"
SHOTS = REPO / "artifacts" / "screenshots"
TOKEN = "browser-test-token-0123456789abcdef"
RUN_TIMEOUT_S = 300


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None

SKIP = ("Playwright is not installed (uv sync installs the dev group)" if sync_playwright is None else
        "no Chromium (apt-get install chromium, or set CHROMIUM=/path)" if chromium_path() is None else None)


class BrowserCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if SKIP:
            raise unittest.SkipTest(SKIP)
        cls._pw = sync_playwright().start()
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium refuses its sandbox as root
        cls.browser = cls._pw.chromium.launch(executable_path=chromium_path(), args=args, headless=True)
        SHOTS.mkdir(parents=True, exist_ok=True)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls._pw.stop()

    def setUp(self):
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        self.addCleanup(self.context.close)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def sign_in(self, base: str, token: str = TOKEN) -> None:
        self.page.goto(base + "/")
        expect(self.page.locator("#token")).to_be_visible()
        self.page.fill("#token", token)
        self.page.click("#sign-in")


class StandaloneDashboardTest(BrowserCase):
    """scripts/dashboard.py's app over the golden trace log, served on 127.0.0.1."""

    def setUp(self):
        super().setUp()
        from werkzeug.serving import make_server

        from openhands_driver.dashboard.standalone import DashboardConfig, make_app

        config = DashboardConfig(trace_log=FIXTURE, results=[], port=0, token=TOKEN)
        self.server = make_server("127.0.0.1", 0, make_app(config.validate()), threaded=True)
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(self.server.shutdown)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def test_sign_in_is_required_and_plots_load(self):
        for path in ("/", "/ui/reports", "/ui/executions/fx-skill-stale-1"):
            self.page.goto(self.base + path)
            self.assertIn("/login", self.page.url, path)
            expect(self.page.locator("#token")).to_be_visible()
        self.assertEqual(self.page.context.request.get(self.base + "/ui/live.json").status, 401)
        self.page.fill("#token", "wrong-token-wrong-token")
        self.page.click("#sign-in")
        expect(self.page.locator("#login-error")).to_have_text("wrong token")
        self.shot("dashboard_sign_in_refused")
        self.page.fill("#token", TOKEN)
        self.page.click("#sign-in")
        # back on the page that asked for the sign-in
        self.assertTrue(self.page.url.endswith("/ui/executions/fx-skill-stale-1"), self.page.url)
        expect(self.page.locator("h1")).to_have_text("stale_lockfile")
        self.page.goto(self.base + "/")
        expect(self.page.locator("h1")).to_have_text("Live executions")
        cookie = next(c for c in self.context.cookies() if c["name"] == "sre_dashboard")
        self.assertTrue(cookie["httpOnly"])
        self.assertEqual(cookie["sameSite"], "Strict")
        self.assertEqual(self.page.evaluate("document.cookie"), "")  # HttpOnly: invisible to scripts
        expect(self.page.locator("#live-recent tr").first).to_be_visible()
        self.shot("dashboard_live_trace")

        self.page.goto(self.base + "/ui/reports")
        images = self.page.locator("img.plot")
        self.assertEqual(images.count(), 8)
        self.page.wait_for_function(
            "Array.from(document.querySelectorAll('img.plot')).every(i => i.complete && i.naturalWidth > 0)",
            timeout=60_000)
        widths = self.page.eval_on_selector_all("img.plot", "els => els.map(e => e.naturalWidth)")
        self.assertTrue(all(w > 0 for w in widths), widths)
        self.shot("dashboard_reports")

        self.page.goto(self.base + "/ui/executions/fx-skill-stale-1")
        expect(self.page.locator("#commands")).to_contain_text("remediate.py")
        self.assertNotIn(TOKEN, self.page.content())
        self.shot("dashboard_execution_trace")


class IntakeDashboardBrowserTest(BrowserCase):
    """A real incident through scripts/serve.py, watched and approved from the browser."""

    def setUp(self):
        super().setUp()
        if shutil.which("bwrap") is None:
            self.skipTest("bubblewrap is missing: the agent's sandbox needs it (apt-get install bubblewrap)")
        self._tmp = tempfile.TemporaryDirectory(prefix="dashboard-browser-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = Path(self._tmp.name)
        env = {**os.environ, "SRE_INTAKE_TOKEN": TOKEN}
        env.pop("SRE_ESCALATION_URL", None)
        with open(self.tmp / "service.err", "wb") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(REPO / "scripts" / "serve.py"), "--port", "0", "--demo-targets",
                 "--db", str(self.tmp / "intake.db"), "--trace-log", str(self.tmp / "trace.jsonl"),
                 "--concurrency", "1", "--shutdown-deadline-s", "5", "--require-confirmation-for-risk", "MEDIUM",
                 "--approval-timeout-s", "240", "--results", str(self.tmp)],
                cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True)
        self.addCleanup(self._stop)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.fail(f"serve.py did not start: {self._stderr()}")
        self.base = json.loads(line)["url"]

    def _stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # graceful: runs are cancelled, targets cleaned up
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc.stdout.close()

    def _stderr(self) -> str:
        return (self.tmp / "service.err").read_text(encoding="utf-8", errors="replace")[-3000:]

    def alert(self) -> str:
        port = int(self.base.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        body = {"title": "checkout lock", "text": "lock file blocks checkout", "priority": "P1",
                "service": "checkout", "scenario": "stale_lockfile"}
        conn.request("POST", "/webhook/generic", body=json.dumps(body),
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        response = conn.getresponse()
        data = json.loads(response.read())
        conn.close()
        self.assertEqual(response.status, 202, data)
        return data["execution_id"]

    def test_live_list_updates_and_a_pending_command_is_approved_from_the_page(self):
        self.sign_in(self.base)
        expect(self.page.locator("h1")).to_have_text("Live executions")
        expect(self.page.locator("#live-active")).to_contain_text("nothing running")
        self.page.evaluate("window.__noReload = true")  # gone if the page reloads
        execution_id = self.alert()
        row = self.page.locator(f"#live-active tr[data-id='{execution_id}']")
        expect(row).to_be_visible(timeout=15_000)
        expect(row).to_contain_text("checkout")
        expect(row).to_contain_text("P1")
        self.shot("dashboard_live_running")
        # the remediation (risk MEDIUM) waits for an operator: the list says so, still no reload
        expect(row).to_contain_text("awaiting approval", timeout=RUN_TIMEOUT_S * 1000)
        self.assertTrue(self.page.evaluate("window.__noReload === true"), "the live list reloaded the page")
        self.shot("dashboard_live_awaiting_approval")
        row.locator("a").click()
        expect(self.page.locator("#approvals")).to_contain_text("pending")
        expect(self.page.locator("#approvals")).to_contain_text("MEDIUM")
        # the commands so far are on the page while the run waits (the worker's open-run sidecar)
        expect(self.page.locator("#commands")).to_contain_text("diagnose.py")
        self.shot("dashboard_execution_pending")
        approved = 0
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:  # approve every paused command until the run ends
            status = self.page.locator("#x-status").inner_text()
            if status not in ("queued", "running"):
                break
            button = self.page.locator("button.approve")
            if button.count():
                button.first.click()
                approved += 1
                self.page.wait_for_load_state()
            else:
                self.page.wait_for_timeout(500)
        self.assertGreaterEqual(approved, 1)
        expect(self.page.locator("#x-status")).to_have_text("fixed", timeout=30_000)
        expect(self.page.locator("#approvals")).to_contain_text("approved by dashboard operator")
        commands = self.page.locator("#commands")
        expect(commands).to_contain_text("remediate.py")
        expect(commands).to_contain_text("approved")
        expect(self.page.locator("#probes")).to_contain_text("True")
        self.shot("dashboard_execution_fixed")
        self.page.goto(self.base + "/")
        expect(self.page.locator(f"#live-recent tr[data-id='{execution_id}']")).to_contain_text("fixed")

        # a fan-out started from the page (a dry run: plans only), its progress and its report
        self.page.goto(self.base + "/ui/runs")
        self.page.fill("input[name=scenarios]", "stale_lockfile,port_mismatch")
        self.page.check("input[name=simulate]")
        self.page.click("#start-run-button")
        expect(self.page.locator("#jobs")).to_contain_text("fanout: stale_lockfile,port_mismatch")
        expect(self.page.locator("#jobs")).to_contain_text("done", timeout=90_000)
        self.page.locator("#jobs a", has_text="report").click()
        expect(self.page.locator("#rows")).to_contain_text("port_mismatch")
        self.shot("dashboard_run_started_from_page")


if __name__ == "__main__":
    unittest.main()
