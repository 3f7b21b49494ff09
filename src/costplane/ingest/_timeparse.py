"""Times at the edge: ISO 8601, epoch seconds, `now` and relative offsets (`-1h`, `-30m`, `-7d`) -> UTC epoch s."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from costplane.core.errors import InputError

_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_RELATIVE = re.compile(r"^\s*-\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_timestamp(text: str) -> float:
    """Epoch seconds (int/float text) or ISO 8601 (naive = UTC) -> epoch seconds; ValueError when neither."""
    s = text.strip()
    if not s:
        raise ValueError("empty timestamp")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"timestamp {s!r} is not finite")
        return value
    iso = s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s
    dt = datetime.fromisoformat(iso)  # raises ValueError with its own message
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_time_arg(text: str, now_s: float, flag: str) -> float:
    """A CLI time: `now`, `-1h` (relative to now_s), epoch seconds or ISO 8601."""
    s = text.strip().lower()
    if s == "now":
        return now_s
    m = _RELATIVE.match(s)
    if m:
        return now_s - float(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        return parse_timestamp(text)
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a time",
                         fix="use now, a relative offset like -1h / -30m / -7d, epoch seconds, "
                             "or ISO 8601 like 2026-11-25T10:00:00Z") from None


def iso(ts_s: float) -> str:
    return datetime.fromtimestamp(ts_s, tz=timezone.utc).isoformat().replace("+00:00", "Z")
