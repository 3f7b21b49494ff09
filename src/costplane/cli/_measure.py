"""`costplane cost | waste | budget | report`: attribution, waste findings, budgets and the savings report.

Data: the store, through the one cost path (costplane.costing: bill lines, or GPU series priced at
their nodes' instance types from the catalog with --discounts). An empty store reports no money and
says how to fill it; the bundled sample is read only with `--sample`. Budgets never read demo rows
(`serve --seed`), and alerts are never sent for sample or demo data.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from costplane.cli._common import CatalogOpt, DiscountsOpt, Finite, JsonOpt, console, emit_json, err_console, money
from costplane.core.errors import InputError

DbOpt = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL (default: COSTPLANE_DB_URL or ~/.costplane SQLite).")]
WindowOpt = Annotated[str, typer.Option("--window", help="How far back from --end: 7d, 24h, 90m.")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Window end, ISO 8601 or epoch s (default: newest data point).")]
SampleOpt = Annotated[bool, typer.Option("--sample", help="Read the bundled sample instead of the store.")]
GpuOpt = Annotated[str | None, typer.Option("--gpu", help="Fallback for GPU series with no instance type: price them "
                                            "at the median on-demand per-GPU price of this model (the offer is named).")]
PriceOpt = Annotated[float | None, typer.Option("--price-usd-per-gpu-hour",
                                                help="Fallback price of one GPU-hour, USD, for series with no instance type.")]
MappingOpt = Annotated[Path | None, typer.Option("--mapping", help="Mapping file whose `nodes:` section names each "
                                                 "node's instance_type, cloud and region (see docs/measure.md).")]

budget_app = typer.Typer(help="Monthly budgets per team or project: forecast and alerts.", no_args_is_help=True)


def _time_arg(text: str | None, flag: str) -> float | None:
    from costplane.core.times import parse_timestamp

    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise InputError(f"{flag} {text!r} is neither epoch seconds nor ISO 8601",
                         fix=f"use e.g. {flag} 2026-11-01T00:00:00Z") from None


def _iso(ts_s: float) -> str:
    from costplane.costing import iso

    return iso(ts_s)


def _nodes(mapping: Path | None):
    if mapping is None:
        return None
    from costplane.ingest._mapping import node_mapping_from_dict, read_mapping_file

    return node_mapping_from_dict(read_mapping_file(mapping), str(mapping))


def _measure(db, catalog_path, window_s, end_s, sample, gpu=None, price=None, discounts=None, mapping=None,
             include_demo=True):
    """(catalog, Costs, window): the store through the one cost path, or the bundled sample with --sample."""
    import time

    from costplane.attribute import Window
    from costplane.catalog import load_catalog
    from costplane.costing import load_costs, newest_data_s
    from costplane.report._sources import load_bundled_sample, window_for
    from costplane.store import Store

    cat = load_catalog(catalog_path, discounts)
    if sample:
        data = load_bundled_sample(cat)
        return cat, data, window_for(data, window_s, end_s)
    store = Store.open(db, create=False)
    newest = newest_data_s(store, include_demo) if end_s is None else None
    end = end_s if end_s is not None else (newest + 3600.0 if newest is not None else time.time())
    costs = load_costs(store, cat, end - window_s - 3600.0, end, nodes=_nodes(mapping), gpu=gpu,
                       price_usd_per_gpu_hour=price, include_demo=include_demo)
    if end_s is None and newest is not None:  # the newest data point: a GPU sample stands for one more step
        end = min(end, costs.newest_s) if costs.newest_s is not None else newest
    return cat, costs, Window(end - window_s, end)


# ------------------------------------------------------------------ cost

def cost_report(data, window, by: str, shared_idle: bool) -> dict[str, Any]:
    """The `cost` JSON (costplane.costing.cost_view): whole cents that, with idle, add up to the total exactly."""
    from costplane.costing import cost_view

    return cost_view(data, window, by, shared_idle)


def cost_cmd(
    window: WindowOpt = "7d",
    by: Annotated[str, typer.Option("--by", help="Group by team, project, workload, node, cloud, namespace, cluster or "
                                                 "label:KEY; several joined by commas (namespace,team).")] = "team",
    end: EndOpt = None,
    share_idle: Annotated[bool, typer.Option("--share-idle", help="Share idle cost back over the rows, by cost.")] = False,
    gpu: GpuOpt = None,
    price_usd_per_gpu_hour: PriceOpt = None,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    mapping: MappingOpt = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Attribute GPU cost to teams, projects or workloads over a window; idle cost shown apart."""
    from costplane.attribute import group_keys
    from costplane.core.times import MAX_WINDOW_S, parse_duration_s

    group_keys(by)  # team, project, workload, node, cloud, namespace, cluster, label:KEY, or several joined by commas
    _check_price(price_usd_per_gpu_hour)
    window_s, end_s = parse_duration_s(window, "--window", MAX_WINDOW_S), _time_arg(end, "--end")
    _, data, w = _measure(db, catalog, window_s, end_s, sample, gpu, price_usd_per_gpu_hour, discounts, mapping)
    out = cost_report(data, w, by, share_idle)
    _warn_unpriced(out)
    if out["empty"]:
        err_console.print(f"no cost data: {out['source']}", highlight=False, markup=False, soft_wrap=True)
    if as_json:
        emit_json(out)
        return
    _print_cost(out)


