"""A seeded mutator for flatbuffers: byte flips, overwritten offsets, truncations.

``cases(content, n, seed)`` yields ``n`` damaged copies of ``content``, the same ones for
the same seed. Offsets and lengths in a flatbuffer are little-endian 32-bit words at
4-byte boundaries, and the tables that hold them sit at the start and the end of a TFLite
file (the weights in between): the mutator aims a share of its changes there.
"""

import random
import struct

#: Values an overwritten word takes: edges, a random word, an offset nudged by a little.
_EDGES = (0, 1, 4, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def _flip(b: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)


def _word(b: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        p = _near_tables(b, rng) & ~3
        if p + 4 > len(b):
            continue
        old = struct.unpack_from("<I", b, p)[0]
        new = rng.choice(
            [
                *_EDGES,
                rng.randrange(1 << 32),
                rng.randrange(len(b)),
                old + rng.choice((-8, -4, 4, 8)),
            ]
        )
        struct.pack_into("<I", b, p, new & 0xFFFFFFFF)


def _bytes(b: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 6)):
        b[_near_tables(b, rng)] = rng.randrange(256)


def _near_tables(b: bytearray, rng: random.Random) -> int:
    """A position in the first or last 4 KB (where the tables are), or anywhere."""
    n = len(b)
    head, tail = rng.randrange(min(4096, n)), n - 1 - rng.randrange(min(4096, n))
    return rng.choice((head, tail, rng.randrange(n)))


def mutate(content: bytes, rng: random.Random) -> bytes:
    """One damaged copy of ``content``."""
    b = bytearray(content)
    kind = rng.random()
    if kind < 0.25:
        _flip(b, rng)
    elif kind < 0.6:
        _word(b, rng)
    elif kind < 0.8:
        _bytes(b, rng)
    else:
        del b[rng.randrange(len(b)) :]
    return bytes(b)


def cases(content: bytes, n: int, seed: int = 0):
    """``n`` damaged copies of ``content`` (the same ones for the same ``seed``)."""
    rng = random.Random(seed)
    for _ in range(n):
        yield mutate(content, rng)
