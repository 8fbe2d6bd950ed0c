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

    Loading a 32 KB dictionary costs about three times the compression of a 5 KB event, so each
    call copies a compressor primed once (about 30 % more than plain zlib instead of 4x).
    """
    packer = _primed_packer(CURRENT).copy()
    return bytes([CURRENT]) + packer.compress(data) + packer.flush()


def decompress(stored: bytes) -> bytes:
    """The data ``compress`` stored.

    Raises:
        ValueError: empty, an unknown dictionary, or not a deflate stream made with it.
    """
    if not stored:
        raise ValueError("empty value")
    try:
        unpacker = _primed_unpacker(stored[0]).copy()
    except KeyError:
        lacks = f"written with compression dictionary {stored[0]}, which this release lacks"
        raise ValueError(lacks) from None
    try:
        data = unpacker.decompress(stored[1:]) + unpacker.flush()
    except zlib.error as exc:
        raise ValueError(f"not a deflate stream of dictionary {stored[0]}: {exc}") from None
    if not unpacker.eof:
        raise ValueError(f"truncated deflate stream of dictionary {stored[0]}")
    return data
