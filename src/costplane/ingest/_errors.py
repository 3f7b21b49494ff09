"""Ingest failures: a source that cannot be reached, and a file whose rows were all (or, strictly, any) rejected."""

from __future__ import annotations

from costplane.core.errors import CostplaneError, InputError


class SourceUnreachableError(CostplaneError):
    """An external source (Prometheus) did not answer after every retry; nothing was written."""

    exit_code = 3


class RowsRejectedError(InputError):
    """No row of a file could be ingested (or, with --strict, at least one was rejected); nothing was written."""

    exit_code = 1
