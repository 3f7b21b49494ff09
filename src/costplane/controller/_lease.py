"""One active controller per store: a row lease that the holder renews every cycle.

A controller acts only while it holds the lease `controller` in the store's `controller_lease` table;
another process on the same store waits as a standby and takes over when the lease expires (the holder
died) or is released (the holder stopped). Taking and renewing are one conditional UPDATE each, so two
processes never both believe they hold it (the same compare-and-swap a Kubernetes Lease does on its
resourceVersion). A holder on this host whose process is gone is treated as expired at once, so a
`controller run --once` killed mid-cycle can be re-run without waiting out the lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

LEASE_NAME = "controller"


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    acquired_at_s: float
    expires_at_s: float


class StoreLease:
    """Acquire/renew/release the controller lease in the store; `ttl_s` is how long a silent holder keeps it."""

    def __init__(self, store, ttl_s: float, holder: str | None = None, name: str = LEASE_NAME) -> None:
        self.store, self.ttl_s, self.name = store, ttl_s, name
        self.holder = holder or new_holder_id()

    def acquire(self, now_s: float) -> bool:
        """Take or renew the lease; False while another live holder has it."""
        from sqlalchemy import or_, update
        from sqlalchemy.exc import IntegrityError

        from costplane.store import ControllerLease

        with self.store.session() as s:
            current = s.get(ControllerLease, self.name)
            if current is None:
                s.add(ControllerLease(name=self.name, holder=self.holder, acquired_at_s=now_s,
                                      expires_at_s=now_s + self.ttl_s))
                try:
                    s.flush()
                    return True
                except IntegrityError:  # another process inserted it first
                    s.rollback()
                    return False
            dead = current.holder != self.holder and _holder_is_dead(current.holder)
            acquired = current.acquired_at_s if current.holder == self.holder else now_s
            stmt = (update(ControllerLease).where(ControllerLease.name == self.name)
                    .values(holder=self.holder, acquired_at_s=acquired, expires_at_s=now_s + self.ttl_s))
            if not dead:
                # compare-and-swap: only if it is still ours, or it still has the expired holder we read
                stmt = stmt.where(or_(ControllerLease.holder == self.holder,
                                      (ControllerLease.holder == current.holder)
                                      & (ControllerLease.expires_at_s < now_s)))
            else:
                stmt = stmt.where(ControllerLease.holder == current.holder)
            return s.execute(stmt).rowcount == 1

    def release(self) -> None:
        from sqlalchemy import delete

        from costplane.store import ControllerLease

        with self.store.session() as s:
            s.execute(delete(ControllerLease).where(ControllerLease.name == self.name,
                                                    ControllerLease.holder == self.holder))

    def info(self) -> LeaseInfo | None:
        return read_lease(self.store, self.name)


def read_lease(store, name: str = LEASE_NAME) -> LeaseInfo | None:
    from costplane.store import ControllerLease

    with store.session() as s:
        row = s.get(ControllerLease, name)
        return None if row is None else LeaseInfo(row.holder, row.acquired_at_s, row.expires_at_s)


class KubernetesLease:
    """The same lease as a Kubernetes `coordination.k8s.io/v1` Lease, for a controller running in a cluster.

    Taking and renewing replace the Lease object with the resourceVersion read, so the API server refuses
    (409) a write that raced another holder's, as client-go's leader election does. The holder's
    identity, `renewTime` and `leaseDurationSeconds` follow client-go's conventions, so `kubectl get
    lease` reads it like any other controller's.
    """

    def __init__(self, api_client, namespace: str, ttl_s: float, holder: str | None = None,
                 name: str = "costplane-controller") -> None:
        from kubernetes import client

        self._api = client.CoordinationV1Api(api_client)
        self._client = client
        self.namespace, self.name, self.ttl_s = namespace, name, ttl_s
        self.holder = holder or new_holder_id()

    @staticmethod
    def _time(t_s: float):
        from datetime import datetime, timezone

        return datetime.fromtimestamp(t_s, tz=timezone.utc)

    def _read(self):
        from kubernetes.client.exceptions import ApiException

        try:
            return self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _lease_error("read", self, exc) from None

    def acquire(self, now_s: float) -> bool:
        from kubernetes.client.exceptions import ApiException

        c = self._client
        lease = self._read()
        spec = c.V1LeaseSpec(holder_identity=self.holder, lease_duration_seconds=int(max(1, round(self.ttl_s))),
                             renew_time=self._time(now_s), acquire_time=self._time(now_s), lease_transitions=0)
        try:
            if lease is None:
                self._api.create_namespaced_lease(self.namespace, c.V1Lease(
                    metadata=c.V1ObjectMeta(name=self.name, namespace=self.namespace), spec=spec))
                return True
            held = lease.spec.holder_identity if lease.spec else None
            renewed = lease.spec.renew_time.timestamp() if lease.spec and lease.spec.renew_time else 0.0
            duration = (lease.spec.lease_duration_seconds or 0) if lease.spec else 0
            if held and held != self.holder and renewed + duration >= now_s:
                return False
            if held == self.holder and lease.spec.acquire_time is not None:
                spec.acquire_time = lease.spec.acquire_time
                spec.lease_transitions = lease.spec.lease_transitions or 0
            else:
                spec.lease_transitions = ((lease.spec.lease_transitions or 0) + 1) if lease.spec else 1
            lease.spec = spec  # metadata keeps the resourceVersion read: a racing write gets 409
            self._api.replace_namespaced_lease(self.name, self.namespace, lease)
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise _lease_error("take", self, exc) from None

    def release(self) -> None:
        from kubernetes.client.exceptions import ApiException

        lease = self._read()
        if lease is None or lease.spec is None or lease.spec.holder_identity != self.holder:
            return
        lease.spec.holder_identity = None
        lease.spec.lease_duration_seconds = 1
        try:
            self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException:
            pass  # it expires anyway

    def info(self) -> LeaseInfo | None:
        lease = self._read()
        if lease is None or lease.spec is None or not lease.spec.holder_identity:
            return None
        renewed = lease.spec.renew_time.timestamp() if lease.spec.renew_time else 0.0
        acquired = lease.spec.acquire_time.timestamp() if lease.spec.acquire_time else renewed
        return LeaseInfo(lease.spec.holder_identity, acquired, renewed + (lease.spec.lease_duration_seconds or 0))


def _lease_error(what: str, lease: KubernetesLease, exc):
    from costplane.core.errors import CostplaneError

    return CostplaneError(f"Kubernetes refused to {what} Lease {lease.namespace}/{lease.name}: {exc.status} {exc.reason}",
                          fix="let the service account get, create and update leases (coordination.k8s.io) in that "
                              "namespace, or use --lease store")