def _check_price(price: float | None) -> None:
    if price is not None and not (price > 0 and math.isfinite(price)):
        raise InputError(f"--price-usd-per-gpu-hour must be > 0, got {price:g}", fix="pass e.g. 2.0")


def _warn_unpriced(out: dict[str, Any]) -> None:
    for u in out.get("unpriced", []):
        err_console.print(f"warning: unpriced: {u['series']} GPU series ({u.get('gpu_hours', 0):,.1f} GPU-h), "
                          f"e.g. {u['example_series']}: {u['reason']}. To fix: {u['fix']}",
                          highlight=False, markup=False, soft_wrap=True)


def _print_cost(out: dict[str, Any]) -> None:
    table = Table(title=f"cost by {out['by']} · {out['window']['start']} → {out['window']['end']}")
    for col in (out["by"], "cost", "GPU-h", "used GPU-h", "efficiency"):
        table.add_column(col, justify="left" if col == out["by"] else "right")
    for r in out["rows"]:
        eff = "-" if r["efficiency"] is None else f"{100 * r['efficiency']:.1f}%"
        table.add_row(r["key"], money(r["cost_usd"]), f"{r['gpu_hours']:,.1f}", f"{r['used_gpu_hours']:,.1f}", eff)
    table.add_row("[dim]idle[/dim]", money(out["idle_usd"]), f"{out['idle_gpu_hours']:,.1f}", "", "")
    table.add_row("[b]total[/b]", money(out["total_usd"]), "", "", "")
    console.print(table)
    console.print(f"[dim]source: {out['source']}[/dim]")


# ------------------------------------------------------------------ waste

def _read_text(path: Path, flag: str) -> str:
    if not path.exists() or not path.is_file():
        raise InputError(f"{flag} {path} does not exist", fix="pass a CSV file of GPU use samples")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})", fix="save the file as UTF-8 CSV") from None


