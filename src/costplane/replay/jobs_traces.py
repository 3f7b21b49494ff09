"""Readers for job and node traces (adapters: file I/O), and the pricing of a trace's cluster from a catalog.

Job traces
- Alibaba `openb_pod_list_*.csv` (Weng et al., ATC 2023): `name,cpu_milli,memory_mib,num_gpu,gpu_milli,
  gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time`. Rules:
  * GPU demand: `num_gpu` whole GPUs, or `gpu_milli/1000` of one GPU when `num_gpu == 1 and gpu_milli < 1000`.
  * `num_gpu == 0`: CPU-only pod, not a GPU job: counted in `skipped["cpu_only"]`.
  * Never scheduled (`scheduled_time` empty, typically `pod_phase == Pending`): no run time is known,
    so it cannot be replayed: counted in `skipped["never_scheduled"]`.
  * Running / Succeeded / Failed: replayed with duration `deletion_time - scheduled_time`. A Failed pod
    held its GPUs until it failed, so that time is real demand; a Running pod was still running when
    the trace was cut (its duration is a lower bound).
  * Window: a snapshot starts no later than its first departure, `W = min(deletion_time)` over all
    well-formed pods (CPU-only and pending included), when the pods created before W arrived at less
    than a tenth of the rate of those after (a snapshot's few long-lived pods); otherwise the trace
    starts at its first arrival and nothing is clipped. Pods created
    before W were already in flight: they are submitted at W with their remaining time (counted in
    `skipped["clipped_at_window_start"]`, though they are replayed).
  * `qos` → priority: LS/Guaranteed high, Burstable normal, BE low. `gpu_spec` `A|B` → allowed models.
- The project's own CSV: `id,submit_s,duration_s,gpus` required; optional `gpu` (allowed models,
  `|`-separated), `min_gpu_memory_gib`, `estimate_s`, `priority` (int, or high/normal/low/LS/BE),
  `team`, `deadline_s` (absolute, same clock as `submit_s`), `checkpointable` (true/false).
  `submit_s` and `deadline_s` may be seconds or ISO 8601.
Malformed rows are skipped and reported with their line numbers; the good rows are kept.

Node lists: `openb_node_list_*.csv` (`sn,cpu_milli,memory_mib,gpu,model`) and `node_info_df.csv`
(`node_name,gpu_model,gpu_capacity_num,cpu_num`); nodes without GPUs are left out.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from costplane.core.errors import CatalogError, InputError
from costplane.core.gpus import normalise_gpu_name
from costplane.core.times import timestamp_seconds
from costplane.core.types import Catalog
from costplane.placement import PlacementRequest, place
from costplane.replay.jobs import ClusterSpec, NodeSpec
from costplane.schedule import PRIORITY_NORMAL, QOS_PRIORITY, Job, JobSet, NodeOffer
from costplane.traces import pod_gpus

ALIBABA_POD_COLUMNS = {"name", "num_gpu", "gpu_milli", "creation_time", "deletion_time"}  # + scheduled_time
OWN_COLUMNS = {"id", "submit_s", "duration_s", "gpus"}
DEFAULT_GPU = "V100"        # model of the p95-sized cluster when jobs name none (the trace cluster's era)
NODE_GPUS = 8               # GPUs per node of that cluster
# Undisclosed trace GPU types priced as a catalog model (override with --gpu-price-as NAME=MODEL).
DEFAULT_PRICE_AS: dict[str, str] = {
    "G1": "T4",
    "G2": "T4",
    "G3": "V100",
    "GPU-series-1": "A100-80GB",
    "GPU-series-2": "H100",
    "H800": "H100",
    "A800": "A100-80GB",
}


def trace_gpu_name(raw: str) -> str:
    """Trace model names to the project's names (V100M16 → V100, A100-SXM4-80GB → A100-80GB)."""
    name = str(raw).strip()
    if name.upper().startswith("A100-SXM4-80") or name.upper().startswith("A100-PCIE-80"):
        return "A100-80GB"
    if name.upper().startswith("A800"):
        return "A800"
    return normalise_gpu_name(name) if name else name


def _numeric(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.to_numeric(df[col].replace("", np.nan), errors="coerce")


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"job trace {path} does not exist", fix="pass --trace with an existing CSV file")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, on_bad_lines="skip")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"job trace {path} is not a readable CSV ({exc})", fix="pass a CSV file") from exc


