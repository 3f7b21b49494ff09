"""SkyPilot hand-off: `place --sky-yaml` and `train-plan --sky-yaml` write a task SkyPilot's own parser accepts,
whose resources are the offer costplane ranked first (or the training plan's choice).

SkyPilot pins click<8.2 and uvicorn<0.36, older than this project's, so it lives in its own virtual
environment (`.venv-sky`, made by scripts/test.sh; or COSTPLANE_TEST_SKYPILOT_PYTHON names a Python
that has `sky`). `sky.Task.from_yaml` runs there, reading the shared SkyPilot v8 catalog as its cache.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import IN_CI, REPO_ROOT

from costplane.catalog import sky_accelerator, sky_task, sky_warning


def _skypilot_python() -> str | None:
    exe = os.environ.get("COSTPLANE_TEST_SKYPILOT_PYTHON") or str(REPO_ROOT / ".venv-sky" / "bin" / "python")
    return exe if Path(exe).is_file() else None


@pytest.fixture(scope="module")
def skypilot_python() -> str:
    exe = _skypilot_python()
    if exe is None:
        reason = "no SkyPilot: run scripts/test.sh (makes .venv-sky) or set COSTPLANE_TEST_SKYPILOT_PYTHON"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return exe


def _place(cli, tmp_path: Path, catalog: Path | None, *args: str) -> tuple[dict, dict, str]:
    out = tmp_path / "task.yaml"
    r = cli("place", *args, "--json", "--sky-yaml", out, *(["--catalog", catalog] if catalog else []))
    assert r.code == 0, r.err
    return r.json(), yaml.safe_load(out.read_text()), out.read_text()


def _matches(resources: dict, offer: dict, accel: str) -> None:
    assert resources["infra"] == f"{offer['cloud']}/{offer['region']}"
    assert resources["instance_type"] == offer["instance_type"]
    assert resources["accelerators"] == f"{accel}:{offer['gpus_per_node']}"
    assert resources["use_spot"] is offer["spot"]


def test_place_writes_the_first_offer_as_a_sky_task(cli, tmp_path, skypilot_dir):
    out, task, text = _place(cli, tmp_path, skypilot_dir, "--gpu", "H100", "--gpus", "8", "--nodes", "2", "--hours", "10",
                             "--spot", "--cloud", "aws", "--cloud", "gcp")
    top = out["offers"][0]
    assert top["cloud"] in ("aws", "gcp") and top["nodes"] == 2
    _matches(task["resources"], top, "H100")
    assert task["num_nodes"] == 2
    assert text.startswith("# SkyPilot task written by costplane:") and f"${top['total_usd']:.2f}" in text


def test_bundled_catalog_and_cloud_spellings(cli, tmp_path):
    out, task, _ = _place(cli, tmp_path, None, "--gpu", "A100-80GB", "--gpus", "8", "--hours", "3", "--cloud", "lambda")
    _matches(task["resources"], out["offers"][0], "A100-80GB")
    # Names SkyPilot's catalog spells differently per cloud (it checks them against the instance type).
    assert sky_accelerator("cudo", "sapphire-rapids-h100_1x2v4gb", "H100") == "H100-SXM"
    assert sky_accelerator("gcp", "a3-megagpu-8g", "H100") == "H100-MEGA"
    assert sky_accelerator("gcp", "a3-highgpu-8g", "H100") == "H100"
    assert sky_accelerator("hyperstack", "n3-H100x8-NVLink", "H100") == "H100-80G-PCIe-NVLink"
    assert sky_accelerator("hyperstack", "n3-H100-SXM5x8", "H100") == "H100-80G-SXM5"


def test_catalog_directory_gives_skypilots_exact_name(skypilot_dir):
    assert sky_accelerator("cudo", "sapphire-rapids-h100_1x2v4gb", "H100", skypilot_dir) == "H100-SXM"
    assert sky_accelerator("vast", "1x-RTX_PRO_6000_S-32-65536", "RTXPRO6000", skypilot_dir) == "RTXPRO6000S"


def test_task_name_is_valid_and_unknown_cloud_is_warned():
    task = sky_task(name="my job: v2 (final)", cloud="hyperstack", region="CANADA-1", instance_type="n3-H100x8",
                    gpu="H100", gpus_per_node=8, nodes=1, spot=False)
    assert task["name"] == "my-job-v2-final"
    assert "hyperstack" in sky_warning(task)
    assert sky_warning({**task, "resources": {**task["resources"], "infra": "aws/us-east-1"}}) is None


def test_train_plan_writes_its_choice(cli, tmp_path, skypilot_dir):
    from costplane.examples import example_path

    out = tmp_path / "train.yaml"
    r = cli("train-plan", example_path("train-llama-8b.yaml"), "--deadline", "48h", "--catalog", skypilot_dir,
            "--json", "--sky-yaml", out)
    assert r.code == 0, r.err
    choice = r.json()["choice"]
    task = yaml.safe_load(out.read_text())
    _matches(task["resources"], {**choice, "gpus_per_node": choice["gpus_per_node"]},
             sky_accelerator(choice["cloud"], choice["instance_type"], choice["gpu"], skypilot_dir))
    assert task["num_nodes"] == choice["nodes"] and task["name"] == "llama-8b-finetune"


def test_unwritable_path_is_one_line_error(cli, tmp_path):
    r = cli("place", "--gpu", "H100", "--hours", "1", "--sky-yaml", tmp_path / "no" / "t.yaml")
    assert r.code != 0 and len(r.err_lines) == 1 and "To fix: pass --sky-yaml" in r.err_lines[0]


SKY_READ = """
import json, sys, sky
out = []
for path in sys.argv[1:]:
    task = sky.Task.from_yaml(path)
    (r,) = task.resources
    out.append({"cloud": str(r.cloud).lower(), "region": r.region, "instance_type": r.instance_type,
                "accelerators": r.accelerators, "use_spot": r.use_spot, "num_nodes": task.num_nodes})
