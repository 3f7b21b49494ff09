"""The audit trail: one `audit_log` row per change and per actuation, written in the change's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from costplane.store import AuditLog, Store

SECRET_FIELDS = ("webhook_url",)  # values the audit log keeps only redacted


def redacted(detail: dict[str, Any] | None) -> dict[str, Any]:
    """`detail` with secret fields (webhook URLs) in their redacted form."""
    from costplane.budget._webhook import redact

    out = dict(detail or {})
    for key in SECRET_FIELDS:
        if out.get(key):
            out[key] = redact(out[key])
    return out


def record(session: Session, at_s: float, actor: str, action: str, target: str, detail: dict[str, Any] | None = None,
           team: str | None = None) -> None:
    """Add an audit row to `session`, so it commits (or rolls back) with the change it describes.

    `team`: whose thing changed (a team-scoped admin reads only its team's rows); secrets are redacted.
    """
    session.add(AuditLog(at_s=at_s, actor=actor, action=action, target=target, detail=redacted(detail), team=team))


def list_audit(store: Store, limit: int, offset: int, action: str | None = None,
               team: str | None = None) -> tuple[list[AuditLog], int]:
    """Newest first; `team` given: only rows about that team."""
    query = select(AuditLog)
    if team is not None:
        query = query.where(AuditLog.team == team)
    if action:
        query = query.where(AuditLog.action == action)
    with store.session() as s:
        count = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = s.scalars(query.order_by(AuditLog.at_s.desc(), AuditLog.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), count
