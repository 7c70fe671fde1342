"""Links to an external trace UI (Laminar, ...): ``--trace-url-template`` with ``{run_id}``,
``{incident_id}`` and ``{trace_id}`` (the row's ``laminar_trace_id``)."""

from __future__ import annotations

import string
from urllib.parse import quote

from openhands_driver.errors import UserError

FIELDS = ("run_id", "incident_id", "trace_id")


def check_template(template: str) -> str:
    """The template, or a UserError naming the bad field."""
    if not template.startswith(("http://", "https://")):
        raise UserError(f"--trace-url-template must be an http(s) URL, got {template!r}")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise UserError(f"--trace-url-template {template!r} is not a valid template: {exc}") from None
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise UserError(f"--trace-url-template uses unknown field(s) {', '.join(unknown)}; "
                        f"valid: {', '.join('{' + f + '}' for f in FIELDS)}")
    return template


def trace_url(template: str | None, *, run_id: str | None = None, incident_id: str | None = None,
              trace_id: str | None = None) -> str | None:
    """The external link of one run, or None without a template or when a field it needs is unknown."""
    if not template:
        return None
    values = {"run_id": run_id, "incident_id": incident_id, "trace_id": trace_id}
    needed = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    if any(not values.get(name) for name in needed):
        return None
    return template.format(**{k: quote(str(v), safe="") for k, v in values.items() if v})
