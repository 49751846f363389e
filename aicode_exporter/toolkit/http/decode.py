"""Content decoding that never inflates more than it hands on: each layer of
`Content-Encoding` (gzip, deflate; stacked layers too) is undone in pieces of at most
PIECE bytes, so the reader's size limit (body.py) is checked as the body inflates, not
after a 1 MB gzip has become a gigabyte in one call. httpx's own decoders inflate a whole
network chunk at once (a 64 KiB gzip chunk of zeros is 64 MiB), and for `gzip, gzip` the
inner layer's output again at once; they are not used.

What the client asks for (`Accept-Encoding: gzip, deflate`) is what it decodes: any other
coding, or more than MAX_LAYERS layers, is refused before a byte is inflated.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024  # the most one step of one layer inflates
MAX_LAYERS = 3  # "gzip, gzip" is legal, if odd; ten layers is not a vendor
_GZIP = 16 + zlib.MAX_WBITS
_CODINGS = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}


class DecodeError(ValueError):
    """The body's Content-Encoding is unsupported, or its bytes are not what it says."""


def codings(header: str) -> list[str]:
    """`Content-Encoding` as the codings to undo, in the order they were applied
    (`identity` dropped); DecodeError for one we do not decode or too many."""
    out = []
    for raw in header.split(","):
        name = raw.strip().lower()
        if name in ("", "identity"):
            continue
        if name not in _CODINGS:
            raise DecodeError(f"unsupported Content-Encoding {name[:40]!r} "
                              f"(we ask for {ACCEPT_ENCODING})")
        out.append(_CODINGS[name])
    if len(out) > MAX_LAYERS:
        raise DecodeError(f"{len(out)} stacked Content-Encodings; at most {MAX_LAYERS} "
                          "are decoded")
    return out


def decoded(chunks: Iterable[bytes], header: str, piece: int = PIECE) -> Iterator[bytes]:
    """The body of `chunks` (as sent) with the codings of `header` undone, in pieces of
    at most `piece` bytes per compressed layer (an identity body passes as it came).
    DecodeError comes from the first read, not from this call."""
    out: Iterable[bytes] = chunks
    for coding in reversed(codings(header)):  # the last one applied is the first undone
        out = _inflate(out, coding, piece)
    yield from out


def _decompressor(coding: str, first: bytes) -> zlib._Decompress:
    if coding == "gzip":
        return zlib.decompressobj(_GZIP)
    # "deflate" is zlib-wrapped by the standard, raw deflate by some servers: as httpx
    # and browsers do, the first two bytes tell.
    wrapped = len(first) >= 2 and (first[0] & 0x0F) == 8 and \
        (first[0] << 8 | first[1]) % 31 == 0
    return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _inflate(chunks: Iterable[bytes], coding: str, piece: int) -> Iterator[bytes]:
    d: zlib._Decompress | None = None
    try:
        for chunk in chunks:
            data = chunk
            while data:
                if d is None:
                    d = _decompressor(coding, data)
                out = d.decompress(data, piece)
                data = d.unconsumed_tail
                if out:
                    yield out
                if d.eof:
                    # gzip members may follow one another (RFC 1952); after a deflate
                    # stream, what is left is not ours to read.
                    rest = d.unused_data + data
                    if coding != "gzip" or not rest:
                        return
                    d, data = None, rest
        if d is None:
            return  # an empty body
        while True:  # what zlib still holds back
            out = d.decompress(b"", piece)
            if not out:
                break
            yield out
        if not d.eof:
            raise DecodeError(f"the {coding} body ends before its compressed stream does")
    except zlib.error as e:
        raise DecodeError(f"the body is not valid {coding}: {e}") from None
