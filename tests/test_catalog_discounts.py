"""Negotiated discounts: cloud-wide and per-family rules, the family rule wins, and every shown price carries it."""

from __future__ import annotations

import pytest

from costplane.catalog import Discount, apply_discounts, load_catalog, read_discounts
from costplane.core.errors import InputError
from costplane.core.types import Catalog, Offer


def _offer(cloud: str, itype: str, price: float | None, spot: float | None = None, gpu: str = "H100") -> Offer:
    return Offer(cloud, "r1", None, itype, gpu, 80.0, 8, 192.0, 2048.0, price, spot)


CATALOG = Catalog(
    (
        _offer("aws", "p5.48xlarge", 100.0, 40.0),
        _offer("aws", "p5en.48xlarge", 120.0, None, gpu="H200"),
        _offer("aws", "p5e.48xlarge", None, 30.0, gpu="H200"),
        _offer("aws", "p4d.24xlarge", 50.0, 20.0, gpu="A100"),
        _offer("gcp", "a3-highgpu-8g", 90.0, 25.0),
        _offer("gcp", "a3-megagpu-8g", 95.0, None),
    ),
    as_of="2026-11-25",
    source="test",
)


def _prices(cat: Catalog) -> dict[str, tuple[float | None, float | None]]:
    return {o.instance_type: (o.price_usd_per_hour, o.spot_price_usd_per_hour) for o in cat.offers}


def test_cloud_wide_rule_scales_on_demand_and_spot():
    got = _prices(apply_discounts(CATALOG, (Discount("aws", 10.0),)))
    assert got["p5.48xlarge"] == pytest.approx((90.0, 36.0))
    assert got["p4d.24xlarge"] == pytest.approx((45.0, 18.0))
    assert got["p5e.48xlarge"] == (None, pytest.approx(27.0))  # a missing price stays missing
    assert got["a3-highgpu-8g"] == (90.0, 25.0)  # another cloud is untouched


def test_family_rule_beats_cloud_rule_whatever_the_order():
    rules = (Discount("aws", 10.0), Discount("aws", 30.0, "p5"))
    for order in (rules, rules[::-1]):
        got = _prices(apply_discounts(CATALOG, order))
        assert got["p5.48xlarge"] == pytest.approx((70.0, 28.0))
        assert got["p4d.24xlarge"] == pytest.approx((45.0, 18.0))


def test_family_p5_does_not_match_p5en_or_p5e():
    got = _prices(apply_discounts(CATALOG, (Discount("aws", 30.0, "p5"),)))
    assert got["p5.48xlarge"] == pytest.approx((70.0, 28.0))
    assert got["p5en.48xlarge"] == (120.0, None)
    assert got["p5e.48xlarge"] == (None, 30.0)


def test_gcp_family_with_dashes_matches_at_a_separator():
    got = _prices(apply_discounts(CATALOG, (Discount("gcp", 20.0, "a3-highgpu"),)))
    assert got["a3-highgpu-8g"] == pytest.approx((72.0, 20.0))
    assert got["a3-megagpu-8g"] == (95.0, None)


def test_the_input_catalog_is_not_mutated_and_labels_are_kept():
    before = CATALOG.offers
    out = apply_discounts(CATALOG, (Discount("aws", 10.0),))
    assert CATALOG.offers == before
    assert out.discounts_applied == ("aws -10%",)


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".csv"])
def test_discount_files_in_every_format(tmp_path, suffix):
    bodies = {
        ".yaml": "discounts:\n  - {cloud: AWS, percent: 10}\n  - {cloud: aws, instance_family: p5, percent: 30}\n",
        ".json": '[{"cloud": "aws", "percent": 10}, {"cloud": "aws", "instance_family": "p5", "percent": 30}]',
        ".csv": "cloud,instance_family,percent\naws,,10\naws,p5,30\n",
    }
    path = tmp_path / f"d{suffix}"
    path.write_text(bodies[suffix])
    assert read_discounts(path) == (Discount("aws", 10.0), Discount("aws", 30.0, "p5"))


@pytest.mark.parametrize("body", ["- {cloud: aws, percent: 120}\n", "- {cloud: aws}\n", "- {percent: 5}\n",
                                  "{not: a list}\n", "- [unclosed\n"])
def test_bad_discounts_are_input_errors(tmp_path, body):
    path = tmp_path / "d.yaml"
    path.write_text(body)
    with pytest.raises(InputError):
        read_discounts(path)


# ---------------------------------------------------------------- every price the CLI shows carries the discount

@pytest.fixture
def discounts_file(tmp_path):
    path = tmp_path / "discounts.yaml"
    path.write_text("- {cloud: aws, percent: 10}\n- {cloud: aws, instance_family: p5, percent: 25}\n")
    return path


def test_catalog_command_shows_discounted_prices(cli, discounts_file, bundled_catalog):
    plain = cli("catalog", "--gpu", "H100", "--cloud", "aws", "--json").json()["offers"]
    cut = cli("catalog", "--gpu", "H100", "--cloud", "aws", "--discounts", discounts_file, "--json").json()
    assert cut["discounts"] and len(cut["offers"]) == len(plain)
    key = lambda o: (o["region"], o["zone"], o["instance_type"])  # noqa: E731
    before = {key(o): o for o in plain}
    for o in cut["offers"]:
        factor = 0.75 if o["instance_type"].startswith("p5.") else 0.90
        b = before[key(o)]
        for col in ("price_usd_per_hour", "spot_price_usd_per_hour"):
            if b[col] is None:
                assert o[col] is None
            else:
                assert o[col] == pytest.approx(b[col] * factor, rel=1e-12)


def test_place_ranks_with_discounted_prices(cli, discounts_file):
    args = ("place", "--gpu", "H100", "--gpus", "8", "--hours", "10", "--cloud", "aws", "--limit", "100", "--json")
    plain = cli(*args).json()["offers"]
    cut = cli(*args, "--discounts", discounts_file).json()["offers"]
    key = lambda o: (o["region"], o["zone"], o["instance_type"], o["spot"])  # noqa: E731
    before = {key(o): o for o in plain}
    assert len(cut) == len(plain)
    for o in cut:
        factor = 0.75 if o["instance_type"].startswith("p5.") else 0.90
        assert o["hourly_usd"] == pytest.approx(before[key(o)]["hourly_usd"] * factor, rel=1e-6)
        assert o["total_usd"] == pytest.approx(o["hourly_usd"] * 10, rel=1e-6)


def test_plan_uses_discounted_prices(cli, tmp_path, discounts_file):
    plan = tmp_path / "plan.yaml"
    plan.write_text("workloads:\n  - {name: a, gpu: H100, gpus: 8, hours: 10, clouds: [aws]}\n")
    plain = cli("plan", plan, "--json").json()
    cut = cli("plan", plan, "--discounts", discounts_file, "--json").json()
    assert cut["total_usd"] < plain["total_usd"]
    assert cut["naive_total_usd"] < plain["naive_total_usd"]
    assert cut["total_usd"] == pytest.approx(sum(a["total_usd"] for a in cut["assignments"]), abs=1e-6)


def test_load_catalog_applies_a_discount_file(discounts_file, bundled_catalog):
    cut = load_catalog(None, discounts_file)
    pairs = zip(bundled_catalog.offers, cut.offers, strict=True)
    p5 = [(a, b) for a, b in pairs if a.cloud == "aws" and a.instance_type.startswith("p5.")]
    assert p5 and all(b.price_usd_per_hour == pytest.approx(a.price_usd_per_hour * 0.75)
                      for a, b in p5 if a.price_usd_per_hour is not None)
