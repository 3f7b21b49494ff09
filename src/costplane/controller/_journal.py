"""Where the controller keeps what it decided, what it did, and each service's policy state.

`StoreJournal` (live) writes decisions, actuations, audit rows and policy state to the store in a few
batched statements per cycle; `MemoryJournal` (replay) keeps them in memory. The controller calls the same
methods on either, so replay exercises the live code path without a database round trip per tick.
Policy state is stored as JSON (see `encode_state`): a restarted controller resumes holds and hysteresis.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class DecisionRecord:
    """One decision: the observation and reasons behind it; `actuated_at_s`/`result` once acted on."""

    cycle_id: str
    created_at_s: float
    kind: str
    target: str
    team: str | None
    desired: dict[str, Any]
    observation: Any  # an Observation (to_dict() when stored) or its stored dict
    reasons: list[str]
    actuator: str
    id: int | None = None
    actuated_at_s: float | None = None
    result: str | None = None
    changed: bool = False

    def observation_dict(self) -> dict[str, Any]:
        return self.observation if isinstance(self.observation, dict) else self.observation.to_dict()


# ---------------------------------------------------------------------------------------------- state codec

_TAG = "__dataclass__"


def encode_state(value: Any) -> Any:
    """Policy state -> JSON: dataclasses of costplane become tagged dicts, tuples lists, numpy numbers floats."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return {_TAG: f"{cls.__module__}:{cls.__qualname__}",
                **{f.name: encode_state(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): encode_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_state(v) for v in value]
    if isinstance(value, np.ndarray):
        return [encode_state(v) for v in value.tolist()]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else {"__float__": repr(f)}  # JSON (and PostgreSQL) refuse inf/nan
    return value


