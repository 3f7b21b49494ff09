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
