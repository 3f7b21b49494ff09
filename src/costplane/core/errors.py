"""The one exception hierarchy: every user-facing failure is a CostplaneError with an actionable message."""

from __future__ import annotations


class CostplaneError(Exception):
    """A failure a user can act on; the CLI prints it on one line and exits non-zero.

    `fix` is appended as "To fix: ..." so every message says what to do next.
    """

    exit_code = 2

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message.rstrip(".")
        if self.fix:
            text += f". To fix: {self.fix}"
        return " ".join(text.split())


class InputError(CostplaneError):
    """Malformed or out-of-range user input (files, flags, specs)."""


class CatalogError(InputError):
    """A price catalog that cannot be read: names the file, line and column."""


class UnknownGpuError(InputError):
    """A GPU model name the catalog does not know; suggests the nearest names."""


class InfeasibleError(CostplaneError):
    """No offer, plan or schedule meets the constraints; names the one that binds."""

    exit_code = 1


class StoreError(CostplaneError):
    """The database cannot be reached or refused a write; nothing partial is committed."""


class NotFittedError(CostplaneError):
    """A model was asked to predict before it was fitted."""
