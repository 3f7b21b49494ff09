"""The audit trail: one `audit_log` row per change and per actuation, written in the change's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from costplane.store import AuditLog, Store


def record(session: Session, at_s: float, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    """Add an audit row to `session`, so it commits (or rolls back) with the change it describes."""
    session.add(AuditLog(at_s=at_s, actor=actor, action=action, target=target, detail=detail or {}))


def list_audit(store: Store, limit: int, offset: int, action: str | None = None) -> tuple[list[AuditLog], int]:
    """Newest first."""
    query = select(AuditLog)
    if action:
        query = query.where(AuditLog.action == action)
    with store.session() as s:
        count = int(s.scalar(select(func.count()).select_from(query.subquery())) or 0)
        rows = s.scalars(query.order_by(AuditLog.at_s.desc(), AuditLog.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), count