def read_job_trace(path: str | Path, checkpointable: bool = False) -> JobSet:
    """Read an Alibaba pod list or a project job CSV (detected from the header)."""
    path = Path(path)
    df = _read_frame(path)
    cols = {c.strip() for c in df.columns}
    df.columns = [c.strip() for c in df.columns]
    if ALIBABA_POD_COLUMNS <= cols:
        return _alibaba_pods(df, str(path), checkpointable)
    if OWN_COLUMNS <= cols:
        return _own_jobs(df, str(path))
    raise InputError(
        f"{path}: header {sorted(cols)} is neither an Alibaba pod list nor a costplane job CSV",
        fix="use columns id,submit_s,duration_s,gpus[,gpu,priority,team,deadline_s,checkpointable,estimate_s] "
            "or the openb_pod_list_*.csv layout")


def _alibaba_pods(df: pd.DataFrame, source: str, checkpointable: bool) -> JobSet:
    line = np.arange(len(df)) + 2  # header is line 1
    num_gpu = _numeric(df, "num_gpu")
    milli = _numeric(df, "gpu_milli")
    created = _numeric(df, "creation_time")
    deleted = _numeric(df, "deletion_time")
    # without a scheduled_time column every pod is taken to have started when it was created
    sched = _numeric(df, "scheduled_time") if "scheduled_time" in df.columns else created.copy()
    malformed: list[tuple[int, str]] = []
    bad = num_gpu.isna() | created.isna() | deleted.isna() | (num_gpu < 0) | milli.isna() & (num_gpu == 1)
    for i in np.flatnonzero(bad.to_numpy()):
        malformed.append((int(line[i]), "num_gpu, gpu_milli, creation_time or deletion_time is not a number"))
    skipped: Counter[str] = Counter()
    cpu_only = ~bad & (num_gpu == 0)
    skipped["cpu_only"] = int(cpu_only.sum())
    never = ~bad & ~cpu_only & sched.isna()
    skipped["never_scheduled"] = int(never.sum())
    keep = ~bad & ~cpu_only & ~never
    began = sched.where(sched.notna(), created)
    duration = deleted - began
    negative = keep & (duration < 0)
    for i in np.flatnonzero(negative.to_numpy()):
        malformed.append((int(line[i]), f"negative duration ({duration.iloc[i]:g} s: deletion before start)"))
    keep &= ~negative
    valid = ~bad & ~negative  # CPU-only and pending pods also left: they date the snapshot too
    window_s = _snapshot_start(created[valid].to_numpy(float), deleted[valid].to_numpy(float))
    early = keep & (created < window_s)
    skipped["clipped_at_window_start"] = int(early.sum())
    qos = df["qos"].str.strip().str.lower() if "qos" in df.columns else pd.Series([""] * len(df))
    spec = df["gpu_spec"] if "gpu_spec" in df.columns else pd.Series([""] * len(df))
    jobs: list[Job] = []
    spec_cache: dict[str, tuple[str, ...]] = {}
    idx = np.flatnonzero(keep.to_numpy())
    names = df["name"].to_numpy()
    ng, mi, cr, de, du = (s.to_numpy() for s in (num_gpu, milli, created, deleted, duration))
    held = pod_gpus(ng, mi)
    qv, sv = qos.to_numpy(), spec.to_numpy()
    for i in idx:
        gpus = float(held[i])
        if cr[i] < window_s:
            submit, dur = window_s, float(de[i] - window_s)
        else:
            submit, dur = float(cr[i]), float(du[i])
        raw_spec = str(sv[i]).strip()
        if raw_spec not in spec_cache:
            spec_cache[raw_spec] = tuple(trace_gpu_name(s) for s in raw_spec.split("|") if s.strip())
        jobs.append(Job(str(names[i]), submit, dur, gpus, allowed_gpus=spec_cache[raw_spec],
                        priority=QOS_PRIORITY.get(str(qv[i]), PRIORITY_NORMAL), checkpointable=checkpointable))
    return JobSet(tuple(jobs), source, window_s, tuple(sorted(malformed)), dict(skipped))


SNAPSHOT_DENSITY_RATIO = 0.1  # arrivals before the first departure this much sparser: a snapshot


