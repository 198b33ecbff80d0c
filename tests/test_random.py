"""Seeding and generators: the same seed gives bit-identical tensors; local streams stay local."""

from __future__ import annotations

import numpy as np
import pytest

import brickwork as bw


def _draws(device):
    return [
        bw.rand(5, device=device), bw.randn(2, 3, device=device), bw.randint(0, 100, (6,), device=device),
        bw.randperm(8, device=device), bw.normal(0.0, 2.0, (4,), device=device),
        bw.empty(4, device=device).uniform_(-1, 1), bw.empty(4, device=device).normal_(),
        bw.bernoulli(bw.full((6,), 0.5, device=device)), bw.rand(3, dtype=bw.float64, device=device),
        bw.rand_like(bw.zeros(3, device=device)), bw.randn(2, dtype=bw.float16, device=device),
    ]


def _bits(tensors):
    return [t.cpu().numpy().tobytes() for t in tensors]


def test_manual_seed_gives_bit_identical_tensors(device):
    bw.manual_seed(123)
    first = _bits(_draws(device))
    bw.manual_seed(123)
    second = _bits(_draws(device))
    assert first == second
    bw.manual_seed(124)
    assert _bits(_draws(device)) != first


def test_manual_seed_returns_a_generator_and_sets_initial_seed():
    g = bw.manual_seed(7)
    assert isinstance(g, bw.Generator) and bw.initial_seed() == 7
    s = bw.seed()
    assert bw.initial_seed() == s


def test_generator_is_a_local_stream(device):
    bw.manual_seed(0)
    expected = bw.rand(4, device=device).tolist()
    bw.manual_seed(0)
    g = bw.Generator(device).manual_seed(99)
    local = bw.rand(4, generator=g, device=device)
    bw.randn(3, generator=g, device=device)
    assert bw.rand(4, device=device).tolist() == expected  # the global stream did not move
    g.manual_seed(99)
    assert bw.rand(4, generator=g, device=device).tolist() == local.tolist()
    assert g.initial_seed() == 99
    g2 = bw.Generator(device).manual_seed(99)
    assert bw.randint(0, 10**6, (5,), generator=g2, device=device).tolist() == \
        bw.randint(0, 10**6, (5,), generator=bw.Generator(device).manual_seed(99), device=device).tolist()


def test_generator_state_round_trip():
    g = bw.Generator().manual_seed(3)
    bw.rand(2, generator=g)
    state = g.get_state()
    a = bw.rand(3, generator=g)
    g.set_state(state)
    assert bw.rand(3, generator=g).tolist() == a.tolist()
    bw.manual_seed(5)
    saved = bw.get_rng_state()
    x = bw.randn(3)
    bw.set_rng_state(saved)
    assert bw.randn(3).tolist() == x.tolist()


def test_generator_on_another_device_is_refused():
    g = bw.Generator("cuda:0")  # creating it never fails; drawing on the CPU with it does
    with pytest.raises(RuntimeError, match="generator is on cuda:0"):
        bw.rand(2, generator=g)


def test_seeding_does_not_touch_numpy_global_state():
    np.random.seed(1)
    expected = np.random.rand(3)
    np.random.seed(1)
    bw.manual_seed(5)
    bw.rand(10)
    assert np.random.rand(3).tolist() == expected.tolist()


def test_cuda_manual_seed_is_the_same_as_manual_seed():
    bw.cuda.manual_seed(11)
    a = bw.rand(3).tolist()
    bw.manual_seed(11)
    assert bw.rand(3).tolist() == a
    bw.cuda.manual_seed_all(11)
    assert bw.rand(3).tolist() == a