def waste_findings(util_path: Path | None, memory_path: Path | None, gpu: str | None, price: float | None,
                   gpus_per_workload: int, idle_below: float, catalog_path: Path | None, sample: bool = False,
                   db: str | None = None, window_s: float = 7 * 86400.0, end_s: float | None = None,
                   discounts: Path | None = None, mapping: Path | None = None) -> dict[str, Any]:
    """The `waste` JSON for a file, the bundled sample (`sample`), or else the store's GPU series."""
    import numpy as np

    from costplane.catalog import load_catalog
    from costplane.core.gpus import gpu_memory_gib, resolve_gpu
    from costplane.report._sources import cheapest_gpu_hour, load_bundled_sample
    from costplane.waste import UsageSeries, WasteConfig, find_waste, parse_usage_csv, waste_report

    if gpus_per_workload < 1:
        raise InputError(f"--gpus-per-workload must be ≥ 1, got {gpus_per_workload}", fix="pass 1 or more")
    if not (0 < idle_below <= 100):
        raise InputError(f"--idle-below must be in (0, 100] percent, got {idle_below:g}", fix="use e.g. --idle-below 5")
    _check_price(price)
    if util_path is None and not sample:
        return _store_waste(db, catalog_path, discounts, mapping, window_s, end_s, gpu, price, idle_below)
    cat = load_catalog(catalog_path, discounts)
    memory = None
    source = str(util_path)
    if util_path is None:
        data = load_bundled_sample(cat)
        u = data.usage.sort_values(["workload", "ts_s"])
        util = UsageSeries(u.workload.to_numpy(object), u.ts_s.to_numpy(float), u.gpu_util_pct.to_numpy(float))
        m = u.dropna(subset=["gpu_memory_gib"])
        memory = UsageSeries(m.workload.to_numpy(object), m.ts_s.to_numpy(float),
                             m.gpu_memory_gib.to_numpy(float) * 2**30)
        gpu = gpu or data.gpu
        price = price if price is not None else data.price_usd_per_gpu_hour
        source = data.source
    else:
        util = parse_usage_csv(_read_text(util_path, "--utilisation"), str(util_path), percent=True)
        if memory_path is not None:
            memory = parse_usage_csv(_read_text(memory_path, "--memory"), str(memory_path), percent=False)
    if gpu is not None:
        gpu = resolve_gpu(gpu, cat.gpu_models)
        if price is None:
            price = cheapest_gpu_hour(cat, gpu)
            if price is None:
                raise InputError(f"no on-demand {gpu} price in the catalog", fix="pass --price-usd-per-gpu-hour")
    if price is None:
        raise InputError("no GPU price: waste needs --price-usd-per-gpu-hour P or --gpu MODEL",
                         fix="pass --price-usd-per-gpu-hour 2.0 or --gpu A100-80GB")
    cfg = WasteConfig(price, gpus_per_workload, idle_below, gpu, gpu_memory_gib(gpu) if gpu else None)
    findings = find_waste(util, cfg, memory, cat)
    out = waste_report(findings, cfg)
    warnings = list(util.warnings) + (list(memory.warnings) if memory is not None else [])
    rejected = list(util.rejected) + (list(memory.rejected) if memory is not None else [])
    out.update({"source": source, "gpu": gpu, "warnings": warnings, "rejected_rows": len(rejected),
                "rejected": rejected[:20], "samples": int(len(util.ts_s)),
                "memory_joined": memory is not None and bool(np.any([w["peak_memory_gib"] is not None
                                                                      for w in out["workloads"]]))})
    return out


def _store_waste(db, catalog_path, discounts, mapping, window_s, end_s, gpu, price, idle_below) -> dict[str, Any]:
    """Waste on the store's GPU series, each workload priced by the one cost path."""
    from costplane.core.gpus import resolve_gpu
    from costplane.costing import EMPTY_FIX, store_waste
    from costplane.store import Store

    cat, costs, window = _measure(db, catalog_path, window_s, end_s, False, gpu, price, discounts, mapping)
    if gpu:
        gpu = resolve_gpu(gpu, cat.gpu_models)
    out = store_waste(Store.open(db, create=False), costs, cat, window, price_usd_per_gpu_hour=price, gpu=gpu,
                      idle_below_pct=idle_below)
    if not out["samples"]:
        raise InputError(f"no GPU use samples (gpu_util_pct) in the store for {_iso(window.start_s)} → "
                         f"{_iso(window.end_s)}", fix=f"pass --utilisation FILE, or {EMPTY_FIX}")
    out.update({"gpu": gpu, "warnings": [f"unpriced workload {u['workload']}: {u['reason']}" for u in out["unpriced"]],
                "rejected_rows": 0, "rejected": [], "memory_joined": any(w["peak_memory_gib"] is not None
                                                                         for w in out["workloads"])})
    return out


