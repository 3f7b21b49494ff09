"""The project's catalog CSV: exact round trip, and malformed files rejected with file:line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from costplane.catalog import load_catalog, read_catalog_csv, write_catalog_csv
from costplane.core.errors import CatalogError
from costplane.core.types import OFFER_COLUMNS, Offer

HEADER = ",".join(OFFER_COLUMNS)
GOOD_ROW = "aws,us-east-1,use1-az1,p5.48xlarge,H100,80,8,192,2048,55.04,10.2397"


def test_round_trip_of_the_skypilot_import_is_exact(tmp_path, skypilot_catalog):
    path = tmp_path / "catalog.csv"
    n = write_catalog_csv(skypilot_catalog.offers, path, as_of="2026-11-25", source="test snapshot")
    assert n == len(skypilot_catalog.offers)
    back = read_catalog_csv(path)
    assert back.offers == skypilot_catalog.offers  # every float, None and zone identical
    assert (back.as_of, back.source) == ("2026-11-25", "test snapshot")


def test_round_trip_of_the_bundled_catalog_is_exact(tmp_path, bundled_catalog):
    path = tmp_path / "catalog.csv"
    write_catalog_csv(bundled_catalog.offers, path, bundled_catalog.as_of, bundled_catalog.source)
    assert read_catalog_csv(path).offers == bundled_catalog.offers


def test_round_trip_keeps_awkward_floats(tmp_path):
    offer = Offer("gcp", "us-central1", None, "n1-standard-8", "T4", 16.0, 1, 8.0, 30.0,
                  0.1 + 0.2, 1 / 3)  # 0.30000000000000004 and 0.333... need 17 digits
    path = tmp_path / "c.csv"
    write_catalog_csv([offer], path, "2026-01-01", "x")
    assert read_catalog_csv(path).offers == (offer,)


def test_csv_and_file_paths_load_through_load_catalog(tmp_path, bundled_path):
    path = tmp_path / "c.csv"
    path.write_text(f"# as_of: 2026-01-02\n{HEADER}\n{GOOD_ROW}\n")
    cat = load_catalog(path)
    assert cat.as_of == "2026-01-02"
    assert cat.offers[0].price_usd_per_hour == 55.04 and cat.offers[0].spot_price_usd_per_hour == 10.2397
    assert load_catalog(bundled_path).offers == load_catalog().offers


def test_gpu_names_in_a_project_csv_are_normalised(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(f"{HEADER}\nhyperstack,CANADA-1,,n3-H100x1,H100-80G-PCIe,,1,28,180,1.9,\n")
    [o] = read_catalog_csv(path).offers
    assert (o.gpu, o.gpu_memory_gib, o.zone, o.spot_price_usd_per_hour) == ("H100", 80.0, None, None)


# ---------------------------------------------------------------- malformed files, through the CLI

def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text(body)
    return path


MALFORMED = {
    # name: (file body, line of the fault, text the message must hold)
    "non-numeric price": (f"# as_of: x\n{HEADER}\n{GOOD_ROW}\n{GOOD_ROW.replace('55.04', 'cheap')}\n", 4,
                          "price_usd_per_hour"),
    "missing column": (f"{HEADER.replace(',price_usd_per_hour', '')}\n{GOOD_ROW}\n", 1, "price_usd_per_hour"),
    "zero gpus": (f"{HEADER}\n{GOOD_ROW.replace(',80,8,', ',80,0,')}\n", 2, "gpus"),
    "fractional gpus": (f"{HEADER}\n{GOOD_ROW.replace(',80,8,', ',80,2.5,')}\n", 2, "gpus"),
    "text gpus": (f"{HEADER}\n{GOOD_ROW}\n{GOOD_ROW}\n{GOOD_ROW.replace(',80,8,', ',80,eight,')}\n", 4, "gpus"),
    "negative price": (f"{HEADER}\n{GOOD_ROW.replace('55.04', '-1')}\n", 2, "price_usd_per_hour"),
    "too many cells": (f"{HEADER}\n{GOOD_ROW},extra\n", 2, "cells"),
    "no price at all": (f"{HEADER}\n{GOOD_ROW.replace(',55.04,10.2397', ',,')}\n", 2, "price"),
    "empty region": (f"{HEADER}\n{GOOD_ROW.replace('us-east-1', '')}\n", 2, "region"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_catalog_is_one_line_naming_file_line_and_column(tmp_path, cli, case):
    body, line, column = MALFORMED[case]
    path = _write(tmp_path, body)
    for args in (("catalog", "--json"), ("place", "--gpu", "H100", "--gpus", "8", "--hours", "1", "--json")):
        result = cli(*args, "--catalog", path)
        assert result.code != 0
        assert result.out == ""
        assert len(result.err_lines) == 1, result.err
        message = result.err_lines[0]
        assert f"{path}:{line}" in message
        assert column in message
        assert "To fix" in message


def test_blank_lines_do_not_shift_the_reported_line(tmp_path):
    path = _write(tmp_path, f"{HEADER}\n{GOOD_ROW}\n\n{GOOD_ROW.replace('55.04', 'x')}\n")
    with pytest.raises(CatalogError, match=r"bad\.csv:4: column price_usd_per_hour"):
        read_catalog_csv(path)


def test_header_only_catalog_is_refused(tmp_path):
    with pytest.raises(CatalogError, match="no offers"):
        read_catalog_csv(_write(tmp_path, f"{HEADER}\n"))


def test_malformed_skypilot_directory_names_file_line_and_column(tmp_path, cli):
    (tmp_path / "aws").mkdir()
    vms = tmp_path / "aws" / "vms.csv"
    vms.write_text("InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region\n"
                   "p5.48xlarge,H100,8.0,192,2048,55.04,,us-east-1\n"
                   "p5.48xlarge,H100,8.0,192,2048,lots,,us-west-2\n")
    result = cli("catalog", "--catalog", tmp_path, "--json")
    assert result.code != 0 and len(result.err_lines) == 1
    assert f"{vms}:3" in result.err_lines[0] and "Price" in result.err_lines[0]


def test_directory_without_vms_files_is_refused(tmp_path, cli):
    result = cli("catalog", "--catalog", tmp_path, "--json")
    assert result.code != 0 and len(result.err_lines) == 1
    assert "vms.csv" in result.err_lines[0]
