"""PNG text chunks read and written without touching a pixel: ``struct`` + ``zlib`` only.

A PNG is a signature then chunks (length, type, data, CRC). Reading checks every CRC
and that the file ends with ``IEND``; writing copies every other chunk byte for byte,
so ``IDAT`` (the pixels) is never decoded. Text goes in ``tEXt`` when Latin-1 can hold
it, else in ``iTXt`` (UTF-8, uncompressed), as Pillow's ``PngInfo.add_text`` does.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_KINDS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
# A compressed text chunk may not inflate past this (a zip bomb in a downloaded file).
MAX_TEXT = 64 * 1024 * 1024
_MAX_LENGTH = 2**31 - 1  # the PNG spec's bound on a chunk's length


class PngError(ValueError):
    """The bytes are not a sound PNG: the message says what is wrong, in a few words."""


@dataclass(frozen=True)
class Chunk:
    """One chunk: its type and where it lies in the file (data, then the whole chunk)."""

    kind: bytes
    start: int  # the length field
    data_start: int
    end: int  # past the CRC

    @property
    def name(self) -> str:
        """The type as text, for messages."""
        return self.kind.decode("latin-1")


def parse(data: bytes) -> tuple[list[Chunk], int]:
    """Every chunk up to ``IEND`` with its CRC checked, and where the trailing bytes start.

    Raises PngError for a file that is not a PNG, a truncated file, a bad CRC, or a
    missing ``IHDR``/``IEND``.
    """
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG (no PNG signature)")
    chunks: list[Chunk] = []
    view = memoryview(data)
    pos = len(SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise PngError("the PNG is truncated (it ends before IEND)")
        (length,) = struct.unpack_from(">I", data, pos)
        kind = bytes(view[pos + 4 : pos + 8])
        if length > _MAX_LENGTH or not kind.isalpha():
            raise PngError(f"the PNG has a malformed chunk at byte {pos}")
        end = pos + 12 + length
        if end > len(data):
            raise PngError(f"the PNG is truncated (in chunk {kind.decode('latin-1')})")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise PngError(f"the PNG chunk {kind.decode('latin-1')} has a bad CRC")
        chunks.append(Chunk(kind, pos, pos + 8, end))
        pos = end
        if kind == b"IEND":
            break
    if chunks[0].kind != b"IHDR":
        raise PngError("the PNG does not start with an IHDR chunk")
    return chunks, pos


def read_text(data: bytes, keys: Iterable[str]) -> dict[str, str]:
    """The text of the chunks whose keyword is in ``keys`` (the last one wins, as in Pillow).

    Other text chunks are not decoded, so a malformed one elsewhere does no harm. Raises
    PngError for an unsound file or a wanted chunk that cannot be decoded.
    """
    wanted = set(keys)
    chunks, _ = parse(data)
    found: dict[str, str] = {}
    for chunk in chunks:
        if chunk.kind not in TEXT_KINDS:
            continue
        body = data[chunk.data_start : chunk.end - 4]
        keyword = _keyword(body)
        if keyword in wanted:
            found[keyword] = _decode(chunk, body)
    return found


def with_text(data: bytes, entries: Mapping[str, str]) -> list[memoryview | bytes]:
    """The parts of a copy of the PNG with ``entries`` as text chunks (write them in order).

    Existing text chunks with those keywords are dropped; the new chunks take the place
    of the first one dropped, else go just before the first ``IDAT`` (where Pillow and
    ComfyUI put them, so readers that stop at the pixels still find them). Every other
    chunk and any bytes after ``IEND`` are copied unchanged. Raises PngError as parse.
    """
    chunks, tail = parse(data)
    view = memoryview(data)
    new = b"".join(text_chunk(key, text) for key, text in entries.items())
    parts: list[memoryview | bytes] = [view[: len(SIGNATURE)]]
    placed = False
    for chunk in chunks:
        replaced = chunk.kind in TEXT_KINDS and (
            _keyword(data[chunk.data_start : chunk.end - 4]) in entries
        )
        if not placed and (replaced or chunk.kind in (b"IDAT", b"IEND")):
            parts.append(new)
            placed = True
        if not replaced:
            parts.append(view[chunk.start : chunk.end])
    parts.append(view[tail:])
    return parts


def text_chunk(key: str, text: str) -> bytes:
    """A ``tEXt`` chunk, or an uncompressed ``iTXt`` one when Latin-1 cannot hold ``text``."""
    keyword = key.encode("latin-1")
    if not 1 <= len(keyword) <= 79 or b"\0" in keyword:
        raise ValueError(f"{key!r} cannot be a PNG text keyword")
    try:
        kind, body = b"tEXt", keyword + b"\0" + text.encode("latin-1")
    except UnicodeEncodeError:
        # keyword, NUL, compression flag 0, method 0, empty language + NUL, empty
        # translated keyword + NUL, then the UTF-8 text.
        kind, body = b"iTXt", keyword + b"\0\0\0\0\0" + text.encode("utf-8")
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _keyword(body: bytes) -> str:
    return body.partition(b"\0")[0].decode("latin-1")


def _decode(chunk: Chunk, body: bytes) -> str:
    """The text of one text chunk (``tEXt``, ``zTXt`` or ``iTXt``)."""
    keyword, sep, rest = body.partition(b"\0")
    where = f"the {chunk.name} chunk {keyword.decode('latin-1')!r}"
    try:
        if not sep:
            raise ValueError("no NUL after the keyword")
        if chunk.kind == b"tEXt":
            return rest.decode("latin-1")
        if chunk.kind == b"zTXt":
            return _inflate(rest[1:]).decode("latin-1")
        compressed, rest = rest[0], rest[2:]
        _language, _, rest = rest.partition(b"\0")
        _translated, sep, text = rest.partition(b"\0")
        if not sep:
            raise ValueError("its header is cut short")
        return (_inflate(text) if compressed else text).decode("utf-8")
    except (ValueError, IndexError, zlib.error) as exc:
        raise PngError(f"{where} is malformed ({exc})") from exc


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    text = inflater.decompress(data, MAX_TEXT)
    if inflater.unconsumed_tail:
        raise ValueError(f"it inflates past {MAX_TEXT} bytes")
    return text
