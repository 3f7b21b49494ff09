"""The whole CLI under generated bad input: every failure is one stderr line ending "To fix: ...", never a traceback.

Hypothesis drives `costplane.cli.main` in-process with bad numbers (nan, inf, huge, negative, words), missing
files, directories, unwritable paths, garbage and misspelled YAML, and databases that are not costplane stores.
Any exception escaping `main`, any "Traceback" in the output, and any inf/nan printed fail the test.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costplane.cli import main

BAD_NUMBERS = ["nan", "inf", "-inf", "1e308", "-1e308", "-1", "0", "1e9", "100000000", "abc", "", "1e-320",
               "99999999999999999999999", "0x10", "1_0"]
BAD_DURATIONS = ["100000000d", "nan", "inf", "-7d", "0", "7x", "", "1e308s", "9" * 30 + "h"]
POLICIES = ["os:system", "nope", "builtins:dict", "costplane.autoscale:POLICIES", "x:y:z", ":"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, str]:
    """Files every generated command may name: each is wrong in its own way."""
    root = tmp_path_factory.mktemp("fuzz")
    (root / "home").mkdir()
    files = {
        "missing": root / "missing.yaml",
        "directory": root,
        "proc": Path("/proc/costplane-fuzz/x.csv"),
        "binary": root / "binary.yaml",
        "garbage": root / "garbage.yaml",
        "list": root / "list.yaml",
        "csv": root / "table.csv",
        "empty": root / "empty.yaml",
        "fleet_typo": root / "fleet.yaml",
        "spec_typo": root / "spec.yaml",
        "profile_typo": root / "profile.yaml",
        "services_typo": root / "services.yaml",
        "mapping_typo": root / "mapping.yaml",
        "discounts_typo": root / "discounts.yaml",
        "deep": root / "deep.yaml",
        "bomb": root / "bomb.yaml",
    }
    files["binary"].write_bytes(bytes(range(256)) * 4)
    files["garbage"].write_text("workloads: [ {name: a, gpu: H100\n  - : : :\n")
    files["list"].write_text("- a\n- b\n")
    files["csv"].write_text("a,b,c\n1,2,3\nx,,nan\n")
    files["empty"].write_text("")
    files["fleet_typo"].write_text("workloads:\n  - {name: a, gpu: H100, gpus: 8, hours: 10, cloud: aws}\n"
                                   "quota:\n  - {cloud: aws, max_gpus: 0}\n")
    files["spec_typo"].write_text("name: chat\ngpu: H100\ngpus_per_replica: 1\ncapacity_per_replica: 2\n"
                                  "cold_start_s: 120\nmin_replicas: 0\nmax_replicas: 32\nscale_to_zero: true\n"
                                  "max_queue: 30\n")
    files["profile_typo"].write_text("name: x\nwork: 1e9\nmemory_gib_per_gpu: 40\nthroughput:\n"
                                     "  - {gpu: H100, gpus: 8, units_per_s: 100}\nmax_node: 2\n"
                                     "checkpoint_interval: 1800\n")
    files["services_typo"].write_text("services:\n  - {name: chat, polcy: hybrid, gpu: H100}\n")
    files["mapping_typo"].write_text("teams: [namespace]\nnamespaces: {ml: {teem: x}}\n")
    files["discounts_typo"].write_text("discounts:\n  - {cloud: awz, percent: 10}\n  - {cloud: aws, percnt: 5}\n")
    files["deep"].write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    files["bomb"].write_text("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
                             "e: [*d, *d, *d, *d, *d, *d, *d, *d]\n")
    other_db = root / "other.db"
    import sqlite3

    with contextlib.closing(sqlite3.connect(other_db)) as conn:
        conn.execute("CREATE TABLE mine (x)")
        conn.commit()
    out = {k: str(v) for k, v in files.items()}
    out["home"] = str(root / "home")
    out["db_csv"] = f"sqlite:///{files['csv']}"
    out["db_dir"] = f"sqlite:///{root}"
    out["db_missing"] = f"sqlite:///{root / 'nope' / 'x.db'}"
    out["db_other"] = f"sqlite:///{other_db}"
    out["db_bad"] = "not a url"
    out["other_db_path"] = str(other_db)
    return out


PATHS = ["missing", "directory", "proc", "binary", "garbage", "list", "csv", "empty"]
YAMLS = PATHS + ["fleet_typo", "spec_typo", "profile_typo", "services_typo", "mapping_typo", "discounts_typo",
                 "deep", "bomb"]
OUTS = ["directory", "proc"]
DBS = ["db_csv", "db_dir", "db_missing", "db_other", "db_bad"]


def _commands(w: dict[str, str]):
    """(strategy of argv) per command family; every argv here is a user error."""
    num, dur = st.sampled_from(BAD_NUMBERS), st.sampled_from(BAD_DURATIONS)
    path, yaml_file = st.sampled_from(PATHS).map(w.get), st.sampled_from(YAMLS).map(w.get)
    out, db = st.sampled_from(OUTS).map(w.get), st.sampled_from(DBS).map(w.get)
    return st.one_of(
        st.tuples(st.just("place"), st.just("--gpu"), st.just("H100"), st.sampled_from(["--hours", "--gpus", "--nodes",
                  "--limit", "--min-vcpus"]), num),
        st.tuples(st.just("plan"), yaml_file),
        st.tuples(st.just("plan"), st.just(w["fleet_typo"]), st.just("--save"), st.just("--db"), db),
        st.tuples(st.just("replay"), st.just("--service"), yaml_file),
        st.tuples(st.just("replay"), st.just("--trace"), path),
        st.tuples(st.just("replay"), st.just("--policy"), st.sampled_from(POLICIES)),
        st.tuples(st.just("replay"), st.sampled_from(["--step", "--decision-interval"]), num),
        st.tuples(st.just("replay-jobs"), st.just("--trace"), path),
        st.tuples(st.just("replay-jobs"), st.just("--trace"), path, st.just("--capacity"), num),
        st.tuples(st.just("forecast"), st.just("predict"), st.just("--series"), path, st.just("--horizon"), num),
        st.tuples(st.just("forecast"), st.just("backtest"), st.just("--series"), path, st.just("--horizon"), num,
                  st.just("--windows"), num),
        st.tuples(st.just("forecast"), st.just("backtest"), st.just("--series"), path, st.just("--horizon"),
                  st.just("2"), st.just("--windows"), st.just("2"), st.just("--out"), out),
        st.tuples(st.just("train-plan"), yaml_file),
        st.tuples(st.just("train-plan"), st.just(w["profile_typo"]), st.just("--deadline"), dur),
        st.tuples(st.just("waste"), st.just("--utilisation"), path),
        st.tuples(st.just("waste"), st.sampled_from(["--idle-below", "--gpus-per-workload", "--top"]), num),
        st.tuples(st.just("cost"), st.just("--window"), dur),
        st.tuples(st.just("cost"), st.just("--db"), db),
        st.tuples(st.just("budget"), st.just("set"), st.just("--team"), st.just("t"), st.just("--amount"), num),
        st.tuples(st.just("budget"), st.just("status"), st.just("--db"), db),
        st.tuples(st.just("db"), st.just("status"), st.just("--db"), db),
        st.tuples(st.just("token"), st.just("list"), st.just("--db"), db),
        st.tuples(st.just("catalog"), st.just("--catalog"), path),
        st.tuples(st.just("catalog"), st.just("--discounts"), yaml_file),
        st.tuples(st.just("catalog"), st.just("--limit"), num),
        st.tuples(st.just("catalog-import"), path, st.just("--out"), out),
        st.tuples(st.just("controller"), st.just("run"), st.just("--once"), st.just("--services"), yaml_file,
                  st.just("--db"), st.just(w["db_missing"])),
        st.tuples(st.just("ingest"), st.just("usage"), path, st.just("--db"), db),
        st.tuples(st.just("ingest"), st.just("focus"), path, st.just("--mapping"), yaml_file),
        st.tuples(st.sampled_from(["place", "replay", "cost", "forecast", "nope"]), st.just("--bogus-flag")),
    )


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # pragma: no cover - main returns codes; a SystemExit is itself a failure
            raise AssertionError(f"costplane {' '.join(argv)}: SystemExit({exc.code}) escaped main") from None
        except Exception as exc:
            raise AssertionError(f"costplane {' '.join(argv)}: {exc.__class__.__name__}: {exc} escaped "
                                 "main (a traceback for the user)") from exc
    return code, out.getvalue(), err.getvalue()


_INF_NAN = re.compile(r"(?<![A-Za-z_])(-?inf|nan|NaN|Infinity)(?![A-Za-z_])")


def _check(argv: list[str], code: int, out: str, err: str, w: dict[str, str], *, must_fail: bool = True) -> None:
    """No traceback, no inf/nan on stdout; a failure is exactly one `error: ... To fix: ...` line."""
    shown = " ".join(argv)
    assert "Traceback" not in out + err, f"costplane {shown}: traceback\n{err}"
    assert not _INF_NAN.search(out), f"costplane {shown}: inf/nan printed\n{out[:500]}"
    if code == 0:
        assert not must_fail, f"costplane {shown}: a bad input exited 0\n{out[:500]}"
        return
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, f"costplane {shown}: expected one error line\n{err}"
    assert "To fix:" in lines[0], f"costplane {shown}: no 'To fix' in {lines[0]!r}"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_bad_input_never_gives_a_traceback(world, data):
    argv = list(data.draw(_commands(world)))
    before = os.environ.get("COSTPLANE_HOME")
    os.environ["COSTPLANE_HOME"] = world["home"]
    try:
        code, out, err = _run(argv)
    finally:
        if before is None:
            os.environ.pop("COSTPLANE_HOME", None)
        else:
            os.environ["COSTPLANE_HOME"] = before
    _check(argv, code, out, err, world, must_fail=False)  # a few drawn values are valid for some flags


def test_reading_never_creates_tables_in_another_database(world):
    import sqlite3

    for argv in (["cost", "--db", world["db_other"]], ["db", "status", "--db", world["db_other"]],
                 ["budget", "status", "--db", world["db_other"]]):
        code, _, err = _run(argv)
        assert code != 0 and "no costplane store" in err and "costplane db upgrade" in err, err
    with contextlib.closing(sqlite3.connect(world["other_db_path"])) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["mine"]


@pytest.mark.parametrize(("argv", "needle"), [
    (["place", "--gpu", "H100", "--hours", "1e308"], "--hours"),
    (["forecast", "predict", "--series", "x.csv", "--horizon", "100000000"], "--horizon"),
    (["replay-jobs", "--trace", "x.csv", "--capacity", "100000000"], "--capacity"),
    (["budget", "set", "--team", "t", "--amount", "1e308"], "--amount"),
    (["cost", "--window", "100000000d"], "--window"),
    (["replay", "--policy", "os:system"], "not a policy"),
])
def test_issue_examples_are_one_line_errors(world, argv, needle):
    code, out, err = _run(argv)
    _check(argv, code, out, err, world)
    assert needle in err


def test_unwritable_outputs_are_one_line_errors(world):
    for argv in (["catalog-import", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "catalog" /
                                        "skypilot-v8"), "--out", "/proc/x.csv"],
                 ["forecast", "backtest", "--horizon", "2", "--windows", "1", "--out", world["directory"]],
                 ["replay-jobs", "--compare", "--plot", "/proc/x.png"],
                 ["db", "status", "--db", world["db_csv"]]):
        code, out, err = _run(argv)
        _check(argv, code, out, err, world)
