"""Reading log files as bytes: plain or gzip, whatever their name says."""

from __future__ import annotations

import gzip
import re
import shutil
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"
# decompressed bytes per step when streaming, and the tail held back to find a closing byte
CHUNK = 1 << 20
TAIL = 64
# errors a damaged or truncated gzip file raises
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


class UnreadableFile(Exception):
    """The file cannot be read at all; the message says why, for an IngestIssue."""


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def head(path: Path, size: int = 4096) -> bytes:
    """The first ``size`` bytes of the content (decompressed)."""
    try:
        if is_gzip(path):
            with gzip.open(path, "rb") as handle:
                return handle.read(size)
        with path.open("rb") as handle:
            return handle.read(size)
    except GZIP_ERRORS as exc:
        raise UnreadableFile(f"damaged gzip data: {exc}") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None


def content(path: Path) -> bytes:
    """The whole content (decompressed)."""
    try:
        data = path.read_bytes()
        return gzip.decompress(data) if data[:2] == GZIP_MAGIC else data
    except GZIP_ERRORS as exc:
        raise UnreadableFile(f"damaged gzip data: {exc}") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None


def content_size(path: Path) -> int:
    """The size of the content: a gzip file says it in its last four bytes (modulo 4 GiB, of
    its last member; CloudTrail writes one)."""
    size = path.stat().st_size
    if size < 18 or not is_gzip(path):
        return size
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return int.from_bytes(handle.read(4), "little")


def copy_between(path: Path, target: Path, prefix: re.Pattern[bytes] | None,
                 end: bytes | None) -> bool:
    """Copy the content of ``path`` (plain or gzip) into ``target`` without ``prefix`` and
    from the last ``end`` byte on, decompressing in small steps: far cheaper than one large
    buffer. False when the content does not start with ``prefix``, has no ``end``, or is not
    one gzip member (the caller then reads it another way)."""
    raw = path.read_bytes()
    inflate = zlib.decompressobj(31) if raw[:2] == GZIP_MAGIC else None
    data, held, first = raw, b"", True
    try:
        with target.open("wb") as sink:
            while True:
                if inflate is None:
                    chunk, data = data, b""
                else:
                    chunk = inflate.decompress(data, CHUNK)
                    data = inflate.unconsumed_tail
                if first:
                    first = False
                    match = prefix.match(chunk) if prefix is not None else None
                    if prefix is not None and not match:
                        return False
                    chunk = chunk[match.end():] if match else chunk
                buffer = held + chunk
                if not data and (inflate is None or inflate.eof or not chunk):
                    if inflate is not None and (not inflate.eof or inflate.unused_data):
                        return False
                    stop = len(buffer) if end is None else buffer.rfind(end)
                    sink.write(buffer[:max(stop, 0)])
                    return stop >= 0
                # keep a tail back: the last ``end`` may be in it
                sink.write(buffer[:-TAIL])
                held = buffer[-TAIL:]
    except zlib.error as exc:
        raise UnreadableFile(f"damaged gzip data: {exc}") from None


def plain_copy(path: Path, folder: Path, name: str) -> Path:
    """``path`` itself when it is not compressed, else its content decompressed into ``folder``
    (DuckDB's read_text does not decompress)."""
    if not is_gzip(path):
        return path
    target = folder / name
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, 1 << 20)
    except GZIP_ERRORS as exc:
        target.unlink(missing_ok=True)
        raise UnreadableFile(f"damaged gzip data: {exc}") from None
    return target
