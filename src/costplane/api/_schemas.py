"""Request and response schemas: `XCreate` is what a client sends, `XPublic` what it gets back,
`XsPublic` a page of them in the envelope `{data, count, limit, offset}`.

Every float refuses NaN and infinity, and every string and list has a bound, so malformed input is a
422 at the edge and never reaches the core.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from costplane.autoscale import DEFAULT_POLICY

Name = Annotated[str, Field(min_length=1, max_length=128)]
ShortStr = Annotated[str, Field(min_length=1, max_length=128)]


class _Model(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ------------------------------------------------------------------ errors and pages

class ErrorDetail(_Out):
    code: str
    message: str
    fix: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorPublic(_Out):
    error: ErrorDetail


class _Page(_Out):
    count: int = Field(description="Rows matching the filters, all pages together.")
    limit: int
    offset: int


class HealthPublic(_Out):
    status: Literal["ok"]
    database: str
    controller: bool


class WhoAmIPublic(_Out):
    name: str
    role: str
    team: str | None


# ------------------------------------------------------------------ catalog and placement

class OfferPublic(_Out):
    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpu_memory_gib: float
    gpus: int
    vcpus: float
    memory_gib: float
    price_usd_per_hour: float | None
    spot_price_usd_per_hour: float | None


class OffersPublic(_Page):
    data: list[OfferPublic]


class CatalogPublic(_Out):
    as_of: str
    source: str
    offers: int
    gpu_models: list[str]
    clouds: list[str]


class PlacementCreate(_Model):
    gpu: ShortStr | None = Field(None, description="Normalised GPU model, e.g. H100.")
    gpus_per_node: int = Field(1, ge=1, le=64)
    nodes: int = Field(1, ge=1, le=1024)
    hours: float = Field(1.0, gt=0, le=1_000_000)
    min_gpu_memory_gib: float = Field(0.0, ge=0, le=100_000)
    min_vcpus: float = Field(0.0, ge=0, le=100_000)
    min_memory_gib: float = Field(0.0, ge=0, le=1_000_000)
    clouds: list[ShortStr] = Field(default_factory=list, max_length=32)
    regions: list[ShortStr] = Field(default_factory=list, max_length=256)
    spot: bool = False
    limit: int = Field(20, ge=1, le=500)


class PlacementPublic(_Out):
    cloud: str
    region: str
    zone: str | None
    instance_type: str
    gpu: str
    gpus_per_node: int
    nodes: int
    spot: bool
    hourly_usd: float
    total_usd: float


class PlacementsPublic(_Out):
    request: dict[str, Any]
    offers: list[PlacementPublic]


# ------------------------------------------------------------------ plans

class WorkloadSpec(_Model):
    name: Name
    gpu: ShortStr | None = None
    gpus: int = Field(1, ge=1, le=64, description="GPUs per node.")
    nodes: int = Field(1, ge=1, le=1024)
    hours: float = Field(gt=0, le=1_000_000)
    min_gpu_memory_gib: float = Field(0.0, ge=0, le=100_000)
    clouds: list[ShortStr] | None = Field(None, max_length=32)
    regions: list[ShortStr] | None = Field(None, max_length=256)
    spot: bool = False
    team: ShortStr | None = None


class QuotaSpec(_Model):
    cloud: ShortStr
    max_gpus: float = Field(ge=0, le=1_000_000)
    region: ShortStr | None = None
    gpu: ShortStr | None = None


class PlanCreate(_Model):
    workloads: list[WorkloadSpec] = Field(min_length=1, max_length=100)
    quotas: list[QuotaSpec] = Field(default_factory=list, max_length=100)
    default_cloud: ShortStr = "aws"
    max_spot_fraction: float | None = Field(None, ge=0, le=1)


class AssignmentPublic(PlacementPublic):
    workload: str


class PlanPublic(_Out):
    id: int
    created_at_s: float
    catalog_source: str
    status: str
    total_usd: float
    naive_total_usd: float
    teams: list[str]
    assignments: list[dict[str, Any]]


class PlansPublic(_Page):
    data: list[PlanPublic]


# ------------------------------------------------------------------ budgets

class BudgetCreate(_Model):
    scope: Literal["team", "project"] = "team"
    name: Name = Field(description="The team (or project) the budget covers.")
    period: Literal["day", "week", "month"] = "month"
    amount_usd: float = Field(gt=0, le=1e12)
    alert_thresholds: list[Annotated[float, Field(gt=0, le=10)]] = Field(default_factory=lambda: [0.5, 0.8, 1.0],
                                                                          max_length=16)
    webhook_url: Annotated[str, Field(max_length=2048)] | None = None


class BudgetUpdate(_Model):
    """Only the fields sent change. amount_usd, period and alert_thresholds may be left out but not null."""

    amount_usd: float = Field(None, gt=0, le=1e12)  # type: ignore[assignment]  # default = "not sent"
    period: Literal["day", "week", "month"] = None  # type: ignore[assignment]
    alert_thresholds: list[Annotated[float, Field(gt=0, le=10)]] = Field(None, max_length=16)  # type: ignore[assignment]
    webhook_url: Annotated[str, Field(max_length=2048)] | None = Field(None, description="null removes the webhook.")


class BudgetPublic(_Out):
    id: int
    scope: str
    name: str
    team: str | None
    period: str
    amount_usd: float
    alert_thresholds: list[float]
    webhook_url: str | None = Field(description="Redacted (`https://host/…`): the URL is a secret.")
    spent_usd: float = Field(description="Cost of the team so far in the current period.")
    burn_ratio: float = Field(description="spent_usd / amount_usd.")
    period_start_s: float
    forecast_usd: float | None = Field(description="Month budgets: spend expected by month end (costplane.budget).")
    alerts: list[dict[str, Any]] = Field(description="Thresholds crossed: {threshold, basis: actual|forecast}.")


class BudgetsPublic(_Page):
    data: list[BudgetPublic]


# ------------------------------------------------------------------ decisions, tokens, audit

class DecisionPublic(_Out):
    id: int
    cycle_id: str
    created_at_s: float
    kind: str
    target: str
    team: str | None
    desired: dict[str, Any]
    observation: dict[str, Any]
    reasons: list[Any]
    actuator: str
    actuated_at_s: float | None
    result: str | None


class DecisionsPublic(_Page):
    data: list[DecisionPublic]


class TokenCreate(_Model):
    name: Name
    role: Literal["viewer", "operator", "admin"] = "viewer"
    team: ShortStr | None = None


class TokenPublic(_Out):
    id: int
    name: str
    role: str
    team: str | None
    created_at_s: float
    revoked: bool


class TokenIssuedPublic(_Out):
    id: int
    name: str
    role: str
    team: str | None
    token: str = Field(description="The secret: shown only in this response.")


class TokensPublic(_Page):
    data: list[TokenPublic]


class AuditEntryPublic(_Out):
    id: int
    at_s: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPublic(_Page):
    data: list[AuditEntryPublic]


# ------------------------------------------------------------------ spend

class SpendPoint(_Out):
    start_s: float
    cost_usd: float


class SpendSeries(_Out):
    key: str
    cost_usd: float
    points: list[SpendPoint]


class SpendPublic(_Out):
    start_s: float
    end_s: float
    step_s: float
    by: str
    total_usd: float
    series: list[SpendSeries]


# ------------------------------------------------------------------ cost allocation and waste (optional)

class CostWindow(_Out):
    start: float
    end: float


class CostRowPublic(_Out):
    key: str | None
    kind: str = Field("allocated", description="allocated, or unpriced (GPU-hours with no price; see `unpriced`).")
    cost_usd: float
    gpu_hours: float
    efficiency: float | None


class CostPublic(_Out):
    window: CostWindow
    by: str
    rows: list[CostRowPublic]
    idle_usd: float
    total_usd: float = Field(description="sum(rows.cost_usd) + idle_usd, to the cent.")
    source: str = Field("", description="Where the money came from (bill lines or priced GPU series), or how to "
                                        "fill an empty store.")
    empty: bool = Field(False, description="The store holds no cost data for the window: no money.")
    includes_demo: bool = Field(False, description="Demo rows from `serve --seed` are in the numbers.")
    unpriced: list[dict] = Field(default_factory=list, description="Nodes whose GPU series have no price, with the fix.")


class WasteRowPublic(_Out):
    model_config = ConfigDict(extra="allow")
    workload: str
    paid_gpu_hours: float
    used_gpu_hours: float
    efficiency: float
    idle_usd: float
    recommendation: str
    monthly_saving_usd: float


class WastePublic(_Out):
    model_config = ConfigDict(extra="allow")
    window: CostWindow
    workloads: list[WasteRowPublic]
    total_paid_usd: float
    total_idle_usd: float


# ------------------------------------------------------------------ forecasts and replays (optional)

Finite = Annotated[float, Field(ge=-1e12, le=1e12)]
NonNeg = Annotated[float, Field(ge=0, le=1e12)]


class ForecastCreate(_Model):
    values: list[Finite] = Field(min_length=2, max_length=20_000, description="The series, oldest first.")
    horizon: int = Field(ge=1, le=2_000)
    model: Literal["seasonal-naive", "ets", "linear", "auto"] = "auto"
    season: int = Field(1, ge=1, le=10_080)
    level: list[Annotated[float, Field(ge=1, le=99.9)]] = Field(default_factory=lambda: [80.0, 95.0], max_length=4)


class ForecastPublic(_Out):
    model: str
    horizon: int
    season: int
    mean: list[float]
    lo: dict[str, list[float]]
    hi: dict[str, list[float]]


class BacktestCreate(_Model):
    series: dict[Annotated[str, Field(max_length=128)], list[Finite]] = Field(min_length=1, max_length=200)
    horizon: int = Field(ge=1, le=1_000)
    windows: int = Field(ge=1, le=50)
    model: Literal["seasonal-naive", "ets", "linear", "auto"] = "auto"
    season: int = Field(1, ge=1, le=10_080)


class BacktestPublic(_Out):
    model: str
    series: int
    horizon: int
    windows: int
    mase: float | None
    smape: float | None
    skipped: list[dict[str, Any]]


class ServiceSpecCreate(_Model):
    name: Name
    gpu: ShortStr
    gpus_per_replica: int = Field(ge=1, le=64)
    capacity_per_replica: float = Field(gt=0, le=1e9)
    cold_start_s: float = Field(ge=0, le=86_400)
    min_replicas: int = Field(0, ge=0, le=10_000)
    max_replicas: int = Field(ge=1, le=10_000)
    scale_to_zero: bool = False
    max_queue_s: float = Field(0.0, ge=0, le=3_600)
    price_usd_per_hour: float | None = Field(None, ge=0, le=1e6)


class ReplayCreate(_Model):
    counts: list[NonNeg] = Field(min_length=1, max_length=20_000,
                                 description="Demand units that arrived in each step, oldest first.")
    step_s: float = Field(1.0, gt=0, le=3_600)
    service: ServiceSpecCreate
    policy: Literal["static-peak", "hpa", "knative", "predictive", "hybrid", "slo"] = DEFAULT_POLICY
    decision_interval_s: float = Field(15.0, ge=1, le=3_600)


class ReplayPublic(_Out):
    model_config = ConfigDict(extra="allow")
    policy: str
    cost_usd: float
    oracle_cost_usd: float | None
    cost_ratio_to_oracle: float | None
    demand_served_fraction: float
    gpu_hours: float
    cold_starts: int
    peak_replicas: int


class ReplayComparePublic(_Out):
    trace: str
    service: dict[str, Any]
    price_usd_per_hour: float
    price_source: str
    oracle_cost_usd: float | None
    results: list[ReplayPublic]


class ControllerRunPublic(_Out):
    actuated: list[DecisionPublic]