print(json.dumps(out))
"""


def test_skypilot_parses_the_tasks_with_the_offers_resources(cli, tmp_path, skypilot_dir, skypilot_python):
    cases = [("H100", "8", "aws", "--spot"), ("A100-80GB", "8", "gcp", "--spot"), ("L4", "1", "gcp", None),
             ("H100", "8", "lambda", None), ("H100", "1", "cudo", None), ("L40S", "1", "nebius", None),
             ("A100", "8", "azure", None), ("H200", "8", "oci", None), ("T4", "4", "aws", "--spot")]
    paths, offers = [], []
    for i, (gpu, n, cloud, spot) in enumerate(cases):
        path = tmp_path / f"t{i}.yaml"
        r = cli("place", "--gpu", gpu, "--gpus", n, "--hours", "2", "--cloud", cloud, "--catalog", skypilot_dir,
                "--json", "--sky-yaml", path, *([spot] if spot else []))
        assert r.code == 0, r.err
        paths.append(str(path))
        offers.append(r.json()["offers"][0])
    home = tmp_path / "home"
    (home / ".sky" / "catalogs").mkdir(parents=True)
    (home / ".sky" / "catalogs" / "v8").symlink_to(skypilot_dir)  # SkyPilot's catalog cache: no download
    proc = subprocess.run([skypilot_python, "-c", SKY_READ, *paths], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HOME": str(home)}, cwd=tmp_path, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    for got, offer, path in zip(parsed, offers, paths):
        task = yaml.safe_load(Path(path).read_text())
        accel_name = task["resources"]["accelerators"].split(":")[0]
        assert got["cloud"] == offer["cloud"] and got["region"] == offer["region"]
        assert got["instance_type"] == offer["instance_type"] and got["use_spot"] is offer["spot"]
        assert got["accelerators"] == {accel_name: offer["gpus_per_node"]}
        assert got["num_nodes"] == offer["nodes"]
