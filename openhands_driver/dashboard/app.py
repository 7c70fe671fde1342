"""The dashboard's pages as a Flask blueprint, mounted by the intake or served alone.

    /                          live executions (the page polls /ui/live.json every second)
    /login, /logout            sign-in with the token (form), sign-out (POST)
    /ui/executions/<id>        one execution (polls /ui/executions/<id>/state.json; reloads on change)
    /ui/approvals/<n>          POST approve|reject a pending command (intake only)
    /ui/history                every execution, with filters (status, service, priority, text)
    /ui/runs, /ui/runs/view    benchmark, fan-out and scorecard result files; one of them
    /ui/reports                scorecard (per approach) and skill leaderboard, with plots
    /ui/plots/<scope>/<kind>.<fmt>   a plot image (scope approach|skill|file)
    /ui/trace/<run_id>         a run's trace row

Nothing but /login and the stylesheet answers without a session; JSON endpoints answer 401, pages
redirect to /login. Every POST needs the session's CSRF token.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, Response, abort, jsonify, redirect, render_template, request, session,
                   url_for)
from jinja2 import Undefined
from werkzeug.exceptions import HTTPException

from openhands_driver.dashboard.auth import DashboardAuth
from openhands_driver.dashboard.sources import HistoryFilter
from openhands_driver.reports import plots

PLOT_SCOPES = ("approach", "skill", "file")
PLOT_CACHE = 64
OPEN_ENDPOINTS = ("dashboard.login",)
OPERATOR_ENDPOINTS = ("dashboard.approval", "dashboard.start_run")  # they change something


def _missing(value) -> bool:
    return value is None or value == "" or isinstance(value, Undefined)


def _ts(value) -> str:
    if _missing(value):
        return "-"
    try:
        return datetime.fromtimestamp(float(value), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError):
        return str(value)


def _dur(value) -> str:
    if _missing(value):
        return "-"
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    return f"{int(value // 60)}m {int(value % 60):02d}s"


def _pct(value) -> str:
    return "-" if _missing(value) else f"{float(value):.0%}"


def _pretty(value) -> str:
    return json.dumps(value, indent=2, default=str, sort_keys=True)


def _safe_next(target: str | None) -> str:
    """Only a local path (no scheme, no host) after sign-in."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


class _PlotCache:
    def __init__(self):
        self._items: dict[tuple, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, make) -> bytes:
        with self._lock:
            if key in self._items:
                return self._items[key]
            data = make()  # under the lock: matplotlib renders one figure at a time here
            if len(self._items) >= PLOT_CACHE:
                self._items.pop(next(iter(self._items)))
            self._items[key] = data
            return data


