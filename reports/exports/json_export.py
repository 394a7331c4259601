"""JSON: the report's definition and its data, written row by row (a million rows never sit in
memory as one document)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from ..rendering import Rendered, block_json, cell_json, header_json
from . import file_stem


def stream(rendered: Rendered) -> tuple[str, str, Iterator[bytes]]:
    return f"{file_stem(rendered.title, 'report')}.json", "application/json", _chunks(rendered)


def _chunks(rendered: Rendered) -> Iterator[bytes]:
    yield orjson.dumps(header_json(rendered))[:-1] + b',"blocks":['
    for i, block in enumerate(rendered.blocks):
        body = block_json(block, max_rows=0)
        table = body.pop("table", None)
        head = orjson.dumps(body)
        if table is None:
            yield (b"," if i else b"") + head
            continue
        table.pop("rows")
        yield (b"," if i else b"") + head[:-1] + b',"table":' + orjson.dumps(table)[:-1] \
            + b',"rows":['
        parts: list[bytes] = []
        for count, row in enumerate(block.table.all_rows()):
            parts.append((b"," if count else b"") + orjson.dumps([cell_json(v) for v in row]))
            if len(parts) >= 5000:
                yield b"".join(parts)
                parts.clear()
        yield b"".join(parts) + b"]}}"
    yield b"]}"


def as_bytes(rendered: Rendered) -> tuple[str, str, bytes]:
    name, content_type, chunks = stream(rendered)
    return name, content_type, b"".join(chunks)
