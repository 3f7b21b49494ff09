"""The live controller: stored decisions with their inputs, dry-run and Kubernetes actuation over real HTTP,
and crash safety (SIGKILL mid-cycle, restart, no repeated actuation, nothing lost)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from sqlalchemy import select

from costplane.actuate import DryRunActuator, KubernetesActuator, ScaleCommand, Target
from costplane.controller import DEMAND_METRIC, AutoscaleDecide, ControlledService, Controller, Proposal
from costplane.core.clock import SimClock
from costplane.store import AuditLog, DecisionRow, Store, UsageSample

SPEC = {"gpu": "H100", "gpus_per_replica": 1, "capacity_per_replica": 2.0, "cold_start_s": 120,
        "min_replicas": 0, "max_replicas": 32, "scale_to_zero": True, "max_queue_s": 10}


class FakeKubeAPI:
    """A loopback HTTP server speaking the Kubernetes scale subresource API (Deployments and CAPI
    MachineDeployments), so the official client runs unmodified against it."""

    def __init__(self, replicas: dict[str, int], patch_delay_s: float = 0.0,
                 ready: dict[str, int] | None = None) -> None:
        self.replicas = dict(replicas)
        self.ready = dict(ready or {})  # readyReplicas per key (default: all asked-for replicas are ready)
        self.patches: list[tuple[str, int]] = []
        self.patch_delay_s = patch_delay_s
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _key(self) -> str | None:
                parts = self.path.split("?")[0].strip("/").split("/")
                # apis/apps/v1/namespaces/NS/deployments/NAME/scale
                # apis/cluster.x-k8s.io/v1beta1/namespaces/NS/machinedeployments/NAME/scale
                if len(parts) in (7, 8) and parts[3] == "namespaces" and parts[7:] in ([], ["scale"], ["status"]):
                    kind = {"deployments": "deployment", "machinedeployments": "nodepool"}.get(parts[5])
                    return f"{kind}/{parts[4]}/{parts[6]}" if kind else None
                return None

            def _object(self, key: str) -> dict:
                kind, ns, name = key.split("/")
                n = api.replicas[key]
                ready = api.ready.get(key, n)
                if kind == "deployment":
                    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
                            "spec": {"replicas": n, "selector": {"matchLabels": {"app": name}},
                                     "template": {"metadata": {"labels": {"app": name}},
                                                  "spec": {"containers": [{"name": name, "image": "vllm"}]}}},
                            "status": {"replicas": n, "readyReplicas": ready, "availableReplicas": ready}}
                return {"apiVersion": "cluster.x-k8s.io/v1beta1", "kind": "MachineDeployment",
                        "metadata": {"name": name, "namespace": ns}, "spec": {"replicas": n},
                        "status": {"replicas": n, "readyReplicas": ready}}

            def _send(self, code: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _scale(self, key: str) -> dict:
                kind, ns, name = key.split("/")
                return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {"replicas": api.replicas[key]}, "status": {"replicas": api.replicas[key]}}

            def do_GET(self):
                key = self._key()
                if key not in api.replicas:
                    return self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
                scale = self.path.split("?")[0].rstrip("/").endswith("/scale")
                self._send(200, self._scale(key) if scale else self._object(key))

            def do_PATCH(self):
                key = self._key()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if key not in api.replicas:
                    return self._send(404, {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404})
                api.replicas[key] = int(body["spec"]["replicas"])
                api.patches.append((key, api.replicas[key]))
                time.sleep(api.patch_delay_s)
                self._send(200, self._scale(key))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKubeAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _kube_actuator(url: str) -> KubernetesActuator:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = url
    return KubernetesActuator(client.ApiClient(cfg))


def _seed_demand(store: Store, now_s: float, rate_per_s: float, minutes: int = 30, name: str = "chat") -> None:
    store.add_usage_samples([{"source": "test", "metric": DEMAND_METRIC, "series_key": name, "workload": name,
                              "ts_s": now_s - 60.0 * i, "value": rate_per_s} for i in range(minutes)])


def _chat(kind: str = "deployment") -> ControlledService:
    return ControlledService("chat", Target(kind, "chat", "serving"), "hybrid", "product", dict(SPEC))


def test_cycle_stores_decision_with_observation_and_does_not_repeat(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    clock = SimClock(1_800_000_000.0)
    _seed_demand(store, clock.now_s(), rate_per_s=10.0)
    actuator = DryRunActuator()
    ctl = Controller(store, clock, actuator, (_chat(),), AutoscaleDecide(), interval_s=60.0)
    acted = ctl.run_cycle()
    assert len(acted) == 1
    row = acted[0]
    # 10 req/s at 2 req/s per replica needs 5 replicas; the hybrid policy may add headroom, never fewer.
    assert 5 <= row.desired["replicas"] <= 8
    assert row.observation["demand_per_s"][-1] == 10.0 and row.observation["now_s"] == clock.now_s()
    assert row.reasons, "a decision carries its reasons"
    assert actuator.current(Target("deployment", "chat", "serving")) == row.desired["replicas"]
    # Same cycle again: nothing new decided, nothing acted.
    assert ctl.run_cycle() == []
    with store.session() as s:
        assert len(s.scalars(select(DecisionRow)).all()) == 1
    # Next slot: a new decision; with the same demand the count stays and the audit log says noop.
    clock.advance(60.0)
    again = ctl.run_cycle()
    assert len(again) == 1 and again[0].cycle_id != row.cycle_id
    with store.session() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions[0] == "actuate"


def test_dry_run_state_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    store = Store.open(url)
    clock = SimClock(1_800_000_000.0)
    Controller(store, clock, DryRunActuator(), (_chat(),), lambda s, o, st: (Proposal(4, ("fixed",)), st)).run_cycle()
    restarted = DryRunActuator()
    Controller(Store.open(url), clock, restarted, (_chat(),), lambda s, o, st: (Proposal(4, ("fixed",)), st))
    assert restarted.current(Target("deployment", "chat", "serving")) == 4


def test_validation_drops_a_decision_that_changed(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    clock = SimClock(1_800_000_000.0)
    answers = iter([3, 7])
    target = Target("deployment", "chat", "serving")
    ctl = Controller(store, clock, DryRunActuator({target.key: 5}), (_chat(),),
                     lambda s, o, st: (Proposal(next(answers)), st), interval_s=60.0, validation_s=15.0)
    rows = ctl.run_cycle()
    assert rows[0].result.startswith("stale")
    assert clock.now_s() == 1_800_000_015.0, "a scale-down waits out the validation before it is re-decided"
    assert ctl.actuator.current(target) == 5


def test_scale_up_is_not_delayed_by_validation(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    clock = SimClock(1_800_000_000.0)
    target = Target("deployment", "chat", "serving")
    ctl = Controller(store, clock, DryRunActuator({target.key: 2}), (_chat(),),
                     lambda s, o, st: (Proposal(6), st), interval_s=60.0, validation_s=15.0)
    assert ctl.run_cycle()[0].changed and clock.now_s() == 1_800_000_000.0
    assert ctl.actuator.current(target) == 6


def test_kubernetes_actuator_scales_deployments_and_node_pools_over_http():
    with FakeKubeAPI({"deployment/serving/chat": 1, "nodepool/default/gpu-h100": 2}) as kube:
        act = _kube_actuator(kube.url)
        dep, pool = Target("deployment", "chat", "serving"), Target("nodepool", "gpu-h100", "default")
        assert act.current(dep) == 1 and act.current(pool) == 2
        r = act.apply(ScaleCommand(dep, 5))
        assert r.changed and r.before == 1 and kube.replicas["deployment/serving/chat"] == 5
        assert act.apply(ScaleCommand(dep, 5)).changed is False  # read-before-write: no second PATCH
        act.apply(ScaleCommand(pool, 4))
        assert kube.patches == [("deployment/serving/chat", 5), ("nodepool/default/gpu-h100", 4)]


def test_kubernetes_errors_name_the_object():
    from costplane.core.errors import CostplaneError

    with FakeKubeAPI({}) as kube:
        with pytest.raises(CostplaneError, match="deployment/serving/missing.*404"):
            _kube_actuator(kube.url).current(Target("deployment", "missing", "serving"))


def test_sigkill_mid_cycle_neither_loses_data_nor_repeats_actuation(tmp_path):
    db = f"sqlite:///{tmp_path / 'crash.db'}"
    store = Store.open(db)
    _seed_demand(store, time.time(), rate_per_s=10.0)
    services = tmp_path / "services.yaml"
    services.write_text(yaml.safe_dump({"services": [{"name": "chat", "policy": "hybrid", "team": "product",
                                                      "target": {"kind": "deployment", "namespace": "serving",
                                                                 "name": "chat"}, **SPEC}]}))
    cmd = [sys.executable, "-m", "costplane", "controller", "run", "--once", "--db", db, "--services", str(services),
           "--actuator", "kubernetes", "--interval", "86400"]
    with FakeKubeAPI({"deployment/serving/chat": 1}, patch_delay_s=30.0) as kube:
        proc = subprocess.Popen([*cmd, "--kube-host", kube.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while not kube.patches and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert kube.patches, f"controller never actuated: {proc.stderr.read().decode() if proc.poll() is not None else ''}"
        os.kill(proc.pid, signal.SIGKILL)  # killed after acting, before recording the actuation
        proc.wait(timeout=10)
        desired = kube.patches[0][1]
        with Store.open(db).session() as s:
            row = s.scalars(select(DecisionRow)).one()
            assert row.actuated_at_s is None and row.desired["replicas"] == desired

        kube.patch_delay_s = 0.0
        done = subprocess.run([*cmd, "--kube-host", kube.url, "--json"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["decisions"][0]["result"] == f"deployment/serving/chat already at {desired}"
        assert len(kube.patches) == 1, "the restarted controller must not patch again"
    store = Store.open(db)
    with store.session() as s:
        rows = s.scalars(select(DecisionRow)).all()
        assert len(rows) == 1 and rows[0].actuated_at_s is not None
        assert store.count(UsageSample) == 30


def test_decisions_carry_the_demand_forecast(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    clock = SimClock(1_800_000_000.0)
    _seed_demand(store, clock.now_s(), rate_per_s=6.0)
    row = Controller(store, clock, DryRunActuator(), (_chat(),), AutoscaleDecide()).run_cycle()[0]
    # Flat 6 req/s history: the median forecast is 6 req/s.
    assert row.desired["forecast_per_s"] == pytest.approx(6.0, rel=0.05)


# ---------------------------------------------------------------- the loop on stored data (issue: loop closes)

def _seed_replicas(store: Store, now_s: float, per_replica: list[float], minutes: int = 30,
                   queue: list[float] | None = None) -> None:
    """Per-replica series as `ingest prometheus` stores them: one series per pod, the stored vocabulary."""
    from costplane.core.vocabulary import QUEUE_WAITING, REQUESTS_PER_S

    rows = []
    for i, rate in enumerate(per_replica):
        key = f'vllm:request_success_total{{pod="chat-7d9f8c6b5d-p{i}"}}'
        rows += [{"source": "prometheus", "metric": REQUESTS_PER_S, "series_key": key, "workload": "chat",
                  "ts_s": now_s - 60.0 * k, "value": rate} for k in range(minutes)]
    for i, q in enumerate(queue or []):
        rows.append({"source": "prometheus", "metric": QUEUE_WAITING, "series_key": f"q{i}", "workload": "chat",
                     "ts_s": now_s - 30.0, "value": q})
    store.add_usage_samples(rows)


def test_ingested_demand_of_every_replica_reaches_the_decision(db_url):
    store = Store.open(db_url)
    clock = SimClock(1_800_000_000.0)
    _seed_replicas(store, clock.now_s(), [4.0, 6.0], queue=[3.0, 4.0])
    row = Controller(store, clock, DryRunActuator(), (_chat(),), AutoscaleDecide()).run_cycle()[0]
    # 4 + 6 = 10 req/s at 2 req/s per replica: 5 replicas (the policy may hold more, never fewer)
    assert 5 <= row.desired["replicas"] <= 6
    assert row.observation["demand_per_s"][-1] == pytest.approx(10.0)
    assert row.observation["queue_units"] == 7.0 and row.observation["step_s"] == 60.0


def test_ready_and_starting_replicas_come_from_the_cluster(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    clock = SimClock(1_800_000_000.0)
    _seed_replicas(store, clock.now_s(), [10.0], queue=[400.0])
    with FakeKubeAPI({"deployment/serving/chat": 6}, ready={"deployment/serving/chat": 2}) as kube:
        ctl = Controller(store, clock, _kube_actuator(kube.url), (_chat(),), AutoscaleDecide(), validation_s=0)
        row = ctl.run_cycle()[0]
    obs = row.observation
    assert (obs["current_replicas"], obs["ready_replicas"], obs["starting_replicas"]) == (6, 2, 4)
    # 400 units wait and 2 ready replicas drain 2 x 2 x 10 s = 40 within the budget: hybrid's reactive branch acts
    assert row.desired["replicas"] > 6 and "queue 400.0" in row.reasons[0]


def test_policy_state_survives_a_restart(tmp_path):
    """A restarted controller decides exactly what one that never stopped decides (HPA's stabilisation window)."""
    url_a, url_b = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    hpa = ControlledService("chat", Target("deployment", "chat", "serving"), "hpa", "product", dict(SPEC))
    start = 1_800_000_000.0
    rates = [10.0] * 20 + [1.0] * 10  # a drop: HPA holds the highest recommendation of the last 300 s
    for url in (url_a, url_b):
        store = Store.open(url)
        store.add_usage_samples([{"source": "t", "metric": DEMAND_METRIC, "series_key": "chat", "workload": "chat",
                                  "ts_s": start + 60.0 * i, "value": r} for i, r in enumerate(rates)])
    steady = [], []
    clock_a = SimClock(start + 60.0 * 19)
    actuator_a = DryRunActuator()
    ctl_a = Controller(Store.open(url_a), clock_a, actuator_a, (hpa,), AutoscaleDecide(), validation_s=0)
    clock_b = SimClock(start + 60.0 * 19)
    for k in range(8):
        steady[0].append(ctl_a.run_cycle()[0].desired["replicas"])
        # b: a fresh process every cycle, on the same store
        ctl_b = Controller(Store.open(url_b), clock_b, DryRunActuator(), (hpa,), AutoscaleDecide(), validation_s=0)
        steady[1].append(ctl_b.run_cycle()[0].desired["replicas"])
        clock_a.advance(60.0)
        clock_b.advance(60.0)
    assert steady[0] == steady[1]
    assert steady[0][2] > steady[0][-1], "the stabilisation window held the fleet after the drop, then released it"


def test_two_controller_processes_on_one_store_never_both_act(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    store = Store.open(db)
    _seed_demand(store, time.time(), rate_per_s=10.0)
    services = tmp_path / "services.yaml"
    services.write_text(yaml.safe_dump({"services": [{"name": f"svc{i}", "policy": "hybrid",
                                                      "target": f"deployment/serving/svc{i}", **SPEC}
                                                     for i in range(5)]}))
    # -X faulthandler: a process that does not stop is made to show where it hangs (SIGABRT below)
    cmd = [sys.executable, "-X", "faulthandler", "-m", "costplane", "controller", "run", "--db", db,
           "--services", str(services), "--interval", "1", "--validate-s", "0"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    logs: list[list[str]] = [[], []]
    readers = [threading.Thread(target=lambda p=p, out=out: out.extend(p.stderr), daemon=True)
               for p, out in zip(procs, logs)]
    for r in readers:
        r.start()
    # both processes up (start-up takes seconds on a busy machine), then several cycles with both running
    deadline = time.time() + 120
    while time.time() < deadline and not all(any("holder " in line for line in out) for out in logs):
        time.sleep(0.2)
    time.sleep(6)
    # Ctrl-C for one, SIGTERM (a pod's shutdown) for the other: both end after their cycle, lease released
    for p, sig in zip(procs, (signal.SIGINT, signal.SIGTERM)):
        p.send_signal(sig)
    # A stop waits for the cycle in progress and the lease release (store writes, busy timeout 10 s each).
    hung = []
    for k, (p, r) in enumerate(zip(procs, readers)):
        try:
            p.wait(timeout=90)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGABRT)
            p.wait(timeout=30)
            hung.append(k)
        r.join(timeout=10)
    errs = ["".join(out) for out in logs]
    assert not hung, f"controller(s) {hung} did not stop within 90 s of SIGINT/SIGTERM; where they were: {errs}"
    assert all("Traceback" not in e and "IntegrityError" not in e for e in errs), errs
    with Store.open(db).session() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.action.in_(("actuate", "noop")))).all()
        decisions = s.scalars(select(DecisionRow)).all()
    acted = [(a.detail["cycle"], a.target) for a in audit]
    assert len(acted) >= 5 * 3, "the active controller ran several cycles"
    assert len(acted) == len(set(acted)), "no (cycle, target) was actuated twice"
    assert len(decisions) == len(acted)
    holders = {e.split("holder ")[1].split(";")[0] for e in errs if "holder " in e}
    assert len(holders) == 2, "two processes ran"


