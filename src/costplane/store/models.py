"""SQLAlchemy 2 models of every stored entity; the schema itself is created only by Alembic migrations.

Money columns carry units in their names (`cost_usd`, `price_usd_per_hour`); times are UTC epoch
seconds (float) so SQLite and PostgreSQL compare them the same way.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from costplane.store._secrets import EncryptedText


class Base(DeclarativeBase):
    pass


class CatalogVersion(Base):
    """One imported price catalog; its offers are immutable once stored."""

    __tablename__ = "catalog_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    imported_at_s: Mapped[float] = mapped_column(Float)
    offers: Mapped[list[OfferRow]] = relationship(back_populates="catalog", cascade="all, delete-orphan")


class OfferRow(Base):
    __tablename__ = "offers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    catalog_id: Mapped[int] = mapped_column(ForeignKey("catalog_versions.id", ondelete="CASCADE"), index=True)
    cloud: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(128))
    zone: Mapped[str | None] = mapped_column(String(128), nullable=True)
    instance_type: Mapped[str] = mapped_column(String(128))
    gpu: Mapped[str] = mapped_column(String(64), index=True)
    gpu_memory_gib: Mapped[float] = mapped_column(Float)
    gpus: Mapped[int] = mapped_column(Integer)
    vcpus: Mapped[float] = mapped_column(Float)
    memory_gib: Mapped[float] = mapped_column(Float)
    price_usd_per_hour: Mapped[float | None] = mapped_column(Float, nullable=True)
    spot_price_usd_per_hour: Mapped[float | None] = mapped_column(Float, nullable=True)
    catalog: Mapped[CatalogVersion] = relationship(back_populates="offers")


class Team(Base):
    __tablename__ = "teams"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("team_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))


class WorkloadRow(Base):
    """A training job, inference service or batch workload, with its labels for attribution."""

    __tablename__ = "workloads"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="workload")
    team: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    project: Mapped[str | None] = mapped_column(String(128), nullable=True)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    spec: Mapped[dict] = mapped_column(JSON, default=dict)


class PlanRow(Base):
    """A fleet plan as solved: its inputs and its assignments, for audit and comparison."""

    __tablename__ = "plans"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at_s: Mapped[float] = mapped_column(Float, index=True)
    catalog_source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))
    total_usd: Mapped[float] = mapped_column(Float)
    naive_total_usd: Mapped[float] = mapped_column(Float)
    spec: Mapped[dict] = mapped_column(JSON)
    assignments: Mapped[list] = mapped_column(JSON)


class UsageSample(Base):
    """One metric sample of one series (GPU utilisation, memory, request rate, ...); idempotent on its key."""

    __tablename__ = "usage_samples"
    __table_args__ = (
        UniqueConstraint("source", "metric", "series_key", "ts_s", name="uq_usage_sample"),
        Index("ix_usage_metric_ts", "metric", "ts_s"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(128))
    series_key: Mapped[str] = mapped_column(String(512))
    ts_s: Mapped[float] = mapped_column(Float)
    value: Mapped[float] = mapped_column(Float)
    workload: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    project: Mapped[str | None] = mapped_column(String(128), nullable=True)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)


class UsageHourly(Base):
    """Hourly roll-up of usage_samples per series, kept in step at write time (`Store.add_usage_samples`).

    One row per (source, metric, series_key, hour): n samples, Σ value, first and last sample time, where
    hour_s = floor(ts_s / 3600) × 3600 (`store._rollup.hour_of`). Exactly `GROUP BY` over the raw rows of that
    hour, so cost over whole hours reads it instead of the samples (issue 12: 2.9M rows a month, not 35M)."""

    __tablename__ = "usage_hourly"
    __table_args__ = (Index("ix_usage_hourly_metric_hour", "metric", "hour_s"),)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(128), primary_key=True)
    series_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    hour_s: Mapped[float] = mapped_column(Float, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    sum_value: Mapped[float] = mapped_column(Float)
    min_ts_s: Mapped[float] = mapped_column(Float)
    max_ts_s: Mapped[float] = mapped_column(Float)


class CostRecord(Base):
    """A billed or computed cost line over a charge period; idempotent on (source, line_key)."""

    __tablename__ = "cost_records"
    __table_args__ = (
        UniqueConstraint("source", "line_key", name="uq_cost_record"),
        Index("ix_cost_period", "period_start_s", "period_end_s"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    line_key: Mapped[str] = mapped_column(String(512))
    period_start_s: Mapped[float] = mapped_column(Float)
    period_end_s: Mapped[float] = mapped_column(Float)
    resource_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    service: Mapped[str | None] = mapped_column(String(256), nullable=True)
    cloud: Mapped[str | None] = mapped_column(String(64), nullable=True)
    region: Mapped[str | None] = mapped_column(String(128), nullable=True)
    billed_cost_usd: Mapped[float] = mapped_column(Float)
    effective_cost_usd: Mapped[float] = mapped_column(Float)
    list_cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    gpu_hours: Mapped[float] = mapped_column(Float, default=0.0)
    workload: Mapped[str | None] = mapped_column(String(256), nullable=True)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    project: Mapped[str | None] = mapped_column(String(128), nullable=True)
    tags: Mapped[dict] = mapped_column(JSON, default=dict)


class Budget(Base):
    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("scope", "name", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))  # team | project
    name: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(16), default="month")
    amount_usd: Mapped[float] = mapped_column(Float)
    alert_thresholds: Mapped[list] = mapped_column(JSON, default=lambda: [0.5, 0.8, 1.0])
    webhook_url: Mapped[str | None] = mapped_column(EncryptedText, nullable=True)  # a secret: Fernet at rest


class DecisionRow(Base):
    """A controller decision with the observation that produced it; `actuated_at_s` set once acted on."""

    __tablename__ = "decisions"
    __table_args__ = (UniqueConstraint("cycle_id", "target", "kind", name="uq_decision_cycle_target"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cycle_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at_s: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(256))
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    desired: Mapped[dict] = mapped_column(JSON)
    observation: Mapped[dict] = mapped_column(JSON)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    actuator: Mapped[str] = mapped_column(String(32), default="dry-run")
    actuated_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApiToken(Base):
    """An API token, stored only as its SHA-256; role viewer|operator|admin, optional team scope."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at_s: Mapped[float] = mapped_column(Float)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at_s: Mapped[float] = mapped_column(Float, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    team: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)  # whose change (None: global)


class ControllerState(Base):
    """A service's policy state between cycles (holds, hysteresis, windows), so a restart resumes them."""

    __tablename__ = "controller_state"
    service: Mapped[str] = mapped_column(String(256), primary_key=True)
    policy: Mapped[str] = mapped_column(String(256))
    state: Mapped[dict] = mapped_column(JSON)
    updated_at_s: Mapped[float] = mapped_column(Float)


class ControllerLease(Base):
    """Who may actuate: one active controller per store; a holder renews before `expires_at_s`."""

    __tablename__ = "controller_lease"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(256))
    acquired_at_s: Mapped[float] = mapped_column(Float)
    expires_at_s: Mapped[float] = mapped_column(Float)
