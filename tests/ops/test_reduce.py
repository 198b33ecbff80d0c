"""Reductions against PyTorch (forward and gradient, float32 and float64) and gradcheck."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from oracle import (
    check_against_torch,
    check_double_against_torch,
    check_op,
    gradcheck_arrays,
    gradgradcheck_arrays,
)

rng = np.random.default_rng(99)

# the oracle warns on var/std with too few elements (the nan/inf results are what is compared)
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")


def _data(shape):
    return rng.uniform(-2.0, 2.0, size=shape)


# (shape, dim) cases: full reductions, single dims, negative dims, tuples, scalars and size-0
CASES = [((), None), ((4,), None), ((2, 3), None), ((2, 3), 0), ((2, 3), -1), ((2, 3, 4), (0, 2)),
         ((0, 3), 1), ((0, 3), 0), ((), 0)]

REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum() if d is None else x.sum(d, keepdim=k)),
    "mean": (lambda x, d, k: x.mean() if d is None else x.mean(d, keepdim=k)),
    "var": (lambda x, d, k: x.var() if d is None else x.var(d, keepdim=k)),
    "var_unbiased_false": (lambda x, d, k: x.var(d, unbiased=False, keepdim=k)),
    "var_correction_0": (lambda x, d, k: x.var(d, correction=0, keepdim=k)),
    "var_correction_2": (lambda x, d, k: x.var(d, correction=2, keepdim=k) if x.numel() > 3 * x.dim()
                         else x.var(d, correction=0.5, keepdim=k)),
    "std": (lambda x, d, k: x.std() if d is None else x.std(d, keepdim=k)),
    "std_unbiased_false": (lambda x, d, k: x.std(d, unbiased=False, keepdim=k)),
    "logsumexp": (lambda x, d, k: x.logsumexp(d if d is not None else tuple(range(x.dim())), keepdim=k)),
    "norm": (lambda x, d, k: x.norm() if d is None else x.norm(dim=d, keepdim=k)),
    "norm_p1": (lambda x, d, k: x.norm(p=1, dim=d, keepdim=k)),
    "norm_p3": (lambda x, d, k: x.norm(p=3, dim=d, keepdim=k)),
    "norm_inf": (lambda x, d, k: x.norm(p=float("inf"), dim=d, keepdim=k)),
    "amax": (lambda x, d, k: x.amax() if d is None else x.amax(d, keepdim=k)),
    "amin": (lambda x, d, k: x.amin() if d is None else x.amin(d, keepdim=k)),
}

# PyTorch refuses these: empty max/min, and nothing to compare for some size-0 cases
SKIP = {("amax", (0, 3), 0), ("amin", (0, 3), 0), ("amax", (0, 3), None), ("amin", (0, 3), None),
        ("norm_inf", (0, 3), 0), ("norm_inf", (0, 3), None)}


def test_empty_max_min_reductions_raise(device):
    x = bw.zeros(0, 3, device=device)
    assert x.amax(1).shape == (0,)
    for fn in (lambda: x.amax(0), lambda: x.amin(), lambda: x.norm(p=float("inf"))):
        with pytest.raises(RuntimeError, match="size 0"):
            fn()


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("name", list(REDUCTIONS))
def test_reduction(name, case, keepdim, device):
    shape, dim = case
    if (name, shape, dim) in SKIP or (keepdim and dim is None and name != "logsumexp"):
        pytest.skip("not defined in PyTorch")
    fn = REDUCTIONS[name]
    arr = _data(shape)
    def f(x):
        return fn(x, dim, keepdim)

    # central differences only where the result is finite (var of one element is nan, as in PyTorch)
    with torch.no_grad():
        expected = f(torch.tensor(arr))
    finite = bool(torch.isfinite(expected).all())
    # std where the deviation is 0 (one element, correction 0): PyTorch's second derivative with
    # respect to the cotangent is nan there (it masks g / (2 * std) after dividing), and brickwork
    # gives the same; central differences see 0 (torch.autograd.gradgradcheck fails the same way),
    # so the second derivatives are compared with torch's only
    degenerate = name.startswith("std") and finite and not bool(expected.any())
    check_op(f, f, [arr], device, gradcheck=arr.size > 0 and finite, double=not degenerate)
    if degenerate:
        check_double_against_torch(f, f, [arr], device)


def test_reduction_non_contiguous(device):
    a = _data((3, 4))
    for fn in (lambda x: x.T.sum(0), lambda x: x[:, ::2].mean(1), lambda x: x.T.var(0),
               lambda x: x.T.logsumexp(1), lambda x: x[::2].norm(dim=1), lambda x: x.T.prod(1)):
        check_op(fn, fn, [a], device)


def test_sum_dtypes(device):
    for arr in (np.array([[1, 2], [3, 4]]), np.array([True, False, True]), np.array([1, 2], dtype=np.int32)):
        for fn in (lambda x: x.sum(), lambda x: x.sum(0), lambda x: x.sum(dtype=torch.float64)
                   if isinstance(x, torch.Tensor) else x.sum(dtype=bw.float64)):
            check_against_torch(fn, fn, [arr], device, grad=False)
    check_op(lambda x: x.sum(dtype=bw.float64), lambda x: x.sum(dtype=torch.float64),
             [_data((3,))], device, dtypes=(np.float32,), gradcheck=False)


def test_mean_of_integers_needs_dtype(device):
    with pytest.raises(RuntimeError, match="floating point"):
        bw.tensor([1, 2], device=device).mean()
    assert bw.tensor([1, 2], device=device).mean(dtype=bw.float32).item() == 1.5


def test_var_positional_unbiased_and_all_dims(device):
    a = _data((3, 4))
    check_op(lambda x: x.var(False), lambda x: x.var(False), [a], device)
    check_op(lambda x: x.std(0, True), lambda x: x.std(0, True), [a], device)
    check_op(lambda x: bw.var(x, (0, 1)), lambda x: torch.var(x, (0, 1)), [a], device)
    check_op(lambda x: bw.var_mean(x, 1), lambda x: torch.var_mean(x, 1), [a], device)
    check_op(lambda x: bw.std_mean(x, 0, correction=0), lambda x: torch.std_mean(x, 0, correction=0),
             [a], device)


def test_var_of_single_element_is_nan_like_pytorch(device):
    check_against_torch(lambda x: x.var(), lambda x: x.var(), [np.array([1.5])], device, grad=False)
    check_against_torch(lambda x: x.std(0), lambda x: x.std(0), [np.array([[1.5, 2.0]])], device, grad=False)


@pytest.mark.parametrize("case", [((), None), ((5,), None), ((2, 3), 1), ((2, 3), 0), ((2, 3), -1),
                                  ((0, 2), 0), ((2, 0), 1)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod(case, keepdim, device):
    shape, dim = case
    if dim is None and keepdim:
        pytest.skip("prod() without dim has no keepdim")
    arr = _data(shape)
    f = (lambda x: x.prod()) if dim is None else (lambda x: x.prod(dim, keepdim=keepdim))
    check_op(f, f, [arr], device, gradcheck=arr.size > 0)


def test_prod_with_zeros(device):
    for arr in (np.array([2.0, 0.0, 3.0]), np.array([0.0, 2.0, 0.0]), np.array([[1.0, 0.0], [0.0, 0.0]])):
        check_op(lambda x: x.prod(), lambda x: x.prod(), [arr], device, gradcheck=False)
        check_op(lambda x: x.prod(-1), lambda x: x.prod(-1), [arr], device, gradcheck=False)
        gradcheck_arrays(lambda x: x.prod(-1), [arr], device)
        gradgradcheck_arrays(lambda x: x.prod(-1), [arr], device)
        gradgradcheck_arrays(lambda x: x.prod(), [arr], device)


def test_prod_of_integers(device):
    for arr in (np.array([[1, 2], [3, 4]]), np.array([True, True])):
        check_against_torch(lambda x: x.prod(), lambda x: x.prod(), [arr], device, grad=False)
        check_against_torch(lambda x: x.prod(0), lambda x: x.prod(0), [arr], device, grad=False)


@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("case", [((), 0), ((5,), 0), ((2, 3), 1), ((2, 3), 0), ((2, 3, 4), -2)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_with_dim_returns_values_and_indices(op, case, keepdim, device):
    shape, dim = case
    arr = _data(shape)
    def f(x):
        return getattr(x, op)(dim, keepdim=keepdim)

    check_op(f, f, [arr], device)
    res = getattr(bw.tensor(arr, device=device), op)(dim, keepdim)
    ref = getattr(torch.tensor(arr), op)(dim, keepdim)
    values, indices = res  # unpacks like PyTorch's namedtuple
    assert res.values is values and res.indices is indices
    assert indices.dtype == bw.int64
    assert indices.tolist() == ref.indices.tolist()
    fn = getattr(bw, op)
    by_keyword = fn(bw.tensor(arr, device=device), dim=dim, keepdim=keepdim)
    assert by_keyword.indices.tolist() == ref.indices.tolist()


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_max_min_ties(op, device):
    # full reductions share the gradient evenly between ties; max(dim) gives it to the chosen index
    arr = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])
    check_op(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), [arr], device, gradcheck=False)
    check_op(lambda x: getattr(x, op)(1), lambda x: getattr(x, op)(1), [arr], device, gradcheck=False)
    if op in ("amax", "amin"):
        check_op(lambda x: getattr(x, op)((0, 1)), lambda x: getattr(x, op)((0, 1)), [arr], device,
                 gradcheck=False)


def test_max_min_full_reduction_shapes(device):
    for shape in [(), (4,), (2, 3)]:
        arr = _data(shape)
        check_op(lambda x: x.max(), lambda x: x.max(), [arr], device)
        check_op(lambda x: bw.min(x) if isinstance(x, bw.Tensor) else torch.min(x),
                 lambda x: torch.min(x), [arr], device)


def test_max_of_two_tensors_is_elementwise(device):
    a, b = _data((2, 3)), _data((3,))
    check_op(lambda x, y: bw.max(x, y), lambda x, y: torch.max(x, y), [a, b], device)
    check_op(lambda x, y: x.min(y), lambda x, y: x.min(y), [a, b], device)


def test_max_of_empty_raises(device):
    with pytest.raises(RuntimeError, match="size 0"):
        bw.zeros(0, device=device).max()
    with pytest.raises(IndexError, match="size 0"):
        bw.zeros(2, 0, device=device).max(1)


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, device):
    arr = np.array([[1.0, 5.0, 5.0, -1.0], [7.0, 0.0, 7.0, -3.0], [0.0, 0.0, 0.0, 0.0]])
    for fn in (lambda x: getattr(x, op)(), lambda x: getattr(x, op)(0), lambda x: getattr(x, op)(1),
               lambda x: getattr(x, op)(-1, keepdim=True), lambda x: getattr(x, op)(keepdim=True)):
        check_against_torch(fn, fn, [arr], device, grad=False)
    check_against_torch(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), [np.array(2.0)], device,
                        grad=False)
    with pytest.raises(RuntimeError, match="empty"):
        getattr(bw.zeros(0, device=device), op)()


def test_argmax_does_not_require_grad(device):
    x = bw.randn(3, device=device, requires_grad=True)
    assert not x.argmax().requires_grad and not x.max(0).indices.requires_grad


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_any(op, device):
    for arr in (np.array([[True, False], [True, True]]), np.array([[1.0, 0.0], [2.0, 3.0]]),
                np.array([[0, 1], [0, 0]]), np.zeros((0, 2), dtype=bool), np.array(True)):
        fns = [lambda x: getattr(x, op)()]
        if arr.ndim:
            fns += [lambda x: getattr(x, op)(0), lambda x: getattr(x, op)(-1, keepdim=True)]
        for fn in fns:
            check_against_torch(fn, fn, [arr], device, grad=False)


def test_count_nonzero(device):
    arr = np.array([[0.0, 1.0, 2.0], [0.0, 0.0, 3.0]])
    for fn in (lambda x: x.count_nonzero(), lambda x: x.count_nonzero(0), lambda x: x.count_nonzero(1)):
        check_against_torch(fn, fn, [arr], device, grad=False)


@pytest.mark.parametrize("case", [((4,), 0), ((2, 3), 1), ((2, 3), 0), ((2, 3), -1), ((0, 3), 0), ((), 0)],
                         ids=str)
def test_cumsum(case, device):
    shape, dim = case
    arr = _data(shape)
    check_op(lambda x: x.cumsum(dim), lambda x: x.cumsum(dim), [arr], device, gradcheck=arr.size > 0)


def test_cumsum_integers_and_non_contiguous(device):
    check_against_torch(lambda x: x.cumsum(0), lambda x: x.cumsum(0), [np.array([1, 2, 3])], device,
                        grad=False)
    check_against_torch(lambda x: x.cumsum(0), lambda x: x.cumsum(0), [np.array([True, True])], device,
                        grad=False)
    check_op(lambda x: x.T.cumsum(1), lambda x: x.T.cumsum(1), [_data((3, 2))], device)


def test_logsumexp_is_stable(device):
    arr = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, 0.0]])
    check_op(lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), [arr], device, gradcheck=False)
    check_against_torch(lambda x: x.logsumexp(0), lambda x: x.logsumexp(0),
                        [np.array([-np.inf, -np.inf])], device, grad=False)


def test_norm_of_zero_vector_has_zero_gradient(device):
    check_op(lambda x: x.norm(), lambda x: x.norm(), [np.zeros(3)], device, gradcheck=False)
    check_op(lambda x: x.norm(dim=1), lambda x: x.norm(dim=1), [np.array([[0.0, 0.0], [3.0, 4.0]])], device,
             gradcheck=False)


def test_norm_of_integer_tensor_is_float(device):
    assert bw.tensor([3, 4], device=device).norm().item() == 5.0


def test_reduction_dim_errors(device):
    x = bw.ones(2, 3, device=device)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\].*got 2"):
        x.sum(2)
    with pytest.raises(RuntimeError, match="multiple times"):
        x.sum((0, 0))


def test_empty_dim_list_reduces_everything(device):
    a = _data((2, 3))
    for fn in (lambda x: x.sum(dim=()), lambda x: x.mean(dim=[]), lambda x: x.amax(dim=()),
               lambda x: x.sum((), keepdim=True)):
        check_op(fn, fn, [a], device, gradcheck=False)


NUMPY_NAMES = ["sum(axis=0)", "sum(axis=1, keepdims=True)", "mean(axis=[0, 1])", "cumsum(axis=0)",
               "max(axis=1)", "min(axis=0, keepdims=True)", "argmax(axis=1)", "std(axis=0)",
               "var(axis=1, unbiased=False)", "prod(axis=0)", "all(axis=0)", "any(axis=1)", "amax(axis=1)",
               "logsumexp(axis=1)", "count_nonzero(axis=0)", "norm(dim=1, keepdim=True)", "softmax(axis=1)",
               "log_softmax(axis=0)"]


@pytest.mark.parametrize("call", NUMPY_NAMES)
def test_numpy_argument_names_like_pytorch(call, device):
    # tutorial code writes A.sum(axis=0, keepdims=True); PyTorch accepts NumPy's names
    def fn(x):
        return eval(f"x.{call}")

    check_op(fn, fn, [_data((2, 3))], device, gradcheck=False,
             grad=not call.startswith(("argmax", "all", "any", "count_nonzero")))
    if call.startswith(("sum", "mean", "softmax")):
        name, args = call.split("(", 1)
        check_op(lambda x: eval(f"bw.{name}(x, {args}"), lambda x: eval(f"torch.{name}(x, {args}"),
                 [_data((2, 3))], device, gradcheck=False)
    with pytest.raises(TypeError, match="both dim= and its alias axis="):
        bw.ones(2).sum(dim=0, axis=0)


@pytest.mark.parametrize("call", ["sort()", "sort(0)", "sort(descending=True)",
                                  "sort(dim=0, descending=True)", "topk(2)", "topk(1, dim=0)",
                                  "topk(3, largest=False)", "topk(0)"])
def test_sort_and_topk(call, device):
    def fn(x):
        return eval(f"x.{call}")

    arr = _data((3, 4))
    check_op(fn, fn, [arr], device)  # values and their gradient (scattered back to the chosen positions)
    ref = fn(torch.tensor(arr))
    assert fn(bw.tensor(arr, device=device)).indices.tolist() == ref.indices.tolist()


def test_sort_ties_are_stable_and_argsort(device):
    arr = np.array([[3.0, 1.0, 2.0, 1.0], [0.0, 5.0, 5.0, -1.0]])
    for fn in (lambda x: x.sort(stable=True), lambda x: x.sort(descending=True, stable=True),
               lambda x: x.argsort(dim=0, stable=True), lambda x: x.argsort(descending=True, stable=True)):
        check_against_torch(fn, fn, [arr], device, grad=False)
    ints = np.array([3, 1, 2])
    check_against_torch(lambda x: x.sort(descending=True), lambda x: x.sort(descending=True), [ints], device,
                        grad=False)
    check_op(lambda x: bw.sort(x, 0).values, lambda x: torch.sort(x, 0).values, [_data(())], device)
    with pytest.raises(RuntimeError, match="out of range"):
        bw.ones(3).topk(4)


NAN = float("nan")


@pytest.mark.parametrize("data", [[1.0, NAN, 3.0], [NAN, 2.0, NAN], [[1.0, NAN], [NAN, 3.0]], [NAN],
                                  [3.0, 1.0, 3.0]], ids=["one_nan", "two_nans", "2d", "only_nan", "tie"])
@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_extreme_of_all_elements_with_nan_gradient_matches_torch(name, data, device):
    # issue 12 item 10c: max()/min() put NaN in every gradient element; PyTorch sends the gradient
    # to the NaN elements (shared equally), and keeps NaN for amax/amin
    x = bw.tensor(data, device=device, requires_grad=True)
    getattr(x, name)().backward()
    t = torch.tensor(data, requires_grad=True)
    getattr(t, name)().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), t.grad.numpy())
