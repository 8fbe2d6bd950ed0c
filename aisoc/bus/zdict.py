"""Compression of stored event JSON with a preset dictionary (Redis bus).

Each event is compressed on its own, so zlib alone cannot use what every trace repeats (the roles'
system prompts, the field names of the envelope and the trace). A preset dictionary gives it that
text up front: with ``dictionaries/1.zdict`` an event of the whole team's path stores about 30 %
smaller than with plain zlib (``bench/bus_memory.py``).

A dictionary is never changed once released: an entry names the dictionary it was written with (the
first byte of the stored value), and every released dictionary stays readable. A new one gets the
next number; ``scripts/build-zdict`` writes it from the demo's run.
"""

from __future__ import annotations

import zlib
from functools import cache
from importlib import resources

CURRENT = 1
"""The dictionary new entries are written with."""
LEVEL = 1
"""zlib level: the fastest; a higher one saves under 5 % more on event JSON."""
MAX_SIZE = 64 * 1024 * 1024
"""The most bytes one stored value may decompress to: a forged value (a deflate bomb written
straight into Redis) is refused instead of exhausting the reader's memory on every redelivery."""


@cache
def dictionary(version: int) -> bytes:
    """The released dictionary ``version``.

    Raises:
        KeyError: no such dictionary was ever released (the entry was written by a newer release).
    """
    try:
        return (resources.files(__package__) / "dictionaries" / f"{version}.zdict").read_bytes()
    except FileNotFoundError:
        raise KeyError(version) from None


@cache
def _primed_packer(version: int) -> zlib._Compress:
    return zlib.compressobj(LEVEL, zdict=dictionary(version))


@cache
def _primed_unpacker(version: int) -> zlib._Decompress:
    return zlib.decompressobj(zdict=dictionary(version))


def compress(data: bytes) -> bytes:
    """``data`` deflated with the current dictionary, prefixed by that dictionary's number.

    Data over :data:`MAX_SIZE` compresses, but :func:`decompress` refuses it: the bus refuses to
    store it.

    Loading a 32 KB dictionary costs about three times the compression of a 5 KB event, so each
    call copies a compressor primed once (about 30 % more than plain zlib instead of 4x).
    """
    packer = _primed_packer(CURRENT).copy()
    return bytes([CURRENT]) + packer.compress(data) + packer.flush()


def decompress(stored: bytes, limit: int | None = None) -> bytes:
    """The data ``compress`` stored.

    Raises:
        ValueError: empty, an unknown dictionary, not a deflate stream made with it, or more than
            ``limit`` bytes once decompressed (default :data:`MAX_SIZE`).
    """
    limit = MAX_SIZE if limit is None else limit
    if not stored:
        raise ValueError("empty value")
    try:
        unpacker = _primed_unpacker(stored[0]).copy()
    except KeyError:
        lacks = f"written with compression dictionary {stored[0]}, which this release lacks"
        raise ValueError(lacks) from None
    try:
        data = unpacker.decompress(stored[1:], limit + 1)
        if len(data) > limit:
            raise ValueError(f"decompresses to more than {limit} bytes (at most {limit} are read)")
        data += unpacker.flush()
    except zlib.error as exc:
        raise ValueError(f"not a deflate stream of dictionary {stored[0]}: {exc}") from None
    if not unpacker.eof:
        raise ValueError(f"truncated deflate stream of dictionary {stored[0]}")
    return data
