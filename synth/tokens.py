"""Short identifiers that are unique by construction.

A token is a bijective, self-delimiting encoding of the tuple (seed, worker, user, iteration):
each integer is written in base 16, its last digit taken from a second alphabet of 16 letters
so that the end of each number is marked. Different tuples therefore always give different
tokens, without any coordination between processes or machines and without relying on a hash
that could collide. Emails, usernames and ids embed the token as their last component.

    >>> encode_token(7, 0, 3, 5)
    'ygkn'
    >>> decode_token('ygkn')
    (7, 0, 3, 5)
"""

from __future__ import annotations

# Lowercase letters and digits only, so a token is safe in emails, usernames, URLs and ids.
_INNER = "0123456789abcdef"  # digits that are followed by more digits of the same number
_LAST = "ghjkmnpqrstvwxyz"  # the final digit of a number (no i, l, o, u: they read as 1, 0, v)
_INNER_VALUE = {c: i for i, c in enumerate(_INNER)}
_LAST_VALUE = {c: i for i, c in enumerate(_LAST)}


def zigzag(n: int) -> int:
    """Map any integer to a non-negative one, bijectively (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)."""
    return 2 * n if n >= 0 else -2 * n - 1


def unzigzag(z: int) -> int:
    """Invert `zigzag`."""
    return z // 2 if z % 2 == 0 else -(z + 1) // 2


def _encode_natural(n: int) -> str:
    digits: list[str] = []
    last = n % 16
    n //= 16
    while n:
        digits.append(_INNER[n % 16])
        n //= 16
    digits.reverse()
    digits.append(_LAST[last])
    return "".join(digits)


def encode_token(seed: int, worker: int, user: int, iteration: int) -> str:
    """Encode (seed, worker, user, iteration) as a short lowercase token.

    `seed` may be any integer; the other three must be non-negative (ValueError otherwise).
    """
    parts = [zigzag(seed), worker, user, iteration]
    if min(parts) < 0:
        raise ValueError(f"worker, user and iteration must be >= 0, got {parts[1:]}")
    return "".join(_encode_natural(p) for p in parts)


def decode_token(token: str) -> tuple[int, int, int, int]:
    """Recover (seed, worker, user, iteration) from a token; ValueError if it is not one."""
    values: list[int] = []
    acc = 0
    for ch in token:
        if ch in _INNER_VALUE:
            acc = acc * 16 + _INNER_VALUE[ch]
        elif ch in _LAST_VALUE:
            values.append(acc * 16 + _LAST_VALUE[ch])
            acc = 0
        else:
            raise ValueError(f"not a synth token: {token!r} (unexpected {ch!r})")
    if len(values) != 4 or not token or token[-1] not in _LAST_VALUE:
        raise ValueError(f"not a synth token: {token!r}")
    seed, worker, user, iteration = values
    return unzigzag(seed), worker, user, iteration


def stream_seed(token: str, stream: str) -> int:
    """An integer seed for `random.Random`, distinct for each (token, stream) pair.

    Seeding from an int is several times cheaper than from a str (which is hashed with SHA-512).
    """
    return int.from_bytes(f"{token}/{stream}".encode("ascii"), "big")