def _snapshot_start(created: np.ndarray, deleted: np.ndarray) -> float:
    """Where the recorded window starts. A snapshot (as openb) lists the few pods alive when it began,
    created long before, then dense arrivals: the window starts at the first departure. A trace that
    simply starts with its first arrival has as dense arrivals before its first departure as after:
    its window starts at the first arrival and nothing is clipped."""
    if created.size == 0:
        return 0.0
    first_out, first_in, last_in = float(deleted.min()), float(created.min()), float(created.max())
    before = int(np.count_nonzero(created < first_out))
    after = created.size - before
    if before == 0 or after == 0 or first_out <= first_in or last_in <= first_out:
        return first_in
    rate_before = before / (first_out - first_in)
    rate_after = after / (last_in - first_out)
    return first_out if rate_before < SNAPSHOT_DENSITY_RATIO * rate_after else first_in


def _seconds(series: pd.Series) -> pd.Series:
    """Seconds (any origin) or ISO 8601 → float seconds; unparseable → NaN."""
    return timestamp_seconds(series.replace("", np.nan))


_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f", ""}


def _priority(value: str) -> int | None:
    v = value.strip().lower()
    if v == "":
        return PRIORITY_NORMAL
    if v.lstrip("-").isdigit():
        return int(v)
    return QOS_PRIORITY.get(v)


def _own_jobs(df: pd.DataFrame, source: str) -> JobSet:
    submit = _seconds(df["submit_s"])
    duration = pd.to_numeric(df["duration_s"].replace("", np.nan), errors="coerce")
    gpus = pd.to_numeric(df["gpus"].replace("", np.nan), errors="coerce")
    est = pd.to_numeric(df["estimate_s"].replace("", np.nan), errors="coerce") if "estimate_s" in df else None
    mem = pd.to_numeric(df["min_gpu_memory_gib"].replace("", np.nan), errors="coerce") if "min_gpu_memory_gib" in df \
        else None
    deadline = _seconds(df["deadline_s"]) if "deadline_s" in df else None
    jobs: list[Job] = []
    malformed: list[tuple[int, str]] = []
    seen: set[str] = set()
    for i in range(len(df)):
        ln = i + 2
        jid = str(df["id"].iat[i]).strip()
        s, d, g = submit.iat[i], duration.iat[i], gpus.iat[i]
        why = None
        if not jid:
            why = "empty id"
        elif jid in seen:
            why = f"duplicate id {jid!r}"
        elif math.isnan(s):
            why = f"submit_s {df['submit_s'].iat[i]!r} is not seconds or ISO 8601"
        elif math.isnan(d):
            why = f"duration_s {df['duration_s'].iat[i]!r} is not a number"
        elif d < 0:
            why = f"negative duration_s {d:g}"
        elif math.isnan(g) or g <= 0 or (g > 1 and g != int(g)):
            why = f"gpus {df['gpus'].iat[i]!r} must be a fraction below 1 or a whole number >= 1"
        prio = _priority(str(df["priority"].iat[i])) if "priority" in df else PRIORITY_NORMAL
        if why is None and prio is None:
            why = f"priority {df['priority'].iat[i]!r} is not an integer or high/normal/low/LS/BE"
        ck = str(df["checkpointable"].iat[i]).strip().lower() if "checkpointable" in df else ""
        if why is None and ck not in _TRUE | _FALSE:
            why = f"checkpointable {ck!r} is not true/false"
        if why is not None:
            malformed.append((ln, why))
            continue
        seen.add(jid)
        allowed = tuple(trace_gpu_name(x) for x in str(df["gpu"].iat[i]).split("|") if x.strip()) \
            if "gpu" in df else ()
        e = est.iat[i] if est is not None else math.nan
        dl = deadline.iat[i] if deadline is not None else math.nan
        m = mem.iat[i] if mem is not None else math.nan
        jobs.append(Job(jid, float(s), float(d), float(g), allowed_gpus=allowed,
                        min_gpu_memory_gib=0.0 if math.isnan(m) else float(m),
                        estimate_s=None if math.isnan(e) else float(e), priority=int(prio),
                        team=str(df["team"].iat[i]).strip() or "default" if "team" in df else "default",
                        deadline_s=None if math.isnan(dl) else float(dl), checkpointable=ck in _TRUE))
    start = min((j.submit_s for j in jobs), default=0.0)
    return JobSet(tuple(jobs), source, start, tuple(malformed), {})


