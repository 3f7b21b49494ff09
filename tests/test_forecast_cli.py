"""`costplane forecast` on CSVs derived at test time from the real traces in ../shared/data/traces."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from costplane.cli import main

TRACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces"
pytestmark = pytest.mark.skipif(not TRACES.is_dir(), reason="shared traces not present")


def _per_minute_counts() -> pd.DataFrame:
    """Per-minute request counts of the Azure conv/code traces (ISO ds, 100 ns strings) and Mooncake (s)."""
    frames = []
    for name in ("conv", "code"):
        raw = pd.read_csv(TRACES / "azure-llm-2023" / f"AzureLLMInferenceTrace_{name}.csv", usecols=["TIMESTAMP"])
        minute = pd.to_datetime(raw.TIMESTAMP).dt.floor("1min")
        counts = minute.value_counts().sort_index()
        frames.append(pd.DataFrame({"unique_id": f"azure-{name}",
                                    "ds": counts.index.strftime("%Y-%m-%d %H:%M:%S.0000000"), "y": counts.values}))
    ms = pd.read_json(TRACES / "mooncake-2025" / "conversation_trace.jsonl", lines=True).timestamp
    counts = (ms // 60_000).value_counts().sort_index()
    full = counts.reindex(range(int(counts.index.max()) + 1), fill_value=0)
    mooncake = pd.DataFrame({"unique_id": "mooncake", "ds": full.index * 60, "y": full.values})
    iso = pd.concat(frames, ignore_index=True)
    return iso, mooncake


@pytest.fixture(scope="module")
def traces(tmp_path_factory):
    iso, mooncake = _per_minute_counts()
    folder = tmp_path_factory.mktemp("fc")
    iso.to_csv(folder / "azure.csv", index=False)
    mooncake.to_csv(folder / "mooncake.csv", index=False)
    return folder, iso, mooncake


def _run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_backtest_json_contract_on_azure(traces, capsys):
    folder, iso, _ = traces
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(folder / "azure.csv"), "--horizon", "5",
                          "--windows", "3", "--json")
    assert code == 0, err
    res = json.loads(out)
    assert {"model", "series", "horizon", "windows", "mase", "smape", "seconds"} <= set(res)
    assert res["model"] == "auto" and res["series"] == 2 and res["horizon"] == 5 and res["windows"] == 3
    assert 0 < res["mase"] < 3 and 0 < res["smape"] < 200 and res["seconds"] >= 0


@pytest.mark.parametrize("model", ["ensemble", "seasonal-naive", "ets", "linear", "combination", "auto"])
def test_backtest_every_model_and_out_csv(traces, capsys, tmp_path, model):
    folder, _, mooncake = traces
    out_csv = tmp_path / "cv.csv"
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(folder / "mooncake.csv"), "--horizon",
                          "4", "--windows", "2", "--model", model, "--out", str(out_csv), "--json")
    assert code == 0, err
    cv = pd.read_csv(out_csv)
    assert list(cv.columns[:5]) == ["unique_id", "ds", "cutoff", "y", "mean"]
    assert {"lo-80", "hi-80", "lo-95", "hi-95"} <= set(cv.columns)
    assert len(cv) == 2 * 4
    n = len(mooncake)
    # statsforecast's definition: cutoffs are the last trained timestamps, n-1-H*(N-w) in positions
    assert sorted(cv.cutoff.unique()) == [60 * (n - 1 - 8), 60 * (n - 1 - 4)]
    np.testing.assert_allclose(cv.y.to_numpy(), mooncake.y.to_numpy()[-8:])
    assert (cv["lo-95"] <= cv["mean"] + 1e-9).all() and (cv["lo-95"] >= 0).all()
    mae = np.abs(cv.y - cv["mean"]).mean()
    assert json.loads(out)["mase"] == pytest.approx(mae / np.abs(np.diff(mooncake.y[: n - 8])).mean())


def test_unsorted_input_gives_the_same_answer(traces, capsys, tmp_path):
    folder, iso, _ = traces
    shuffled = tmp_path / "shuffled.csv"
    iso.sample(frac=1.0, random_state=0).to_csv(shuffled, index=False)
    a = json.loads(_run(capsys, "forecast", "backtest", "--series", str(folder / "azure.csv"), "--horizon", "5",
                        "--windows", "2", "--model", "ets", "--json")[1])
    b = json.loads(_run(capsys, "forecast", "backtest", "--series", str(shuffled), "--horizon", "5",
                        "--windows", "2", "--model", "ets", "--json")[1])
    assert a["mase"] == pytest.approx(b["mase"]) and a["smape"] == pytest.approx(b["smape"])


def test_duplicates_error_then_aggregate(traces, capsys, tmp_path):
    _, iso, _ = traces
    dup = tmp_path / "dup.csv"
    pd.concat([iso, iso.iloc[[3]]]).to_csv(dup, index=False)
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(dup), "--horizon", "5", "--windows", "2")
    assert code != 0 and "duplicate" in err and "azure-conv" in err and "To fix" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(dup), "--horizon", "5", "--windows", "2",
                          "--duplicates", "sum", "--json")
    assert code == 0 and "aggregated" in err and json.loads(out)["series"] == 2


def test_negative_value_names_the_line(tmp_path, capsys):
    bad = tmp_path / "neg.csv"
    bad.write_text("unique_id,ds,y\na,0,1\na,60,-2\na,120,3\n")
    code, _, err = _run(capsys, "forecast", "predict", "--series", str(bad), "--horizon", "2")
    assert code != 0 and "line 3" in err and "negative" in err


def test_malformed_csv_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "broken.csv"
    bad.write_text("unique_id,ds,y\na,0,1\na,60,2,7,8\na,120,3\n")
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(bad), "--horizon", "1", "--windows", "1")
    assert code != 0 and "broken.csv" in err and "line 3" in err
    bad.write_text("unique_id,ds,y\na,0,1\na,yesterday,2\n")
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(bad), "--horizon", "1", "--windows", "1")
    assert code != 0 and "line 3" in err and "ds" in err


def test_gaps_fill_or_error(tmp_path, capsys):
    gap = tmp_path / "gap.csv"
    rows = [f"s,{60 * t},{t % 5}" for t in range(40) if t != 17]
    gap.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(gap), "--horizon", "3", "--windows", "2",
                        "--gaps", "error")
    assert code != 0 and "gap after ds 960" in err and "'s'" in err
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(gap), "--horizon", "3", "--windows", "2",
                          "--json")
    assert code == 0 and "filled missing timestamps" in err


def test_too_short_series_are_skipped_with_a_warning(tmp_path, capsys):
    f = tmp_path / "short.csv"
    rows = [f"long,{t},{10 + t % 3}" for t in range(50)] + [f"tiny,{t},1" for t in range(4)]
    f.write_text("unique_id,ds,y\n" + "\n".join(rows) + "\n")
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(f), "--horizon", "5", "--windows", "3",
                          "--json")
    assert code == 0 and "tiny" in err and json.loads(out)["series"] == 1
    assert json.loads(out)["skipped"][0]["unique_id"] == "tiny"
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(f), "--horizon", "40", "--windows", "3")
    assert code != 0 and "too short" in err


def test_predict_and_fit_json(traces, capsys):
    folder, _, _ = traces
    code, out, err = _run(capsys, "forecast", "predict", "--series", str(folder / "azure.csv"), "--horizon", "10",
                          "--level", "90", "--json")
    assert code == 0, err
    res = json.loads(out)
    fc = {r["unique_id"]: r for r in res["forecasts"]}
    assert set(fc) == {"azure-conv", "azure-code"}
    conv = fc["azure-conv"]
    assert len(conv["mean"]) == 10 and len(conv["ds"]) == 10 and conv["freq_s"] == 60
    assert conv["ds"][0] == "2023-11-16T19:15:00"
    assert all(lo <= m <= hi for lo, m, hi in zip(conv["lo-90"], conv["mean"], conv["hi-90"]))
    code, out, _ = _run(capsys, "forecast", "fit", "--series", str(folder / "azure.csv"), "--model", "ets", "--json")
    assert code == 0 and json.loads(out)["series"][0]["model"].startswith("ets:ETS(A,")


def test_alibaba_gpu_use_layout_is_read_directly(capsys):
    path = TRACES / "alibaba-genai-2026-usage" / "pod_gpu_duty_cycle_anon.csv"
    code, out, err = _run(capsys, "forecast", "backtest", "--series", str(path), "--horizon", "30", "--windows", "2",
                          "--model", "ets", "--json")
    assert code == 0, err
    assert json.loads(out)["series"] > 60


def test_entry_point_prints_one_line_errors(tmp_path):
    exe = Path(sys.executable).parent / "costplane"
    p = subprocess.run([str(exe), "forecast", "backtest", "--series", str(tmp_path / "nope.csv"), "--horizon", "2",
                        "--windows", "1", "--json"], capture_output=True, text=True)
    assert p.returncode != 0 and p.stdout == "" and len(p.stderr.strip().splitlines()) == 1
    assert "does not exist" in p.stderr


def test_unknown_model_is_a_user_error(traces, capsys):
    folder, _, _ = traces
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(folder / "azure.csv"), "--horizon", "2",
                        "--windows", "1", "--model", "prophet")
    assert code != 0 and "unknown forecast model" in err


def test_backtest_plot_is_a_png(traces, capsys, tmp_path):
    folder, _, _ = traces
    png = tmp_path / "bt.png"
    code, _, err = _run(capsys, "forecast", "backtest", "--series", str(folder / "azure.csv"), "--horizon", "5",
                        "--windows", "2", "--plot", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
