"""Streaming CSV: rows are written as they are generated and sent in chunks of ~64 KiB.

The whole body is never held in memory; a million-row export costs one chunk of buffer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice

CHUNK_CHARS = 64 * 1024
_BATCH_ROWS = 256


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, chunk_chars: int = CHUNK_CHARS
) -> Iterator[bytes]:
    """UTF-8 CSV (QUOTE_MINIMAL, CRLF line ends as in RFC 4180), header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(header)
    source = iter(rows)
    while batch := list(islice(source, _BATCH_ROWS)):
        writer.writerows(batch)
        if buffer.tell() >= chunk_chars:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()