# --- nodes and prices -------------------------------------------------------------------------
def read_node_list(path: str | Path) -> list[tuple[str, int]]:
    """(model, GPUs) per GPU node from an openb node list or a node_info_df file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"node list {path} does not exist", fix="pass --nodes with an existing CSV file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"node list {path} is not a readable CSV ({exc})", fix="pass a CSV node list") from exc
    df.columns = [c.strip() for c in df.columns]
    cols = set(df.columns)
    if {"gpu", "model"} <= cols:
        gcol, mcol = "gpu", "model"
    elif {"gpu_model", "gpu_capacity_num"} <= cols:
        gcol, mcol = "gpu_capacity_num", "gpu_model"
    else:
        raise InputError(f"{path}: header {sorted(cols)} is not a known node list",
                         fix="use sn,cpu_milli,memory_mib,gpu,model or node_name,gpu_model,gpu_capacity_num,cpu_num")
    gpus = pd.to_numeric(df[gcol], errors="coerce")
    out = []
    for g, m in zip(gpus.to_numpy(), df[mcol].to_numpy(), strict=True):
        if not np.isnan(g) and g > 0 and str(m).strip():
            out.append((trace_gpu_name(str(m)), int(g)))
    if not out:
        raise InputError(f"{path} lists no node with GPUs", fix="pass a node list with a gpu count and model")
    return out


def catalog_model(model: str, price_as: dict[str, str]) -> str:
    return price_as.get(model, model)


def gpu_hourly_usd(model: str, catalog: Catalog, price_as: dict[str, str]) -> float:
    """Cheapest on-demand price of one GPU of `model` (per GPU of the cheapest machine) in the catalog."""
    name = catalog_model(model, price_as)
    df = catalog.frame
    rows = df[(df["gpu"] == name) & df["price_usd_per_hour"].notna()]
    if rows.empty:
        raise CatalogError(f"no on-demand price for GPU {model!r} (priced as {name!r}) in catalog {catalog.source}",
                           fix=f"pass --gpu-price-as {model}=MODEL with a model the catalog lists")
    return float((rows["price_usd_per_hour"] / rows["gpus"]).min())


def fixed_cluster(nodes: list[tuple[str, int]], catalog: Catalog, price_as: dict[str, str], label: str) -> ClusterSpec:
    price = {m: gpu_hourly_usd(m, catalog, price_as) for m in {m for m, _ in nodes}}
    return ClusterSpec(tuple(NodeSpec(m, g, price[m] * g) for m, g in nodes), label=label)


def p95_gpu_demand(jobs: list[Job] | tuple[Job, ...], q: float = 95.0) -> float:
    """Time-weighted q-th percentile of concurrent GPU demand if every job ran at its trace time."""
    if not jobs:
        return 0.0
    t = np.array([j.submit_s for j in jobs] + [j.submit_s + j.duration_s for j in jobs])
    d = np.array([j.gpu_units for j in jobs] + [-j.gpu_units for j in jobs])
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    level = np.cumsum(d)[:-1]
    width = np.diff(t)
    if width.sum() <= 0:
        return float(np.max(np.cumsum(d)))
    srt = np.argsort(level)
    cum = np.cumsum(width[srt]) / width.sum()
    return float(level[srt][min(np.searchsorted(cum, q / 100.0), len(cum) - 1)])


def _priced(model: str, catalog: Catalog, price_as: dict[str, str]) -> bool:
    try:
        gpu_hourly_usd(model, catalog, price_as)
    except CatalogError:
        return False
    return True


def sized_cluster(jobs: tuple[Job, ...], catalog: Catalog, price_as: dict[str, str],
                  capacity: int | None = None) -> ClusterSpec:
    """A fixed cluster of `capacity` GPUs (default: the trace's p95 concurrent demand, rounded up).

    Jobs that name GPU models are grouped by their first priced model; jobs that name none join the
    largest group (or `DEFAULT_GPU`). The GPUs are split between groups in proportion to each group's
    GPU-seconds, each group getting at least its largest job, in nodes of `NODE_GPUS` GPUs.
    """
    if not jobs:
        raise InputError("no job to size a cluster for", fix="pass a trace with GPU jobs or --capacity")
    priced: dict[str, bool] = {}

    def home(job: Job) -> str | None:
        for m in job.allowed_gpus:
            if m not in priced:
                priced[m] = _priced(m, catalog, price_as)
            if priced[m]:
                return m
        return None

    homes = [home(j) for j in jobs]
    work: Counter[str] = Counter()
    for j, m in zip(jobs, homes, strict=True):
        if m is not None:
            work[m] += j.gpu_units * max(j.duration_s, 1.0)
    default = work.most_common(1)[0][0] if work else DEFAULT_GPU
    biggest: Counter[str] = Counter({default: 1})
    for j, m in zip(jobs, homes, strict=True):
        if m is None and j.allowed_gpus:
            continue  # names only unpriced models: rejected by the replay, with that reason
        if m is None:
            m = default
            work[m] += j.gpu_units * max(j.duration_s, 1.0)
        biggest[m] = max(biggest[m], max(j.whole_gpus, 1))
    if not work:
        work[default] = 1.0
    total = capacity if capacity is not None else max(1, math.ceil(p95_gpu_demand(jobs) - 1e-9))
    all_work = sum(work.values()) or 1.0
    split = {m: max(biggest[m], round(total * w / all_work)) for m, w in work.items()}
    if capacity is not None and len(split) == 1:
        split = {next(iter(split)): capacity}
    nodes: list[tuple[str, int]] = []
    for m, gpus in sorted(split.items(), key=lambda kv: -kv[1]):
        per_node = max(NODE_GPUS, biggest[m])
        nodes += [(m, per_node)] * (gpus // per_node) + ([(m, gpus % per_node)] if gpus % per_node else [])
    how = "given" if capacity is not None else "p95 demand"
    label = " + ".join(f"{g} × {m}" for m, g in sorted(split.items(), key=lambda kv: -kv[1]))
    return fixed_cluster(nodes, catalog, price_as, f"{label} ({how})")


def elastic_offers(models: set[str], catalog: Catalog, price_as: dict[str, str], spot: bool = True
                   ) -> tuple[NodeOffer, ...]:
    """Cheapest on-demand and spot machine per (model, GPUs per node), across all clouds and regions."""
    offers: list[NodeOffer] = []
    df = catalog.frame
    for model in sorted(models):
        name = catalog_model(model, price_as)
        sizes = sorted(set(df.loc[df["gpu"] == name, "gpus"].tolist()))
        for n in sizes:
            try:
                ranked = place(PlacementRequest(gpu=name, gpus_per_node=int(n), spot=spot), catalog, limit=None)
            except InputError:
                continue
            except Exception as exc:  # InfeasibleError: no priced offer of that size
                if type(exc).__name__ != "InfeasibleError":
                    raise
                continue
            for want_spot in (False, True) if spot else (False,):
                p = next((p for p in ranked if p.spot == want_spot), None)
                if p is not None:
                    mem = float(df.iloc[p.offer_index]["gpu_memory_gib"]) if p.offer_index is not None else 0.0
                    offers.append(NodeOffer(model, int(n), p.hourly_usd, want_spot, p.cloud, p.region,
                                            p.instance_type, mem))
    return tuple(offers)


def parse_price_as(items: list[str] | None) -> dict[str, str]:
    out = dict(DEFAULT_PRICE_AS)
    for item in items or ():
        if "=" not in item:
            raise InputError(f"--gpu-price-as {item!r} is not NAME=MODEL", fix="write e.g. --gpu-price-as G2=A10")
        k, v = item.split("=", 1)
        out[trace_gpu_name(k)] = normalise_gpu_name(v.strip())
    return out


def resample_jobs(jobs: tuple[Job, ...], n: int, seed: int = 0) -> tuple[Job, ...]:
    """`n` jobs bootstrapped from a trace: shapes, durations and priorities drawn with replacement,
    inter-arrival gaps drawn from the trace's own gaps (so load per unit time stays the trace's)."""
    rng = np.random.default_rng(seed)
    src = sorted(jobs, key=lambda j: j.submit_s)
    gaps = np.diff([j.submit_s for j in src]) if len(src) > 1 else np.array([60.0])
    picks = rng.integers(0, len(src), n)
    t = np.concatenate([[src[0].submit_s], src[0].submit_s + np.cumsum(rng.choice(gaps, n - 1))])
    out = []
    for k, (i, s) in enumerate(zip(picks.tolist(), t.tolist(), strict=True)):
        j = src[i]
        out.append(Job(f"r{k}", float(s), j.duration_s, j.gpus, j.allowed_gpus, j.min_gpu_memory_gib, j.estimate_s,
                       j.priority, j.team, None if j.deadline_s is None else s + (j.deadline_s - j.submit_s),
                       j.checkpointable))
    return tuple(out)
