"""Reading log files as bytes: plain or gzip, whatever their name says."""

from __future__ import annotations

import gzip
import re
import shutil
import zlib
from pathlib import Path
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
# decompressed bytes per step when streaming: small enough that the allocator reuses the
# memory of the step before (larger steps get fresh pages from the kernel each time, and the
# page faults cost more than the decompression)
CHUNK = 1 << 17
# how near its close a document must end (only white space may follow)
TAIL = 1 << 12
try:  # ISA-L inflates about twice as fast as zlib, behind the same interface; zlib otherwise
    from isal import isal_zlib as inflating
except ImportError:
    inflating = zlib
# errors a damaged or truncated gzip file raises
GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error, inflating.error)


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
    from the last ``end`` byte on. False when the content does not start with ``prefix``, has
    no ``end`` near its close, or is not one gzip member (the caller then reads it another way).

    Decompressed in steps written straight out, never joined into one large buffer.
    """
    raw = path.read_bytes()
    inflate = inflating.decompressobj(31) if raw[:2] == GZIP_MAGIC else None
    try:
        with target.open("w+b") as sink:
            data, first = raw, True
            while True:
                if inflate is None:
                    chunk, data = data, b""
                else:
                    chunk = inflate.decompress(data, CHUNK)
                    data = inflate.unconsumed_tail
                view = memoryview(chunk)
                if first:
                    first = False
                    match = prefix.match(chunk) if prefix is not None else None
                    if prefix is not None and not match:
                        return False
                    view = view[match.end():] if match else view
                sink.write(view)
                if not data and (inflate is None or inflate.eof or not chunk):
                    break
            if inflate is not None and (not inflate.eof or inflate.unused_data):
                return False
            return end is None or _cut_after_last(sink, end)
    except GZIP_ERRORS as exc:
        raise UnreadableFile(f"damaged gzip data: {exc}") from None


def _cut_after_last(sink: BinaryIO, end: bytes) -> bool:
    """Truncate ``sink`` before its last ``end``, which must be among its last TAIL bytes
    (only whitespace follows the close of a document)."""
    size = sink.tell()
    sink.seek(max(0, size - TAIL))
    tail = sink.read()
    stop = tail.rfind(end)
    if stop < 0:
        return False
    sink.truncate(size - len(tail) + stop)
    return True


def plain_copy(path: Path, folder: Path, name: str) -> Path:
    """``path`` itself when it is not compressed, else its content decompressed into ``folder``
    (DuckDB's read_text does not decompress)."""
    if not is_gzip(path):
        return path
    target = folder / name
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, CHUNK)
    except GZIP_ERRORS as exc:
        target.unlink(missing_ok=True)
        raise UnreadableFile(f"damaged gzip data: {exc}") from None
    return target
