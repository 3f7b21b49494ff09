"""Which node a GPU series ran on, that node's instance type, cloud and region, and its per-GPU price.

Resolution, per series (first hit wins; label names are compared after lower-casing and turning
every non-alphanumeric character into `_`, and without a `label_` prefix, so the Kubernetes label
`node.kubernetes.io/instance-type`, its Prometheus form `node_kubernetes_io_instance_type` and
kube-state-metrics' `label_node_kubernetes_io_instance_type` are one name):

- node:          `Hostname` (DCGM exporter), `node`, `kubernetes_node`, `exported_node`, `nodename`, `host`
- instance type: `node.kubernetes.io/instance-type`, `beta.kubernetes.io/instance-type`, `instance_type`;
                 else the mapping file's `nodes:` row for the node (or its `"*"` row)
- region:        `topology.kubernetes.io/region`, `failure-domain.beta.kubernetes.io/region`, `region`; else the row
- cloud:         `cloud`, `cloud_provider`; else the row; else the only cloud that sells that instance type

Price: the catalog's on-demand offer of that instance type (and cloud and region when known) — with
`--discounts` applied by the catalog loader — divided by the offer's GPUs: each series is one GPU. On a
spot node (capacity type `spot` stored by `costplane ingest kubernetes`, or the series' own
`karpenter.sh/capacity-type`, `eks.amazonaws.com/capacityType`, `cloud.google.com/gke-spot` labels) the
offer's spot price, when the catalog has one.
Zones of a region may differ: the cheapest zone. Region unknown and the type sold in several
regions: the median regional price, and the offer used is named.

Series with no instance type are priced only when the user says how: `--price-usd-per-gpu-hour P`,
or `--gpu MODEL` (the median on-demand per-GPU price of MODEL in the catalog, the offer named).
Everything else is listed as unpriced, with the fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from costplane.core.types import Catalog, Offer

NODE_LABELS = ("hostname", "node", "kubernetes_node", "exported_node", "nodename", "host")
INSTANCE_TYPE_LABELS = ("node_kubernetes_io_instance_type", "beta_kubernetes_io_instance_type", "instance_type")
REGION_LABELS = ("topology_kubernetes_io_region", "failure_domain_beta_kubernetes_io_region", "region")
CLOUD_LABELS = ("cloud", "cloud_provider")
CAPACITY_LABELS = ("karpenter_sh_capacity_type", "eks_amazonaws_com_capacitytype", "cloud_google_com_gke_spot")
WHERE_LABELS = ("instance_type", "cloud", "region")


def norm_label(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "_", name.strip().lower()).removeprefix("label_")


def _pick(labels: Mapping[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = labels.get(name)
        if value:
            return str(value)
    return ""


@dataclass(frozen=True)
class Price:
    """The per-GPU hourly price of one series, or why there is none (`usd_per_gpu_hour` None)."""

    usd_per_gpu_hour: float | None
    rule: str                  # how it was priced, naming the offer; or the reason it is unpriced
    node: str = ""
    instance_type: str = ""
    cloud: str = ""
    region: str = ""
    fix: str = ""


def _offer_text(o: Offer, spot: bool = False) -> str:
    if spot and o.spot_price_usd_per_hour is not None:
        return (f"{o.cloud} {o.region} {o.instance_type} spot ${o.spot_price_usd_per_hour:,.4f}/h ÷ {o.gpus} GPU"
                f"{'s' if o.gpus != 1 else ''} (node capacity type spot)")
    return (f"{o.cloud} {o.region} {o.instance_type} on-demand ${o.price_usd_per_hour:,.4f}/h ÷ {o.gpus} GPU"
            f"{'s' if o.gpus != 1 else ''}" + (" (spot node; no spot price in the catalog)" if spot else ""))


def _hourly(o: Offer, spot: bool) -> float:
    """What the machine costs per hour: its spot price on a spot node when the catalog has one, else on-demand."""
    if spot and o.spot_price_usd_per_hour is not None:
        return o.spot_price_usd_per_hour
    return o.price_usd_per_hour


def _median_offer(offers: list[Offer], per_gpu: bool = True) -> Offer:
    ranked = sorted(offers, key=lambda o: (o.price_usd_per_hour / max(o.gpus, 1), o.cloud, o.region, o.instance_type))
    return ranked[(len(ranked) - 1) // 2]  # the lower median: a real offer, named


class Pricer:
    """Prices series from one catalog; results cached per (node, instance type, cloud, region)."""

    def __init__(self, catalog: Catalog, nodes: Mapping[str, Mapping[str, str]] | None = None,
                 gpu: str | None = None, price_usd_per_gpu_hour: float | None = None) -> None:
        self.catalog = catalog
        self.nodes = dict(nodes or {})
        self.fallback = self._fallback(gpu, price_usd_per_gpu_hour)
        self._by_type: dict[str, list[Offer]] = {}
        for o in catalog.offers:
            if o.price_usd_per_hour is not None and o.gpus > 0:
                self._by_type.setdefault(o.instance_type, []).append(o)
        self._cache: dict[tuple, Price] = {}

    def _fallback(self, gpu: str | None, price: float | None) -> Price | None:
        if price is not None:
            return Price(price, f"--price-usd-per-gpu-hour {price:g} (series without an instance type)")
        if not gpu:
            return None
        offers = [o for o in self.catalog.offers if o.gpu == gpu and o.price_usd_per_hour is not None and o.gpus > 0]
        if not offers:
            return Price(None, f"--gpu {gpu}: no on-demand {gpu} offer in the catalog",
                         fix="pass --price-usd-per-gpu-hour P, or a --catalog that sells it")
        o = _median_offer(offers)
        return Price(o.price_usd_per_hour / o.gpus, f"--gpu {gpu}: median on-demand per-GPU price of "
                     f"{len(offers)} {gpu} offers, {_offer_text(o)}")

    def where(self, labels: Mapping[str, str]) -> tuple[str, str, str, str]:
        """(node, instance type, cloud, region) of a series from its labels and the mapping file."""
        norm = {norm_label(k): v for k, v in labels.items() if v not in (None, "")}
        node = _pick(norm, NODE_LABELS)
        row = self.nodes.get(node) or self.nodes.get("*") or {}
        itype = _pick(norm, INSTANCE_TYPE_LABELS) or row.get("instance_type", "")
        region = _pick(norm, REGION_LABELS) or row.get("region", "")
        cloud = (_pick(norm, CLOUD_LABELS) or row.get("cloud", "")).lower()
        return node, itype, cloud, region

    def is_spot(self, labels: Mapping[str, str]) -> bool:
        """A spot node: its stored capacity type (`costplane ingest kubernetes`) or the series' node labels say so."""
        norm = {norm_label(k): str(v).lower() for k, v in labels.items() if v not in (None, "")}
        row = self.nodes.get(_pick(norm, NODE_LABELS)) or {}
        return (str(row.get("capacity_type", "")).lower() == "spot" or norm.get(CAPACITY_LABELS[0]) == "spot"
                or norm.get(CAPACITY_LABELS[1]) == "spot" or norm.get(CAPACITY_LABELS[2]) == "true")

    def price(self, labels: Mapping[str, str]) -> Price:
        node, itype, cloud, region = self.where(labels)
        spot = self.is_spot(labels)
        key = (node, itype, cloud, region, spot)
        if key not in self._cache:
            self._cache[key] = self._price(node, itype, cloud, region, spot)
        return self._cache[key]

    def _price(self, node: str, itype: str, cloud: str, region: str, spot: bool = False) -> Price:
        host = node or "(no node label)"
        where = {"node": node, "instance_type": itype, "cloud": cloud, "region": region}
        if not itype:
            if self.fallback is not None:
                return Price(self.fallback.usd_per_gpu_hour, self.fallback.rule, fix=self.fallback.fix, **where)
            return Price(None, f"series on node {host} have no instance type",
                         fix=(f"add the node label node.kubernetes.io/instance-type (and topology.kubernetes.io/region) "
                              f"to the GPU series, or a mapping row `nodes: {{{node or 'NODE'}: {{instance_type: TYPE, "
                              f"region: REGION}}}}` and pass --mapping, or price them with --gpu MODEL"), **where)
        offers = [o for o in self._by_type.get(itype, []) if (not cloud or o.cloud == cloud)]
        if not offers:
            return Price(None, f"instance type {itype}{' on ' + cloud if cloud else ''} (node {host}) is not in the "
                         f"catalog ({self.catalog.source})",
                         fix="pass a --catalog that sells it (e.g. a SkyPilot v8 directory), or correct the mapping row",
                         **where)
        if region:
            in_region = [o for o in offers if o.region == region]
            if not in_region:
                return Price(None, f"instance type {itype} is not sold in region {region} in the catalog",
                             fix=f"check topology.kubernetes.io/region of node {host}, or pass a --catalog with "
                                 f"{itype} in {region}", **where)
            best = min(in_region, key=lambda o: _hourly(o, spot))  # zones of one region: the cheapest zone
            return Price(_hourly(best, spot) / best.gpus, _offer_text(best, spot), node, itype, best.cloud, region)
        by_region: dict[tuple[str, str], Offer] = {}
        for o in offers:
            k = (o.cloud, o.region)
            if k not in by_region or o.price_usd_per_hour < by_region[k].price_usd_per_hour:
                by_region[k] = o
        o = _median_offer(list(by_region.values()))
        rule = _offer_text(o, spot) if len(by_region) == 1 else \
            f"region unknown: median of {len(by_region)} regions, {_offer_text(o, spot)}"
        return Price(_hourly(o, spot) / o.gpus, rule, node, itype, o.cloud, o.region)


def price_or_nan(p: Price) -> float:
    return math.nan if p.usd_per_gpu_hour is None else float(p.usd_per_gpu_hour)
