"""Sign-in for the dashboard: the intake's token, typed once into a form, becomes a session.

- The session is Flask's signed cookie (itsdangerous), HttpOnly, SameSite=Strict, 12 h. Its
  signing key is derived from the token (HMAC-SHA256 with a fixed label), so changing the token
  signs every browser out; the token itself is never stored in the cookie or rendered.
- Every state-changing request (sign-in included) carries the session's CSRF token in the form
  field ``csrf_token`` or the header ``X-CSRF-Token``; a missing or wrong one is refused (403).
- Without a token (``--insecure-no-auth``) the dashboard is open, like the API; CSRF still applies.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import timedelta

from flask import Flask, request, session

SESSION_HOURS = 12
COOKIE_NAME = "sre_dashboard"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class DashboardAuth:
    """``token``: the one admin token (scripts/dashboard.py, or the intake's SRE_INTAKE_TOKEN);
    ``tokens``: the intake's token set with roles (intake/roles.py TokenSet). With either, nothing
    is visible without signing in; a session keeps its token's id and role, and the pages that
    change something (approve, reject, start a run) need the operator role."""

    def __init__(self, token: str | None, tokens=None):
        self._token = token
        self._tokens = tokens if tokens else None

    @property
    def required(self) -> bool:
        return bool(self._token) or self._tokens is not None

    def configure(self, app: Flask, *, secure_cookie: bool = False) -> None:
        secret = self._token or ("|".join(sorted(e[2] for e in self._tokens.entries)) if self._tokens else "")
        key = (hmac.new(secret.encode("utf-8"), b"sre-dashboard-session-v1", hashlib.sha256).digest()
               if secret else os.urandom(32))
        app.secret_key = key
        app.config.update(SESSION_COOKIE_NAME=COOKIE_NAME, SESSION_COOKIE_HTTPONLY=True,
                          SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_SECURE=secure_cookie,
                          PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))

    # --- session -----------------------------------------------------------------------------------

    def signed_in(self) -> bool:
        return not self.required or session.get("signed_in") is True

    def sign_in(self, supplied: str) -> bool:
        """Check the token (constant time); on success, a fresh session (no fixation)."""
        if not self.required:
            return True
        principal = self._tokens.identify(supplied or "") if self._tokens is not None else None
        if principal is not None:
            token_id, role = principal.token_id, principal.role
        elif self._token and hmac.compare_digest(_digest(supplied or ""), _digest(self._token)):
            token_id, role = "default", "admin"
        else:
            return False
        session.clear()
        session.permanent = True
        session["signed_in"] = True
        session["token_id"], session["role"] = token_id, role
        session["csrf"] = secrets.token_urlsafe(32)
        return True

    def may(self, role: str) -> bool:
        """Whether the signed-in session's role includes ``role`` (always, without auth)."""
        if not self.required:
            return True
        from openhands_driver.intake.roles import rank

        held = session.get("role")
        return held in ("viewer", "operator", "admin") and rank(held) >= rank(role)

    @staticmethod
    def sign_out() -> None:
        session.clear()

    # --- CSRF --------------------------------------------------------------------------------------

    @staticmethod
    def csrf_token() -> str:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return session["csrf"]

    @staticmethod
    def csrf_ok() -> bool:
        expected = session.get("csrf")
        supplied = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
        return bool(expected) and hmac.compare_digest(supplied.encode(), str(expected).encode())