def blueprint(source, auth: DashboardAuth) -> Blueprint:
    bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/ui/static")
    cache = _PlotCache()

    @bp.app_template_filter("ts")
    def ts_filter(value):
        return _ts(value)

    @bp.app_template_filter("dur")
    def dur_filter(value):
        return _dur(value)

    @bp.app_template_filter("pct")
    def pct_filter(value):
        return _pct(value)

    @bp.app_template_filter("pretty")
    def pretty_filter(value):
        return _pretty(value)

    @bp.app_context_processor
    def common():
        return {"csrf_token": auth.csrf_token, "read_only": source.read_only, "source_label": source.label,
                "auth_required": auth.required}

    @bp.before_request
    def guard():
        if request.endpoint == "dashboard.static" and (request.view_args or {}).get("filename") == "style.css":
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS") and not auth.csrf_ok():
            return _refuse(403, "missing or wrong CSRF token: reload the page and try again")
        if request.endpoint in OPEN_ENDPOINTS:
            return None
        if auth.signed_in():
            if request.endpoint in OPERATOR_ENDPOINTS and not auth.may("operator"):
                return _refuse(403, f"token {session.get('token_id')!r} (role {session.get('role')}) may "
                                    "not do this: it needs the operator role")
            return None
        if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
            return _refuse(401, "sign in first at /login")
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))

    @bp.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # pages answer with a page (the intake's API answers JSON)
        return _refuse(exc.code or 500, f"{exc.name}: {exc.description}")

    def _refuse(code: int, message: str):
        if request.path.endswith(".json") or request.accept_mimetypes.best == "application/json":
            return jsonify({"error": message}), code
        return render_template("error.html", code=code, message=message), code

    # --- sign-in -----------------------------------------------------------------------------------

    @bp.route("/login", methods=["GET", "POST"])
    def login():
        error = None
        target = _safe_next(request.values.get("next"))
        if request.method == "POST":
            if auth.sign_in(request.form.get("token", "")):
                return redirect(target)
            error = "wrong token"
        return render_template("login.html", error=error, next=target), (401 if error else 200)

    @bp.post("/logout")
    def logout():
        auth.sign_out()
        return redirect(url_for("dashboard.login"))

    # --- live --------------------------------------------------------------------------------------

    @bp.get("/")
    def live():
        return render_template("live.html", live=source.live(time.time()))

    @bp.get("/ui/live.json")
    def live_json():
        return jsonify({"at": time.time(), **source.live(time.time())})

    # --- one execution -----------------------------------------------------------------------------

    @bp.get("/ui/executions/<item_id>")
    def execution(item_id: str):
        item = source.execution(item_id, time.time())
        if item is None:
            abort(404, f"no execution or run {item_id!r}")
        return render_template("execution.html", x=item)

    @bp.get("/ui/executions/<item_id>/state.json")
    def execution_state(item_id: str):
        item = source.execution(item_id, time.time())
        if item is None:
            return jsonify({"error": f"no execution or run {item_id!r}"}), 404
        return jsonify({"id": item["id"], "status": item["status"], "phase": item["phase"],
                        "elapsed_s": item["elapsed_s"], "actions": len(item["actions"]),
                        "approvals": [[a["id"], a["state"]] for a in item["approvals"]],
                        "timeline": len(item.get("timeline") or [])})

    @bp.post("/ui/approvals/<int:approval_id>")
    def approval(approval_id: int):
        verdict = request.form.get("verdict", "")
        back = _safe_next(request.form.get("back"))
        try:
            row = source.decide(approval_id, verdict, by="dashboard operator")
        except PermissionError as exc:
            return _refuse(403, str(exc))
        except ValueError as exc:  # unknown, or already decided
            return _refuse(409, str(exc))
        if request.accept_mimetypes.best == "application/json":
            return jsonify(row)
        return redirect(back)

    # --- history, runs, reports --------------------------------------------------------------------

    @bp.get("/ui/history")
    def history():
        args = request.args
        try:
            limit = max(1, min(int(args.get("limit", 200)), 1000))
        except ValueError:
            limit = 200
        wanted = HistoryFilter(status=args.get("status", ""), service=args.get("service", ""),
                               priority=args.get("priority", ""), text=args.get("q", ""), limit=limit)
        return render_template("history.html", items=source.history(wanted, time.time()), wanted=wanted)

    @bp.get("/ui/runs")
    def runs():
        return render_template("runs.html", files=source.results.list(),
                               jobs=source.jobs.list() if source.jobs is not None else None, form={})

    @bp.post("/ui/runs/start")
    def start_run():
        from openhands_driver.dashboard.jobs import JobError, JobRequest

        if source.jobs is None:
            return _refuse(403, "this dashboard is read-only: start runs from the intake's dashboard")
        try:
            job = source.jobs.start(JobRequest.from_form(request.form))
        except JobError as exc:
            return render_template("runs.html", files=source.results.list(), jobs=source.jobs.list(),
                                   job_error=str(exc), form=request.form), 400
        if request.accept_mimetypes.best == "application/json":
            return jsonify(job.view()), 202
        return redirect(url_for("dashboard.runs"))

    @bp.get("/ui/runs/jobs.json")
    def jobs_json():
        return jsonify({"jobs": source.jobs.list() if source.jobs is not None else []})

    @bp.get("/ui/runs/view")
    def run_file():
        item = source.results.get(request.args.get("file", ""))
        if item is None:
            abort(404, "no such result file (pick one from /ui/runs)")
        return render_template("run.html", f=item)

    @bp.get("/ui/reports")
    def reports():
        from openhands_driver.reports.leaderboard import leaderboard
        from openhands_driver.reports.stats import BadRow, record, summarize

        rows = source.trace_rows()
        by_approach: dict[str, list] = {}
        for row in rows:
            try:
                by_approach.setdefault(plots.approach_group(row), []).append(record(row))
            except BadRow:
                continue
        approaches = [{"name": name, **summarize(items).to_dict()} for name, items in sorted(by_approach.items())]
        scorecards = [f for f in source.results.list() if f.kind == "scorecard"]
        return render_template("reports.html", approaches=approaches, board=leaderboard(rows),
                               scorecards=scorecards, kinds=plots.KINDS)

    @bp.get("/ui/plots/<scope>/<kind>.<fmt>")
    def plot(scope: str, kind: str, fmt: str):
        if scope not in PLOT_SCOPES or kind not in plots.KINDS or fmt not in plots.FORMATS:
            abort(404, f"no plot {scope}/{kind}.{fmt}; scopes {PLOT_SCOPES}, kinds {plots.KINDS}, "
                       f"formats {plots.FORMATS}")
        if scope == "file":
            item = source.results.get(request.args.get("file", ""))
            if item is None:
                abort(404, "no such result file")
            key = (scope, kind, fmt, item.key, item.modified)
            rows = item.rows

            def groups():
                if item.kind == "scorecard":
                    trace = source.trace_rows()
                    run_ids = {a["name"]: a.get("run_ids") or [] for a in item.data["approaches"]}
                    return plots.group_points(plots.points_from_run_ids(trace, run_ids))
                return plots.group_points(plots.points_from_trace(rows, plots.fault_group, fixed_key="resolved"))
        else:
            read = source.trace.read()
            key = (scope, kind, fmt, len(read), read.path and _mtime(read.path))

            def groups():
                group_by = plots.approach_group if scope == "approach" else plots.skill_group
                return plots.group_points(plots.points_from_trace(source.trace_rows(), group_by))
        data = cache.get(key, lambda: plots.render(kind, groups(), fmt))
        return Response(data, mimetype="image/png" if fmt == "png" else "image/svg+xml",
                        headers={"Cache-Control": "private, max-age=5"})

    @bp.get("/ui/trace/<run_id>")
    def trace_row(run_id: str):
        row = source.trace.by_run_id(run_id)
        if row is None:
            abort(404, f"no trace row for run {run_id!r} in {source.trace.path}")
        return render_template("trace.html", row=row, run_id=run_id)

    return bp


def _mtime(path: Path) -> float:
    try:
        return Path(path).stat().st_mtime
    except OSError:
        return 0.0


def register(app: Flask, source, *, token: str | None, secure_cookie: bool = False, tokens=None) -> None:
    """Mount the dashboard on ``app`` (the intake's app, or a standalone one); ``tokens``: the
    intake's token set with roles."""
    auth = DashboardAuth(token, tokens)
    auth.configure(app, secure_cookie=secure_cookie)
    app.register_blueprint(blueprint(source, auth))


def create_app(source, *, token: str | None, secure_cookie: bool = False) -> Flask:
    """A standalone dashboard (``scripts/dashboard.py``): the pages plus /healthz."""
    app = Flask("openhands_driver.dashboard")
    register(app, source, token=token, secure_cookie=secure_cookie)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    return app