def waste_cmd(
    utilisation: Annotated[Path | None, typer.Option("--utilisation", "--utilization",
                                                     help="GPU utilisation CSV: timestamp,workload,gpu_util_pct or "
                                                          "timestamp_anon,value,container_ip (default: the store).")] = None,
    memory: Annotated[Path | None, typer.Option("--memory", help="GPU memory used (bytes), same layouts.")] = None,
    gpu: GpuOpt = None,
    price_usd_per_gpu_hour: PriceOpt = None,
    gpus_per_workload: Annotated[int, typer.Option("--gpus-per-workload", help="GPUs each workload holds.", parser=Finite(1, 1024, whole=True))] = 1,
    idle_below: Annotated[float, typer.Option("--idle-below", help="Util % below which a GPU counts as idle.", parser=Finite(0, 100))] = 5.0,
    top: Annotated[int, typer.Option("--top", help="Rows in the table (JSON has all).", parser=Finite(0, 100_000, whole=True))] = 15,
    window: WindowOpt = "7d",
    end: EndOpt = None,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    mapping: MappingOpt = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Paid vs used GPU-hours per workload, idle cost, and the action that would save the most."""
    from costplane.core.times import MAX_WINDOW_S, parse_duration_s

    out = waste_findings(utilisation, memory, gpu, price_usd_per_gpu_hour, gpus_per_workload, idle_below, catalog,
                         sample, db, parse_duration_s(window, "--window", MAX_WINDOW_S), _time_arg(end, "--end"), discounts, mapping)
    for w in out["warnings"]:
        err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
    if out["rejected_rows"]:
        err_console.print(f"warning: {out['rejected_rows']} row(s) rejected, first: {out['rejected'][0]}",
                          highlight=False, markup=False, soft_wrap=True)
    if as_json:
        emit_json(out)
        return
    _print_waste(out, top)


def _print_waste(out: dict[str, Any], top: int) -> None:
    rows = sorted(out["workloads"], key=lambda r: -r["monthly_saving_usd"])[:top]
    table = Table(title=f"waste · {len(out['workloads'])} workloads · ${out['price_usd_per_gpu_hour']:.4f}/GPU-h")
    for col in ("workload", "paid GPU-h", "eff", "idle", "recommendation", "saves/month"):
        table.add_column(col, justify="right" if col in ("paid GPU-h", "eff", "idle", "saves/month") else "left")
    for r in rows:
        table.add_row(r["workload"][:32], f"{r['paid_gpu_hours']:,.1f}", f"{100 * r['efficiency']:.1f}%",
                      money(r["idle_usd"]), r["recommendation"], money(r["monthly_saving_usd"]))
    console.print(table)
    console.print(f"paid {money(out['total_paid_usd'])}, idle {money(out['total_idle_usd'])}; "
                  f"the recommended actions would save {money(out['total_monthly_saving_usd'])} per month")


# ------------------------------------------------------------------ budget

@budget_app.command("set")
def budget_set_cmd(
    amount: Annotated[float, typer.Option("--amount", help="Monthly budget, USD (<= 1e12).", parser=Finite(-1e12, 1e12))],
    team: Annotated[str | None, typer.Option("--team", help="Team the budget is for.")] = None,
    project: Annotated[str | None, typer.Option("--project", help="Project the budget is for.")] = None,
    thresholds: Annotated[str, typer.Option("--thresholds", help="Alert at these fractions of the budget.")] = "0.5,0.8,1.0",
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST alerts as JSON to this URL.")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update a monthly budget for a team or a project."""
    from sqlalchemy import select

    from costplane.budget import BudgetSpec
    from costplane.budget._webhook import redact
    from costplane.store import Budget, Store

    if (team is None) == (project is None):
        raise InputError("a budget is for one team or one project", fix="pass exactly one of --team or --project")
    try:
        ts = tuple(float(t) for t in thresholds.split(",") if t.strip())
    except ValueError:
        raise InputError(f"--thresholds {thresholds!r} is not a list of numbers", fix="use e.g. 0.5,0.8,1.0") from None
    if webhook:  # https to a public host only (COSTPLANE_WEBHOOK_ALLOW_HOSTS for an internal one)
        from costplane.budget._webhook import check_webhook_url

        webhook = check_webhook_url(webhook)
    spec = BudgetSpec("team" if team else "project", team or project or "", amount, ts, webhook)
    store = Store.open(db)
    with store.session() as s:
        row = s.scalar(select(Budget).where(Budget.scope == spec.scope, Budget.name == spec.name,
                                            Budget.period == "month"))
        if row is None:
            row = Budget(scope=spec.scope, name=spec.name, period="month")
            s.add(row)
        row.amount_usd, row.alert_thresholds, row.webhook_url = spec.amount_usd, list(spec.thresholds), spec.webhook_url
    info = {"scope": spec.scope, "name": spec.name, "amount_usd": spec.amount_usd, "thresholds": list(spec.thresholds),
            "webhook_url": redact(spec.webhook_url), "period": "month"}
    if as_json:
        emit_json(info)
        return
    console.print(f"budget for {spec.scope} {spec.name}: {money(spec.amount_usd)} per month, alerts at "
                  f"{', '.join(f'{t:.0%}' for t in spec.thresholds)}" + (f", webhook {redact(webhook)}" if webhook else ""))


def budget_statuses(db, catalog_path, now_s, sample, discounts=None, mapping=None) -> tuple[list, Any]:
    """Evaluate every stored budget against the month-to-date hourly spend of its team or project.

    Spend comes from the one cost path without demo rows (`serve --seed`); with --sample, from the
    bundled sample (then alerts are shown but never sent).
    """
    import time

    from sqlalchemy import select

    from costplane.budget import BudgetSpec, evaluate, month_bounds
    from costplane.catalog import load_catalog
    from costplane.costing import hourly_spend, load_costs, newest_data_s
    from costplane.report._sources import load_bundled_sample
    from costplane.store import Budget, Store

    store = Store.open(db, create=False)
    with store.session() as s:
        specs = [BudgetSpec(b.scope, b.name, b.amount_usd, tuple(b.alert_thresholds or ()), b.webhook_url)
                 for b in s.scalars(select(Budget).order_by(Budget.scope, Budget.name)).all()]
    if not specs:
        return [], None
    cat = load_catalog(catalog_path, discounts)
    if sample:
        data = load_bundled_sample(cat)
        now = now_s if now_s is not None else data.newest_s
    else:
        now = now_s if now_s is not None else newest_data_s(store, include_demo=False)
        now = now if now is not None else time.time()
        data = load_costs(store, cat, month_bounds(now)[0], now, nodes=_nodes(mapping), include_demo=False)
    month_start, _, _ = month_bounds(now)
    start = month_start if data.oldest_s is None else max(month_start, min(data.oldest_s, now))
    statuses = [evaluate(spec, hourly_spend(data, spec.scope, spec.name, start, now), now) for spec in specs]
    return statuses, data


def _deliver(db, statuses, resend: bool) -> list[str]:
    """POST new alerts to each budget's webhook; remember what was sent (audit_log) so it is sent once."""
    import time

    from sqlalchemy import select

    from costplane.budget._webhook import post_alerts
    from costplane.store import AuditLog, Store

    store = Store.open(db)
    problems = []
    for st in statuses:
        if not st.spec.webhook_url or not st.alerts:
            continue
        keys = {a: f"{a.scope}:{a.name}:{a.month}:{a.threshold:g}:{a.basis}" for a in st.alerts}
        with store.session() as s:
            sent = set(s.scalars(select(AuditLog.target).where(AuditLog.action == "budget_alert",
                                                              AuditLog.target.in_(list(keys.values())))).all())
        new = [a for a, k in keys.items() if resend or k not in sent]
        problem = post_alerts(st.spec.webhook_url, new)
        if problem:
            problems.append(problem)
            continue
        with store.session() as s:
            for a in new:
                s.add(AuditLog(at_s=time.time(), actor="costplane budget", action="budget_alert", target=keys[a],
                               detail=a.to_dict()))
    return problems


@budget_app.command("status")
def budget_status_cmd(
    now: Annotated[str | None, typer.Option("--now", help="Evaluate at this time (default: newest data point).")] = None,
    notify: Annotated[bool, typer.Option("--notify/--no-notify", help="POST new alerts to the budgets' webhooks.")] = True,
    resend: Annotated[bool, typer.Option("--resend", help="POST alerts even if they were sent before.")] = False,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    mapping: MappingOpt = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Month-to-date spend, end-of-month forecast and alerts of every budget (demo data never counts)."""
    statuses, data = budget_statuses(db, catalog, _time_arg(now, "--now"), sample, discounts, mapping)
    problems = _deliver(db, statuses, resend) if notify and not sample else []
    if sample and notify and any(st.alerts and st.spec.webhook_url for st in statuses):
        err_console.print("note: alerts on the bundled sample are shown, never sent to webhooks",
                          highlight=False, markup=False)
    if data is not None and data.empty:
        err_console.print(f"no cost data: {data.source}", highlight=False, markup=False, soft_wrap=True)
    for p in problems:
        err_console.print(f"warning: {p}", highlight=False, markup=False, soft_wrap=True)
    if as_json:
        emit_json({"source": data.source if data else None, "sample": sample,
                   "budgets": [s.to_dict() for s in statuses], "delivery_problems": problems})
        return
    if not statuses:
        console.print("no budgets yet: add one with `costplane budget set --team NAME --amount 10000`")
        return
    table = Table(title=f"budgets · {statuses[0].month}")
    for col in ("scope", "name", "budget", "spent", "forecast", "of budget", "method"):
        table.add_column(col, justify="right" if col in ("budget", "spent", "forecast", "of budget") else "left")
    for s in statuses:
        table.add_row(s.spec.scope, s.spec.name, money(s.spec.amount_usd), money(s.spent_usd), money(s.forecast_usd),
                      f"{s.forecast_usd / s.spec.amount_usd:.0%}", s.forecast_method)
    console.print(table)
    for s in statuses:
        for a in s.alerts:
            console.print(f"[yellow]ALERT[/yellow] {a.message}", highlight=False)


# ------------------------------------------------------------------ report

def report_context(db, catalog_path, window_s, end_s, sample, discounts=None, mapping=None) -> dict[str, Any]:
    from costplane.costing import EMPTY_FIX, spend_buckets, store_waste
    from costplane.report._savings import savings_report
    from costplane.store import Store

    cat, data, window = _measure(db, catalog_path, window_s, end_s, sample, discounts=discounts, mapping=mapping)
    if data.empty:
        raise InputError(f"nothing to report: the store holds no cost data from {_iso(window.start_s)} to "
                         f"{_iso(window.end_s)}", fix=EMPTY_FIX.replace("look at", "report on"))
    cost = cost_report(data, window, "team", False)
    start = max(window.start_s, data.oldest_s)
    bucket_s = 3600.0 if window.end_s - start <= 14 * 86400 else 86400.0
    starts, by_team, idle = spend_buckets(data, start, window.end_s, bucket_s, "team")
    if sample:
        waste, gpu = _waste_from_data(data, cat), data.gpu
    else:
        waste, gpu = store_waste(Store.open(db, create=False), data, cat, window), _single_gpu(data, cat)
    paid_gpu_hours = sum(r["gpu_hours"] for r in cost["rows"]) + cost["idle_gpu_hours"]
    plans = _plans_in_window(db, window) if not sample else ()
    savings = savings_report(cost["total_usd"], paid_gpu_hours, gpu, cat, plans,
                             waste.get("total_monthly_saving_usd", 0.0)).to_dict()
    return {"cost": cost, "waste": waste, "savings": savings,
            "timeline": {"starts": starts, "by_team": by_team, "idle": idle, "bucket_s": bucket_s}}


def _single_gpu(data, cat) -> str | None:
    """The GPU model of the priced instance types, when they all have one (the savings baseline needs it)."""
    types = {p["instance_type"] for p in data.pricing if p.get("instance_type")}
    models = {o.gpu for o in cat.offers if o.instance_type in types}
    return models.pop() if len(models) == 1 else None


def _waste_from_data(data, cat) -> dict[str, Any]:
    from costplane.core.gpus import gpu_memory_gib
    from costplane.waste import UsageSeries, WasteConfig, find_waste, waste_report

    u = data.usage.sort_values(["workload", "ts_s"])
    util = UsageSeries(u.workload.to_numpy(object), u.ts_s.to_numpy(float), u.gpu_util_pct.to_numpy(float))
    memory = None
    if "gpu_memory_gib" in u:
        m = u.dropna(subset=["gpu_memory_gib"])
        memory = UsageSeries(m.workload.to_numpy(object), m.ts_s.to_numpy(float), m.gpu_memory_gib.to_numpy(float) * 2**30)
    if data.price_usd_per_gpu_hour is None:
        return {"workloads": [], "total_monthly_saving_usd": 0.0}
    cfg = WasteConfig(data.price_usd_per_gpu_hour, 1, 5.0, data.gpu, data.gpu_memory_gib or
                      (gpu_memory_gib(data.gpu) if data.gpu else None))
    return waste_report(find_waste(util, cfg, memory, cat), cfg)


def _plans_in_window(db, window) -> tuple[dict[str, Any], ...]:
    from sqlalchemy import select

    from costplane.store import PlanRow, Store

    store = Store.open(db, create=False)
    with store.session() as s:
        rows = s.scalars(select(PlanRow).where(PlanRow.created_at_s >= window.start_s,
                                               PlanRow.created_at_s < window.end_s)).all()
        return tuple({"id": r.id, "created_at_s": r.created_at_s, "total_usd": r.total_usd,
                      "naive_total_usd": r.naive_total_usd} for r in rows)


def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path("report.html"),
    window: WindowOpt = "7d",
    end: EndOpt = None,
    catalog: CatalogOpt = None,
    discounts: DiscountsOpt = None,
    mapping: MappingOpt = None,
    db: DbOpt = None,
    sample: SampleOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a self-contained HTML report: spend by team, idle, efficiency, top waste and savings."""
    from costplane.core.times import MAX_WINDOW_S, parse_duration_s
    from costplane.report._html import render_report, spend_chart, team_chart, waste_chart

    try:  # fail before the work, not after it
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}", fix="pass --out in a writable folder") from None
    ctx = report_context(db, catalog, parse_duration_s(window, "--window", MAX_WINDOW_S), _time_arg(end, "--end"), sample, discounts, mapping)
    t = ctx["timeline"]
    allocated = [r for r in ctx["cost"]["rows"] if r["kind"] == "allocated"]
    ctx["charts"] = {"spend": spend_chart(t["starts"], t["by_team"], t["idle"], t["bucket_s"]),
                     "teams": team_chart(allocated, ctx["cost"]["idle_usd"]),
                     "waste": waste_chart(ctx["waste"]["workloads"])}
    try:
        out.write_text(render_report(ctx), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}", fix="pass --out in a writable folder") from None
    summary = {"out": str(out), "bytes": out.stat().st_size, "total_usd": ctx["cost"]["total_usd"],
               "idle_usd": ctx["cost"]["idle_usd"], "savings": ctx["savings"]}
    if as_json:
        emit_json(summary)
        return
    console.print(f"wrote {out} ({summary['bytes'] / 1024:.0f} KiB): total {money(summary['total_usd'])}, "
                  f"idle {money(summary['idle_usd'])}, saved vs baseline {money(ctx['savings']['saved_usd'])}")


# ------------------------------------------------------------------ demo and registration

def demo_measure() -> None:
    """Cost by team and the top waste findings on the bundled sample (no store needed)."""
    from costplane.catalog import load_catalog
    from costplane.report._sources import load_bundled_sample, window_for

    data = load_bundled_sample(load_catalog())
    _print_cost(cost_report(data, window_for(data, 7 * 86400.0, None), "team", False))
    _print_waste(waste_findings(None, None, None, None, 1, 5.0, None, sample=True), 5)


def register(app: typer.Typer) -> None:
    app.command("cost")(cost_cmd)
    app.command("waste")(waste_cmd)
    app.add_typer(budget_app, name="budget")
    app.command("report")(report_cmd)
