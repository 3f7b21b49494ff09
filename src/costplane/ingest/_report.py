"""What one ingest run did: rows read, added, skipped as duplicates, and rejected (with line, column and reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from costplane.ingest._errors import RowsRejectedError

MAX_REJECTIONS_KEPT = 1_000  # a broken 10 GB file must not keep 10 GB of reasons; the count stays exact


@dataclass(frozen=True)
class Rejection:
    """One row that was not ingested: 1-based file line (header = line 1), the column at fault, why."""

    line: int
    column: str | None
    value: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "value": self.value, "reason": self.reason}

    def describe(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.reason}{shown}"


@dataclass
class IngestReport:
    """Counts of one run. `read = ingested + duplicates + rejected` for file sources."""

    source: str
    kind: str  # usage_samples | cost_records
    read: int = 0
    ingested: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def reject(self, line: int, column: str | None, value: Any, reason: str) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_KEPT:
            self.rejections.append(Rejection(line, column, None if value is None else str(value)[:120], reason))

    def rejection_reasons(self) -> dict[str, int]:
        """Rejections grouped by reason (column + reason), most frequent first, for a readable summary."""
        counts: dict[str, int] = {}
        for r in self.rejections:
            key = f"{r.column}: {r.reason}" if r.column else r.reason
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "read": self.read, "ingested": self.ingested,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "rejections": [r.to_dict() for r in self.rejections], "warnings": list(self.warnings),
                **self.details}


def rejection_error(report: IngestReport, strict: bool) -> RowsRejectedError | None:
    """The error to exit with: all rows rejected, or (strict) any; None when the run counts as a success."""
    if not report.rejected:
        return None
    first = report.rejections[0].describe() if report.rejections else "see the report"
    good = report.read - report.rejected
    if strict:
        return RowsRejectedError(f"{report.rejected} of {report.read} rows rejected in {report.source} "
                                 f"(first: {first}); --strict: nothing was written",
                                 fix="fix those rows, or drop --strict to keep the good rows")
    if good <= 0:
        return RowsRejectedError(f"all {report.read} rows rejected in {report.source} (first: {first})",
                                 fix="fix the rows named in the report (--json lists every line and column)")
    return None
