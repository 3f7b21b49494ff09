"""CSV reading with file line numbers (header = line 1), `.gz` support and one-line errors for unreadable files."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

from costplane.core.errors import InputError

csv.field_size_limit(16 * 1024 * 1024)  # FOCUS Tags / SkuPriceDetails JSON cells can be long


def open_text(path: Path) -> io.TextIOBase:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file {path} does not exist", fix="check the path")
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}", fix="check the file's permissions") from None


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """(header, iterator of (first line number of the record, fields)); blank lines are skipped."""
    f = open_text(path)
    reader = csv.reader(f)
    try:
        header = next(reader)
    except StopIteration:
        f.close()
        raise InputError(f"{path} is empty: no header line", fix="export the file again with its header") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        f.close()
        raise InputError(f"{path} line 1 is not CSV text: {exc}", fix="save the file as UTF-8 CSV") from None
    header = [h.strip() for h in header]

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num
        try:
            for fields in reader:
                start, line = line + 1, reader.line_num
                if not fields or all(not x.strip() for x in fields):
                    continue
                yield start, fields
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path} line {line + 1} is not valid CSV: {exc}",
                             fix="fix the quoting on that line or export the file again") from None
        finally:
            f.close()

    return header, rows()