def test_kubernetes_lease_one_holder_takeover_on_expiry_and_release():
    from kube_fixtures import LoopbackKubeAPI
    from kubernetes import client

    from costplane.controller import KubernetesLease

    with LoopbackKubeAPI([]) as fake:
        api = fake.api_client()
        a = KubernetesLease(api, "costplane", ttl_s=30, holder="a")
        b = KubernetesLease(api, "costplane", ttl_s=30, holder="b")
        t = 1_800_000_000.0
        assert a.acquire(t) and not b.acquire(t + 1)
        assert a.acquire(t + 20), "the holder renews"
        assert not b.acquire(t + 45), "renewed at +20 for 30 s: still a's"
        assert b.acquire(t + 51) and not a.acquire(t + 52), "expired: b takes over, a is now the standby"
        spec = fake.get("coordination.k8s.io/v1", "Lease", "costplane-controller", "costplane")["spec"]
        assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1 and spec["leaseDurationSeconds"] == 30
        b.release()
        assert a.acquire(t + 53), "a released lease is free at once"
        # a stale write (another holder renewed in between) is refused by resourceVersion, not overwritten
        stale = client.CoordinationV1Api(api).read_namespaced_lease("costplane-controller", "costplane")
        assert a.acquire(t + 54)
        stale.spec.holder_identity = "c"
        with pytest.raises(client.exceptions.ApiException) as exc:
            client.CoordinationV1Api(api).replace_namespaced_lease("costplane-controller", "costplane", stale)
        assert exc.value.status == 409