def decode_state(value: Any) -> Any:
    """Inverse of encode_state; only costplane's own dataclasses are rebuilt (no arbitrary imports)."""
    if isinstance(value, list):
        return tuple(decode_state(v) for v in value)
    if isinstance(value, dict):
        if "__float__" in value and len(value) == 1:
            return float(value["__float__"])
        if _TAG in value:
            module, _, qualname = str(value[_TAG]).partition(":")
            if not module.startswith("costplane."):
                raise ValueError(f"stored policy state names {module!r}, not a costplane class")
            cls = importlib.import_module(module)
            for part in qualname.split("."):
                cls = getattr(cls, part)
            return cls(**{k: decode_state(v) for k, v in value.items() if k != _TAG})
        return {k: decode_state(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------------------------- journals


@dataclass
class MemoryJournal:
    """In-memory journal (replay): decisions are kept only when `keep_decisions`, states always."""

    keep_decisions: bool = False
    decisions: list[DecisionRecord] = field(default_factory=list)
    _states: dict[str, tuple[str, Any]] = field(default_factory=dict)
    _cycle: str | None = None
    _current: list[DecisionRecord] = field(default_factory=list)

    def decided(self, cycle: str) -> set[str]:
        return {r.target for r in self._current} if cycle == self._cycle else set()

    def record(self, cycle: str, records: list[DecisionRecord]) -> None:
        if cycle != self._cycle:
            self._cycle, self._current = cycle, []
        self._current.extend(records)
        if self.keep_decisions:
            self.decisions.extend(records)

    def pending(self, cycle: str) -> list[DecisionRecord]:
        return [r for r in self._current if r.actuated_at_s is None] if cycle == self._cycle else []

    def mark_actuated(self, records: list[DecisionRecord], actor: str) -> None:
        pass  # the records themselves carry actuated_at_s and result

    def states(self, policies: dict[str, str]) -> dict[str, Any]:
        return {name: st for name, (pol, st) in self._states.items() if policies.get(name) == pol}

    def save_states(self, states: dict[str, tuple[str, Any]], now_s: float) -> None:
        self._states.update(states)

    def last_actuated(self) -> Iterable[tuple[str, int]]:
        return ()


class StoreJournal:
    """The store as journal: unique (cycle, target, kind) decisions, audit rows, and policy state rows."""

    def __init__(self, store) -> None:
        self.store = store

    def decided(self, cycle: str) -> set[str]:
        from sqlalchemy import select

        from costplane.store import DecisionRow

        with self.store.session() as s:
            return set(s.scalars(select(DecisionRow.target).where(DecisionRow.cycle_id == cycle,
                                                                  DecisionRow.kind == "scale")))

    def record(self, cycle: str, records: list[DecisionRecord]) -> None:
        """All of a cycle's decisions in one transaction, before anything is actuated."""
        from costplane.store import DecisionRow

        if not records:
            return
        with self.store.session() as s:
            rows = [DecisionRow(cycle_id=r.cycle_id, created_at_s=r.created_at_s, kind=r.kind, target=r.target,
                                team=r.team, desired=r.desired, observation=r.observation_dict(),
                                reasons=list(r.reasons), actuator=r.actuator) for r in records]
            s.add_all(rows)
            s.flush()
            for r, row in zip(records, rows):
                r.id = row.id

    def pending(self, cycle: str) -> list[DecisionRecord]:
        from sqlalchemy import select

        from costplane.store import DecisionRow

        with self.store.session() as s:
            rows = s.scalars(select(DecisionRow).where(DecisionRow.cycle_id == cycle,
                                                       DecisionRow.actuated_at_s.is_(None))
                             .order_by(DecisionRow.id)).all()
            return [_record_of(row) for row in rows]

    def mark_actuated(self, records: list[DecisionRecord], actor: str) -> None:
        from sqlalchemy import bindparam, update

        from costplane.store import AuditLog, DecisionRow

        if not records:
            return
        with self.store.session() as s:
            stmt = (update(DecisionRow.__table__).where(DecisionRow.__table__.c.id == bindparam("rid"))
                    .values(actuated_at_s=bindparam("at"), result=bindparam("res")))
            s.connection().execute(stmt, [{"rid": r.id, "at": r.actuated_at_s, "res": r.result} for r in records])
            s.add_all([AuditLog(at_s=r.actuated_at_s, actor=actor, action="actuate" if r.changed else "noop",
                                target=r.target, detail={"cycle": r.cycle_id, "replicas": r.desired["replicas"],
                                                         "actuator": r.actuator, "result": r.result})
                       for r in records])

    def states(self, policies: dict[str, str]) -> dict[str, Any]:
        """Stored state of each service whose policy is unchanged (a new policy starts afresh)."""
        from sqlalchemy import select

        from costplane.store import ControllerState

        out = {}
        with self.store.session() as s:
            for row in s.scalars(select(ControllerState).where(ControllerState.service.in_(list(policies)))):
                if policies.get(row.service) == row.policy:
                    try:
                        out[row.service] = decode_state(row.state.get("state"))
                    except (ValueError, TypeError, AttributeError, ImportError):
                        continue  # state of an older code version: start afresh rather than crash
        return out

    def save_states(self, states: dict[str, tuple[str, Any]], now_s: float) -> None:
        from costplane.store import ControllerState

        if not states:
            return
        rows = [{"service": name, "policy": policy, "state": {"state": encode_state(st)}, "updated_at_s": now_s}
                for name, (policy, st) in states.items()]
        self.store.upsert(ControllerState, rows, ["service"])

    def last_actuated(self) -> Iterable[tuple[str, int]]:
        from sqlalchemy import func, select

        from costplane.store import DecisionRow

        with self.store.session() as s:
            newest = (select(func.max(DecisionRow.id)).where(DecisionRow.actuated_at_s.is_not(None))
                      .group_by(DecisionRow.target))
            rows = s.execute(select(DecisionRow.target, DecisionRow.desired)
                             .where(DecisionRow.id.in_(newest))).all()
        return [(target, int(desired["replicas"])) for target, desired in rows]


def _record_of(row) -> DecisionRecord:
    return DecisionRecord(row.cycle_id, row.created_at_s, row.kind, row.target, row.team, dict(row.desired),
                          dict(row.observation), list(row.reasons or []), row.actuator, row.id,
                          row.actuated_at_s, row.result)
