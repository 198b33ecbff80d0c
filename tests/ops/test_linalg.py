"""Matrix products against PyTorch (forward and gradient, float32 and float64) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from oracle import check_against_torch, check_op

rng = np.random.default_rng(5)


def _data(*shape):
    return rng.standard_normal(shape)


MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)),
    ((2, 1, 2, 3), (4, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
    ((2, 0), (0, 3)),
    ((0, 3), (3, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, device):
    a, b = _data(*shapes[0]), _data(*shapes[1])
    check_op(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], device)
    check_op(bw.matmul, torch.matmul, [a, b], device, gradcheck=False)


def test_matmul_non_contiguous(device):
    a, b = _data(3, 2), _data(4, 3)
    check_op(lambda x, y: x.T @ y.T, lambda x, y: x.T @ y.T, [a, b], device)
    check_op(lambda x, y: x[:, ::2] @ y[::2], lambda x, y: x[:, ::2] @ y[::2], [_data(2, 6), _data(6, 4)],
             device)


def test_mm_bmm_dot_outer_mv(device):
    check_op(bw.mm, torch.mm, [_data(2, 3), _data(3, 4)], device)
    check_op(lambda x, y: x.mm(y), lambda x, y: x.mm(y), [_data(2, 3), _data(3, 1)], device)
    check_op(bw.bmm, torch.bmm, [_data(2, 2, 3), _data(2, 3, 4)], device)
    check_op(bw.dot, torch.dot, [_data(4), _data(4)], device)
    check_op(lambda x, y: x.dot(y), lambda x, y: x.dot(y), [_data(0), _data(0)], device, gradcheck=False)
    check_op(bw.outer, torch.outer, [_data(3), _data(2)], device)
    check_op(bw.mv, torch.mv, [_data(2, 3), _data(3)], device)
    check_op(bw.inner, torch.inner, [_data(3), _data(3)], device)


def test_einsum(device):
    for eq, shapes in [("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
                       ("i,i->", [(3,), (3,)]), ("ij->ji", [(2, 3)]), ("ij->j", [(2, 3)]),
                       ("i,j->ij", [(2,), (3,)]), ("bi,ij->bj", [(4, 3), (3, 2)])]:
        arrays = [_data(*s) for s in shapes]
        check_op(lambda *xs, eq=eq: bw.einsum(eq, *xs), lambda *xs, eq=eq: torch.einsum(eq, *xs), arrays,
                 device)


def test_integer_matmul(device):
    a, b = np.array([[1, 2], [3, 4]]), np.array([[5], [6]])
    check_against_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b], device, grad=False)


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError) as info:
        bw.ones(2, 3) @ bw.ones(4, 5)
    assert "(2, 3)" in str(info.value) and "(4, 5)" in str(info.value)
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(4,\)"):
        bw.ones(3) @ bw.ones(4)
    with pytest.raises(RuntimeError, match=r"\(2, 2, 3\).*\(3, 3, 4\)"):
        bw.ones(2, 2, 3) @ bw.ones(3, 3, 4)
    with pytest.raises(RuntimeError, match="at least 1 dimension"):
        bw.tensor(1.0) @ bw.ones(2)


def test_mm_bmm_dot_errors():
    with pytest.raises(RuntimeError, match="2-D"):
        bw.mm(bw.ones(2), bw.ones(2, 2))
    with pytest.raises(RuntimeError, match="3-D"):
        bw.bmm(bw.ones(2, 2), bw.ones(2, 2))
    with pytest.raises(RuntimeError, match="batch"):
        bw.bmm(bw.ones(2, 2, 3), bw.ones(3, 3, 2))
    with pytest.raises(RuntimeError, match="1-D"):
        bw.dot(bw.ones(2, 2), bw.ones(2))
    with pytest.raises(RuntimeError, match="inconsistent"):
        bw.dot(bw.ones(2), bw.ones(3))


def test_matmul_mixed_dtypes_promote(device):
    a = bw.ones(2, 2, dtype=bw.float64, device=device)
    b = bw.ones(2, 2, device=device)
    assert (a @ b).dtype == bw.float64
