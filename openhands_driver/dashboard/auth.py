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
    def __init__(self, token: str | None):
        self._token = token

    @property
    def required(self) -> bool:
        return bool(self._token)

    def configure(self, app: Flask, *, secure_cookie: bool = False) -> None:
        key = (hmac.new(self._token.encode("utf-8"), b"sre-dashboard-session-v1", hashlib.sha256).digest()
               if self._token else os.urandom(32))
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
        if not hmac.compare_digest(_digest(supplied or ""), _digest(self._token or "")):
            return False
        session.clear()
        session.permanent = True
        session["signed_in"] = True
        session["csrf"] = secrets.token_urlsafe(32)
        return True

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
