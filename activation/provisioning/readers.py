"""Streaming readers for HR extracts (CSV and JSON) that yield raw rows with where they came from.

File-level problems (not UTF-8, no header, unknown or missing columns, broken JSON) raise
InputFileError, which names the file, the column or position, and the fix. Row-level problems
(a row with too many or too few cells, a non-object JSON item) travel with the row as `defect`,
so validation can reject that one record and carry on.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, NamedTuple

from activation.errors import ConfigurationError
from activation.provisioning.mapping import MappingProfile

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_JSON_CHUNK = 1 << 20


class InputFileError(ConfigurationError):
    """The HR file as a whole cannot be read; nothing from it is imported."""


class SourceRow(NamedTuple):
    source_ref: str  # "line 12" (CSV: physical line where the record starts) or "index 3" (JSON)
    values: dict[str, str]
    defect: str | None = None


def read_rows(path: str | Path, mapping: MappingProfile) -> Iterator[SourceRow]:
    """Pick the reader by file extension (.json, else CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_json(path, mapping)
    return read_csv(path, mapping)


def read_csv(path: str | Path, mapping: MappingProfile) -> Iterator[SourceRow]:
    path = Path(path)
    _refuse_utf16(path)
    try:
        handle = path.open("r", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputFileError(f"HR file {path} cannot be opened ({exc.strerror})") from exc
    return _csv_rows(path, handle, mapping)


def _csv_rows(path: Path, handle: IO[str], mapping: MappingProfile) -> Iterator[SourceRow]:
    with handle:
        reader = None
        try:
            first_line = handle.readline()
            delimiter = _sniff_delimiter(first_line)
            handle.seek(0)  # the utf-8-sig decoder is reset and drops a BOM again
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            header = next(reader, None)
            if not header or not any(cell.strip() for cell in header):
                raise InputFileError(
                    f"HR file {path} has no header line; the first line must name the columns, e.g. "
                    f"{','.join(sorted(mapping.required_columns))}"
                )
            columns = [cell.strip() for cell in header]
            _check_columns(path, columns, mapping)
            width = len(columns)
            previous_end = reader.line_num
            for cells in reader:
                start = previous_end + 1
                previous_end = reader.line_num
                if not cells:
                    continue  # a blank line carries no record
                if len(cells) != width:
                    yield SourceRow(
                        f"line {start}",
                        dict(zip(columns, cells, strict=False)),
                        f"has {len(cells)} cells but the header has {width}; check quoting and delimiters",
                    )
                    continue
                yield SourceRow(f"line {start}", dict(zip(columns, cells, strict=True)))
        except UnicodeDecodeError as exc:
            at = f"after line {reader.line_num}" if reader is not None else "in the header"
            raise InputFileError(
                f"HR file {path} is not UTF-8 (bad byte {at}); export it again as UTF-8 (\"CSV UTF-8\")"
            ) from exc
        except csv.Error as exc:
            at = reader.line_num if reader is not None else 1
            raise InputFileError(f"HR file {path}, line {at}: malformed CSV ({exc}); fix the quoting") from exc


def _sniff_delimiter(header_line: str) -> str:
    """Comma or semicolon, whichever the header line uses more outside quotes."""
    commas = semicolons = 0
    quoted = False
    for ch in header_line:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == ",":
                commas += 1
            elif ch == ";":
                semicolons += 1
    return ";" if semicolons > commas else ","


def _check_columns(path: Path, columns: list[str], mapping: MappingProfile) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise InputFileError(f"HR file {path}: column {column!r} appears twice in the header; remove one")
        seen.add(column)
    missing = sorted(label for label, alternatives in mapping.required_alternatives.items()
                     if not any(column in seen for column in alternatives))
    if missing:
        raise InputFileError(
            f"HR file {path}: required column(s) {', '.join(missing)} missing for mapping "
            f"{mapping.name!r}; add them to the header or use --mapping with a profile that fits this file"
        )
    allowed = mapping.allowed_columns
    if allowed is not None:
        unknown = [column for column in columns if column not in allowed]
        if unknown:
            raise InputFileError(
                f"HR file {path}: unknown column(s) {', '.join(repr(c) for c in unknown)} for mapping "
                f"{mapping.name!r} ({mapping.source}); rename them, map them under [fields], or list them "
                "in profile.ignored_columns"
            )


def _refuse_utf16(path: Path) -> None:
    try:
        with path.open("rb") as raw:
            start = raw.read(2)
    except OSError as exc:
        raise InputFileError(f"HR file {path} cannot be opened ({exc.strerror})") from exc
    if start in _UTF16_BOMS:
        raise InputFileError(f"HR file {path} is UTF-16; export it again as UTF-8 (\"CSV UTF-8\")")


def read_json(path: str | Path, mapping: MappingProfile, *, chunk_size: int = _JSON_CHUNK) -> Iterator[SourceRow]:
    """A JSON array of objects, decoded incrementally (one object at a time)."""
    path = Path(path)
    _refuse_utf16(path)
    try:
        handle = path.open("r", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"HR file {path} cannot be opened ({exc.strerror})") from exc
    return _json_rows(path, handle, mapping, chunk_size)


def _json_rows(path: Path, handle: IO[str], mapping: MappingProfile, chunk_size: int) -> Iterator[SourceRow]:
    with handle:
        try:
            yield from rows_from_objects(_iter_json_array(path, handle, chunk_size), mapping=mapping, source=str(path))
        except UnicodeDecodeError as exc:
            raise InputFileError(f"HR file {path} is not UTF-8; export it again as UTF-8") from exc


def rows_from_objects(
    objects: Iterable[object], *, mapping: MappingProfile, source: str = "request body"
) -> Iterator[SourceRow]:
    """Turn decoded JSON items (a file or an API body) into rows; positions are array indexes."""
    allowed = mapping.allowed_columns
    for index, item in enumerate(objects):
        ref = f"index {index}"
        if not isinstance(item, dict):
            yield SourceRow(ref, {}, f"is a JSON {type(item).__name__}, not an object; send one object per worker")
            continue
        if allowed is not None:
            unknown = [key for key in item if key not in allowed]
            if unknown:
                raise InputFileError(
                    f"{source}, {ref}: unknown field(s) {', '.join(repr(k) for k in unknown)} for mapping "
                    f"{mapping.name!r}; rename them, map them under [fields], or list them in "
                    "profile.ignored_columns"
                )
        values: dict[str, str] = {}
        defect = None
        for key, value in item.items():
            if value is None:
                values[key] = ""
            elif isinstance(value, str):
                values[key] = value
            elif isinstance(value, bool):
                values[key] = "true" if value else "false"
            elif isinstance(value, int | float):
                values[key] = str(value)
            else:
                defect = f"field {key!r} holds a JSON {type(value).__name__}; send a string"
        yield SourceRow(ref, values, defect)


def _iter_json_array(path: Path, handle: IO[str], chunk_size: int) -> Iterator[object]:
    decoder = json.JSONDecoder()
    buf = _TextBuffer(handle, chunk_size)
    if buf.peek() == "{":
        yield from _wrapped_rows(path, buf)
        return
    if buf.peek() != "[":
        raise InputFileError(f"HR file {path} is not a JSON array; the file must start with [ and hold objects")
    buf.pos += 1
    if buf.peek() == "]":
        buf.pos += 1
        _expect_end(path, buf)
        return
    index = 0
    while True:
        buf.peek()
        try:
            item, end = decoder.raw_decode(buf.text, buf.pos)
        except json.JSONDecodeError as exc:
            if buf.more():
                continue
            raise InputFileError(f"HR file {path}, index {index}: invalid JSON ({exc.msg}); fix it") from exc
        except RecursionError:  # json recurses once per level: [[[[...]]]] must not end in a traceback
            raise InputFileError(f"HR file {path}, index {index}: the JSON is nested too deeply; "
                                 "each worker must be a flat object of strings") from None
        if end >= len(buf.text) and buf.more():
            continue  # a number at the end of the buffer may be cut short: decode it again
        yield item
        index += 1
        buf.pos = end
        ch = buf.peek()
        if ch == ",":
            buf.pos += 1
        elif ch == "]":
            buf.pos += 1
            _expect_end(path, buf)
            return
        elif not ch:
            raise InputFileError(f"HR file {path}: JSON array is not closed after index {index - 1}; add ]")
        else:
            raise InputFileError(f"HR file {path}: expected , or ] after index {index - 1}; fix the JSON")


def _wrapped_rows(path: Path, buf: _TextBuffer) -> Iterator[object]:
    """`{"rows": [...]}`: the shape Microsoft's Logic Apps sample (CSV2SCIMBulkUpload) parses a CSV into."""
    while buf.more():
        pass
    try:
        document = json.loads(buf.text[buf.pos:])
    except json.JSONDecodeError as exc:
        raise InputFileError(f"HR file {path}: invalid JSON ({exc.msg} at line {exc.lineno}); fix it") from exc
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        keys = ", ".join(sorted(document)) if isinstance(document, dict) else ""
        raise InputFileError(
            f"HR file {path} is a JSON object without a \"rows\" array (keys: {keys or 'none'}); send an array "
            "of workers, or {\"rows\": [...]} as Logic Apps writes it")
    yield from rows


def _expect_end(path: Path, buf: _TextBuffer) -> None:
    if buf.peek():
        raise InputFileError(f"HR file {path}: data after the closing ] of the array; remove it")


class _TextBuffer:
    """A sliding window over a text stream for incremental JSON decoding."""

    def __init__(self, handle: IO[str], chunk_size: int) -> None:
        self._handle = handle
        self._chunk_size = chunk_size
        self.text = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Drop consumed text and append the next chunk; False at end of file."""
        if self.eof:
            return False
        chunk = self._handle.read(self._chunk_size)
        self.text = self.text[self.pos:] + chunk
        self.pos = 0
        self.eof = not chunk
        return bool(chunk)

    def peek(self) -> str:
        """Skip whitespace and return the next character, or "" at end of file."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.more():
                return ""
