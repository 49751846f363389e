"""What a 401 or 403 from one of Cursor's APIs most likely means, added to the error the
endpoint fails with (the log, the landing page): Cursor's keys are scoped, and a key
that may read one API may be refused by another."""

from __future__ import annotations

from aicode_exporter.errors import AuthError

ANALYTICS = "analytics"
ADMIN = "admin"
TRACKING = "tracking"

_CAUSES = {
    (ANALYTICS, 401): "the key is wrong or revoked",
    (ANALYTICS, 403): ("the key lacks the admin:* scope the Analytics API needs (create "
                       "one under Cursor Dashboard -> API Keys), or the team is not on "
                       "the Enterprise plan"),
    (ADMIN, 401): ("the key is wrong or revoked, or it is not an Admin API key (Cursor "
                   "Dashboard -> Settings -> Advanced -> Admin API Keys)"),
    (ADMIN, 403): ("the key is not an Admin API key of this team, or the team's plan "
                   "has no Admin API"),
}


def explain(error: AuthError, api: str) -> AuthError:
    """`error` with the likely cause appended; an endpoint the key may not read fails
    alone (its own aicode_up), the others go on."""
    cause = _CAUSES.get((api, error.status or 0))
    if cause is None:
        return error
    message = str(error.args[0]) if error.args else "authentication failed"
    return AuthError(f"{message} (likely cause: {cause}; disable the endpoint with "
                     f"endpoints.{error.endpoint}.enabled: false if that is intended)",
                     endpoint=error.endpoint, status=error.status, code=error.code,
                     request_id=error.request_id)
