"""CSV: a file per block (a ZIP of them when there are several), streamed in chunks.

A text cell that a spreadsheet would read as a formula — starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return — is written with a leading ``'`` (OWASP's CSV injection
advice); numbers are written as numbers, times as ISO 8601 with their offset."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime

from ..rendering import Rendered
from . import file_stem, table_of

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 5000


def guard(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return guard(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def csv_chunks(table) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([guard(c.heading) for c in table.columns])
    texts: dict[str, str] = {}
    for count, row in enumerate(table.all_rows(), start=1):
        out = []
        for value in row:
            if isinstance(value, str):  # tag values repeat: guard each once
                value = texts.get(value) or texts.setdefault(value, guard(value))
            elif isinstance(value, datetime):
                value = value.isoformat()
            elif value is None:
                value = ""
            out.append(value)
        writer.writerow(out)
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class _Sink(io.RawIOBase):
    """Where the ZIP writer writes: handed out chunk by chunk (no seeking: data descriptors)."""

    def __init__(self):
        super().__init__()
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def csv_files(rendered: Rendered) -> list[tuple[str, object]]:
    files, seen = [], set()
    for i, block in enumerate(rendered.blocks, start=1):
        table = table_of(block)
        if table is None:
            continue
        name = f"{i:02d}-{file_stem(block.title, block.kind)}.csv"
        while name in seen:
            name = name.replace(".csv", "-2.csv")
        seen.add(name)
        files.append((name, table))
    return files


def stream(rendered: Rendered) -> tuple[str, str, Iterator[bytes]]:
    """(file name, content type, chunks): one CSV, or a ZIP of one per block."""
    files = csv_files(rendered)
    stem = file_stem(rendered.title, "report")
    if len(files) == 1:
        name, table = files[0]
        return (f"{stem}-{name[3:]}", "text/csv; charset=utf-8",
                (chunk.encode() for chunk in csv_chunks(table)))
    return f"{stem}.zip", "application/zip", _zip(files)


def _zip(files) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zipped:
        for name, table in files:
            with zipped.open(name, "w", force_zip64=True) as entry:
                for chunk in csv_chunks(table):
                    entry.write(chunk.encode())
                    yield sink.take()
    yield sink.take()


def as_bytes(rendered: Rendered) -> tuple[str, str, bytes]:
    name, content_type, chunks = stream(rendered)
    return name, content_type, b"".join(chunks)
