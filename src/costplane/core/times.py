"""Time at the edges: the one timestamp parser and the one duration grammar every file, flag and API uses.

Timestamps (`parse_timestamp`, `timestamp_seconds` for a column): epoch seconds (any number, any origin,
kept as it is) or ISO 8601 (`2026-11-25T10:00:00Z`, `2026-11-25 10:00:00.1234567`, `+02:00` offsets,
`2026-11-25`); a time without a zone is UTC. The result is float seconds since the Unix epoch (UTC).

Durations (`parse_duration_s`): a plain number is seconds (the project's time unit); otherwise one or more
`<number><unit>` parts with units s, m, h, d, w (`90s`, `15m`, `2h`, `7d`, `1w`, `1d12h`), or ISO 8601
(`PT1H`, `P1D`, `P1W`, `P1DT2H30M`; no years or months, which have no fixed length). Always > 0 and
finite, at most `max_s` when the caller bounds it.

CLI times (`parse_time_arg`): `now`, a relative offset (`-1h`, `-30m`, `-7d`, any duration after `-`),
or a timestamp.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone
from typing import Any

from costplane.core.errors import InputError

_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_COMPACT = re.compile(rf"^(?:{_NUMBER}[smhdw])+$", re.IGNORECASE)
_COMPACT_PART = re.compile(rf"({_NUMBER})([smhdw])", re.IGNORECASE)
_ISO = re.compile(rf"^P(?:({_NUMBER})W)?(?:({_NUMBER})D)?(?:T(?:({_NUMBER})H)?(?:({_NUMBER})M)?(?:({_NUMBER})S)?)?$",
                  re.IGNORECASE)
MAX_WINDOW_S = 400 * 86400.0  # cost, spend and report windows: a little over a year, enough for any budget period
DURATION_EXAMPLES = "90s, 15m, 2h, 7d, 1w, 1d12h, 3600 (seconds) or PT1H"
TIMESTAMP_EXAMPLES = "epoch seconds or ISO 8601 like 2026-11-25T10:00:00Z"


def parse_timestamp(text: Any) -> float:
    """Epoch seconds (number text) or ISO 8601 (no zone = UTC) -> UTC epoch seconds; ValueError when neither."""
    s = str(text).strip()
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
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"{s!r} is neither {TIMESTAMP_EXAMPLES}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def timestamp_seconds(values: Any) -> Any:
    """A column of timestamps (pandas Series) -> float64 Series of UTC epoch seconds, NaN where unreadable.

    The same rules as `parse_timestamp`, element by element: numbers stay numbers, the rest is read as
    ISO 8601 (each distinct string once), so a column may even mix the two.
    """
    import numpy as np
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(values)
    out = pd.to_numeric(series, errors="coerce").astype("float64")
    out[~np.isfinite(out.to_numpy())] = np.nan
    rest = out.isna() & series.notna()
    if rest.any():
        text = series[rest].astype(str)
        parsed: dict[str, float] = {}
        for s in pd.unique(text):
            try:
                parsed[s] = parse_timestamp(s)
            except ValueError:
                parsed[s] = math.nan
        out[rest] = text.map(parsed).astype("float64")
    return out


def parse_duration_s(text: Any, what: str = "duration", max_s: float | None = None) -> float:
    """`90s`, `15m`, `2h`, `7d`, `1w`, `1d12h`, `3600` (seconds), `PT1H` -> seconds (> 0, finite, <= max_s)."""
    raw = str(text).strip() if text is not None else ""
    compact = raw.replace(" ", "")
    fix = f"write {what} as a positive duration such as {DURATION_EXAMPLES}"
    seconds: float | None = None
    try:
        seconds = float(compact)
    except ValueError:
        if _COMPACT.match(compact):
            seconds = sum(float(n) * _UNIT_S[u.lower()] for n, u in _COMPACT_PART.findall(compact))
        else:
            m = _ISO.match(compact)
            if m and any(m.groups()) and not compact.upper().endswith("T"):
                weeks, days, hours, minutes, secs = (float(g) if g else 0.0 for g in m.groups())
                seconds = weeks * 604800.0 + days * 86400.0 + hours * 3600.0 + minutes * 60.0 + secs
    if seconds is None:
        raise InputError(f"{what} {raw!r} is not a duration", fix=fix)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"{what} must be a positive, finite duration, got {raw!r}", fix=fix)
    if max_s is not None and seconds > max_s:
        raise InputError(f"{what} {raw!r} is longer than the limit of {format_duration(max_s)}",
                         fix=f"use a {what} of at most {format_duration(max_s)}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest whole-unit spelling of a duration in the grammar above (`604800` -> `1w`)."""
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_S[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"


def parse_time_arg(text: str, now_s: float, flag: str) -> float:
    """A CLI time: `now`, `-1h` (relative to now_s, any duration after the minus), epoch seconds or ISO 8601."""
    s = str(text).strip()
    if s.lower() == "now":
        return now_s
    fix = f"use now, a relative offset like -1h / -30m / -7d, or {TIMESTAMP_EXAMPLES}"
    if s.startswith("-") and not _is_number(s):
        return now_s - parse_duration_s(s[1:].strip(), flag)
    try:
        return parse_timestamp(s)
    except ValueError:
        raise InputError(f"{flag} {text!r} is not a time", fix=fix) from None


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def iso(ts_s: float) -> str:
    """UTC epoch seconds -> ISO 8601 with a Z."""
    return datetime.fromtimestamp(ts_s, tz=timezone.utc).isoformat().replace("+00:00", "Z")
