"""Tokens are a bijection of (seed, worker, user, iteration), so identifiers cannot collide."""

from __future__ import annotations

import doctest
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

import synth.tokens
from synth.tokens import decode_token, encode_token, stream_seed, unzigzag, zigzag

naturals = st.integers(min_value=0, max_value=2**40)


@given(st.integers(min_value=-(2**63), max_value=2**63), naturals, naturals, naturals)
def test_decode_inverts_encode(seed: int, worker: int, user: int, iteration: int) -> None:
    token = encode_token(seed, worker, user, iteration)
    assert decode_token(token) == (seed, worker, user, iteration)
    assert token.isascii() and token.isalnum() and token == token.lower()


@given(st.integers())
def test_zigzag_roundtrips(n: int) -> None:
    assert zigzag(n) >= 0
    assert unzigzag(zigzag(n)) == n


def test_small_tuples_give_distinct_short_tokens() -> None:
    tuples = list(itertools.product(range(-3, 4), range(4), range(40), range(40)))
    tokens = {encode_token(*t) for t in tuples}
    assert len(tokens) == len(tuples)
    assert max(len(t) for t in tokens) <= 6


def test_rejects_negative_parts_and_garbage() -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        encode_token(1, -1, 0, 0)
    for bad in ("", "ggg", "ggggg", "gg!g", "ggg0"):
        with pytest.raises(ValueError, match="not a synth token"):
            decode_token(bad)


def test_stream_seeds_differ_per_stream_and_token() -> None:
    seeds = {stream_seed(encode_token(1, 0, u, 0), s) for u in range(10) for s in ("a", "b")}
    assert len(seeds) == 20


def test_module_doctest() -> None:
    failures, tried = doctest.testmod(synth.tokens)
    assert tried >= 2 and failures == 0
