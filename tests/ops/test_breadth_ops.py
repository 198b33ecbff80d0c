"""The issue-11 op breadth against PyTorch (values and gradients, float32 and float64) and gradcheck.

Each case is ``(fn(lib, *tensors), arrays, options)``: ``fn`` is called with ``lib`` = brickwork
and with ``lib`` = torch on equal inputs, so one line states the call for both.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import brickwork as bw
from oracle import check_against_torch, check_double_against_torch, gradcheck_arrays, gradgradcheck_arrays

rng = np.random.default_rng(11)


def _data(*shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, shape)


def _distinct(*shape):
    """Values without ties (sorting ops pick one element; ties would make the pick arbitrary)."""
    n = int(np.prod(shape))
    return (rng.permutation(n) / max(n, 1) * 4 - 2 + 0.01).reshape(shape)


def _well_conditioned(*shape):
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def _sym_pd(lib, x):
    """A symmetric positive-definite matrix from any square ``x`` (gradcheck sees the whole of x)."""
    n = x.shape[-1]
    return x @ x.transpose(-1, -2) + n * lib.eye(n, dtype=x.dtype, device=x.device)


def _weights(k):
    return np.linspace(0.5, 1.5, k)


# name: (fn(lib, *tensors), arrays, options for check_op)
DIFFERENTIABLE = {
    # elementwise maths (broadcasting, (), size-0)
    "atan2": (lambda lib, a, b: lib.atan2(a, b), [_data(3, 4), _data(4)], {}),
    "atan2_scalar": (lambda lib, a, b: lib.atan2(a, b), [_data(), _data(2, 3)], {}),
    "atan2_method": (lambda lib, a, b: a.atan2(b), [_data(0, 3), _data(3)], {}),
    "arctan2": (lambda lib, a, b: lib.arctan2(a, b), [_data(2, 3), _data(2, 1)], {}),
    "hypot": (lambda lib, a, b: lib.hypot(a, b), [_data(3, 4), _data(4)], {}),
    "hypot_method": (lambda lib, a, b: a.hypot(b), [_data(), _data()], {}),
    "logaddexp": (lambda lib, a, b: lib.logaddexp(a, b), [_data(3, 4), _data(4)], {}),
    "logaddexp_empty": (lambda lib, a, b: a.logaddexp(b), [_data(0), _data(0)], {}),
    "erfinv": (lambda lib, x: lib.erfinv(x), [_data(3, 4, low=-0.95, high=0.95)], {}),
    "erfinv_scalar": (lambda lib, x: x.erfinv(), [_data(low=-0.9, high=0.9)], {}),
    "lgamma": (lambda lib, x: lib.lgamma(x), [np.concatenate([_data(6, low=0.1, high=8), _data(4, low=-3.9,
                                                            high=-3.1)])], {}),
    "lgamma_method": (lambda lib, x: x.lgamma(), [_data(2, 3, low=0.2, high=30)], {}),
    "digamma": (lambda lib, x: lib.digamma(x), [np.concatenate([_data(6, low=0.1, high=12),
                                                                _data(3, low=-2.9, high=-2.1)])],
                {"rtol_f64": 1e-6}),
    "digamma_method": (lambda lib, x: x.digamma(), [_data(0, 2, low=0.5, high=2)], {}),
    "frac": (lambda lib, x: lib.frac(x), [_data(3, 4, low=-3, high=3)], {}),
    "logit": (lambda lib, x: lib.logit(x), [_data(3, 4, low=0.05, high=0.95)], {}),
    "logit_eps": (lambda lib, x: lib.logit(x, eps=0.1), [np.array([0.03, 0.2, 0.5, 0.7, 0.97])], {}),
    "xlogy": (lambda lib, x, y: lib.xlogy(x, y), [np.array([0.0, 1.5, -2.0, 0.0]), _data(4, low=0.5, high=3)],
              {}),
    "xlogy_broadcast": (lambda lib, x, y: x.xlogy(y), [_data(3, 1), _data(4, low=0.5, high=3)], {}),
    "nansum": (lambda lib, x: lib.nansum(x), [np.array([1.0, np.nan, 2.5, -1.0])], {}),
    "nansum_dim": (lambda lib, x: x.nansum(1, keepdim=True), [np.array([[1.0, np.nan], [np.nan, 3.0]])], {}),
    "nanmean": (lambda lib, x: lib.nanmean(x), [np.array([1.0, np.nan, 2.5, -1.0])], {}),
    "nanmean_dim": (lambda lib, x: x.nanmean(0), [np.array([[1.0, np.nan], [2.0, 3.0]])], {}),
    # diagonals, grids, matrix products
    "diag_vector": (lambda lib, x: lib.diag(x), [_data(3)], {}),
    "diag_vector_offset": (lambda lib, x: lib.diag(x, -1), [_data(3)], {}),
    "diag_matrix": (lambda lib, x: x.diag(1), [_data(3, 4)], {}),
    "diagonal": (lambda lib, x: lib.diagonal(x), [_data(3, 4)], {}),
    "diagonal_dims": (lambda lib, x: x.diagonal(offset=-1, dim1=2, dim2=0), [_data(3, 2, 4)], {}),
    "diagonal_empty": (lambda lib, x: x.diagonal(), [_data(0, 3)], {}),
    "trace": (lambda lib, x: lib.trace(x), [_data(3, 4)], {}),
    "meshgrid_ij": (lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"), [_data(3), _data(2)], {}),
    "meshgrid_xy": (lambda lib, a, b, c: lib.meshgrid(a, b, c, indexing="xy"), [_data(3), _data(2), _data(4)],
                    {}),
    "meshgrid_scalar": (lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"), [_data(), _data(2)], {}),
    "block_diag": (lambda lib, a, b, c: lib.block_diag(a, b, c), [_data(2, 3), _data(1, 2), _data(2)], {}),
    "block_diag_scalar": (lambda lib, a, b: lib.block_diag(a, b), [_data(), _data(2, 2)], {}),
    "kron": (lambda lib, a, b: lib.kron(a, b), [_data(2, 3), _data(3, 2)], {}),
    "kron_ranks": (lambda lib, a, b: a.kron(b), [_data(2), _data(2, 3)], {}),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, dims=2), [_data(2, 3, 4), _data(3, 4, 5)], {}),
    "tensordot_pairs": (lambda lib, a, b: lib.tensordot(a, b, dims=([0, 2], [1, 0])),
                        [_data(2, 3, 4), _data(4, 2)], {}),
    "tensordot_outer": (lambda lib, a, b: lib.tensordot(a, b, dims=0), [_data(2), _data(3)], {}),
    "cross": (lambda lib, a, b: lib.cross(a, b, dim=1), [_data(2, 3), _data(2, 3)], {}),
    "cross_broadcast": (lambda lib, a, b: lib.linalg.cross(a, b), [_data(4, 3), _data(1, 3)], {}),
    "cross_method": (lambda lib, a, b: a.cross(b, dim=0), [_data(3, 2), _data(3, 2)], {}),
    "cdist": (lambda lib, a, b: lib.cdist(a, b), [_data(4, 3), _data(5, 3)], {}),
    "cdist_p1": (lambda lib, a, b: lib.cdist(a, b, p=1), [_data(2, 4, 3), _data(2, 5, 3)], {}),
    "cdist_p3": (lambda lib, a, b: lib.cdist(a, b, p=3), [_data(4, 3), _data(2, 3)], {}),
    "cdist_inf": (lambda lib, a, b: lib.cdist(a, b, p=float("inf")),
                  [_distinct(4, 3), _distinct(2, 3) + 5], {}),
    "addmm": (lambda lib, c, a, b: lib.addmm(c, a, b), [_data(3), _data(2, 4), _data(4, 3)], {}),
    "addmm_scaled": (lambda lib, c, a, b: c.addmm(a, b, beta=0.5, alpha=2.0),
                     [_data(2, 3), _data(2, 4), _data(4, 3)], {}),
    "baddbmm": (lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=2.0, alpha=-1.0),
                [_data(2, 1, 3), _data(2, 2, 4), _data(2, 4, 3)], {}),
    "rot90": (lambda lib, x: lib.rot90(x), [_data(2, 3)], {}),
    "rot90_k": (lambda lib, x: x.rot90(-3, [1, 2]), [_data(2, 3, 4)], {}),
    "rot90_k2": (lambda lib, x: x.rot90(2, (0, 1)), [_data(2, 3)], {}),
    # running products, differences, order statistics
    "cumprod": (lambda lib, x: lib.cumprod(x, 1), [_data(3, 4)], {}),
    "cumprod_zero": (lambda lib, x: x.cumprod(0), [np.array([2.0, 0.0, 3.0, -1.5, 0.0, 2.0])], {}),
    "cumprod_scalar": (lambda lib, x: x.cumprod(0), [_data()], {}),
    "cumprod_empty": (lambda lib, x: x.cumprod(1), [_data(2, 0)], {}),
    "diff": (lambda lib, x: lib.diff(x), [_data(3, 5)], {}),
    "diff_n2_dim0": (lambda lib, x: x.diff(n=2, dim=0), [_data(4, 3)], {}),
    "diff_prepend_append": (lambda lib, x, p, a: lib.diff(x, dim=0, prepend=p, append=a),
                            [_data(3, 2), _data(1, 2), _data(2, 2)], {}),
    "median": (lambda lib, x: lib.median(x), [_distinct(3, 4)], {}),
    "median_dim": (lambda lib, x: x.median(1), [_distinct(3, 4)], {}),
    "median_dim_keepdim": (lambda lib, x: x.median(0, keepdim=True), [_distinct(5, 2)], {}),
    "median_scalar": (lambda lib, x: x.median(), [_data()], {}),
    "kthvalue": (lambda lib, x: lib.kthvalue(x, 2), [_distinct(3, 4)], {}),
    "kthvalue_dim0": (lambda lib, x: x.kthvalue(3, dim=0, keepdim=True), [_distinct(4, 2)], {}),
    "quantile": (lambda lib, x: lib.quantile(x, 0.3), [_distinct(3, 4)], {}),
    "quantile_dim_tensor_q": (lambda lib, x, q: lib.quantile(x, q, dim=1, keepdim=True),
                              [_distinct(3, 5), np.array([0.0, 0.25, 0.6, 1.0])], {"grad_inputs": 1}),
    **{f"quantile_{mode}": (lambda lib, x, mode=mode: x.quantile(0.4, dim=0, interpolation=mode),
                            [_distinct(6, 3)], {}) for mode in ("lower", "higher", "midpoint", "nearest")},
    # torch.linalg
    "inv": (lambda lib, x: lib.linalg.inv(x), [_well_conditioned(3, 3)], {}),
    "inv_batch": (lambda lib, x: lib.linalg.inv(x), [_well_conditioned(2, 3, 3)], {}),
    "inverse": (lambda lib, x: lib.inverse(x), [_well_conditioned(2, 2)], {}),
    "det": (lambda lib, x: lib.linalg.det(x), [_well_conditioned(2, 3, 3)], {}),
    "det_method": (lambda lib, x: x.det(), [_data(3, 3)], {}),
    "slogdet": (lambda lib, x: lib.linalg.slogdet(x), [_data(2, 3, 3)], {}),
    "logdet": (lambda lib, x: lib.logdet(_sym_pd(lib, x)), [_data(3, 3)], {}),
    "solve": (lambda lib, a, b: lib.linalg.solve(a, b), [_well_conditioned(3, 3), _data(3, 2)], {}),
    "solve_vector": (lambda lib, a, b: lib.linalg.solve(a, b), [_well_conditioned(3, 3), _data(3)], {}),
    "solve_batch_broadcast": (lambda lib, a, b: lib.linalg.solve(a, b),
                              [_well_conditioned(2, 3, 3), _data(3, 4)], {}),
    "solve_right": (lambda lib, a, b: lib.linalg.solve(a, b, left=False),
                    [_well_conditioned(3, 3), _data(2, 3)],
                    {}),
    "cholesky": (lambda lib, x: lib.linalg.cholesky(_sym_pd(lib, x)), [_data(3, 3)], {}),
    "cholesky_upper_batch": (lambda lib, x: lib.linalg.cholesky(_sym_pd(lib, x), upper=True),
                             [_data(2, 3, 3)],
                             {}),
    "cholesky_raw": (lambda lib, x: lib.linalg.cholesky(x), [_sym_pd(np, _data(3, 3))], {"gradcheck": False}),
    "eigh": (lambda lib, x: _eigh_invariant(lib, _sym_pd(lib, x)), [_data(3, 3)], {}),
    "eigh_batch_upper": (lambda lib, x: _eigh_invariant(lib, _sym_pd(lib, x), "U"), [_data(2, 4, 4)], {}),
    "eigvalsh": (lambda lib, x: lib.linalg.eigvalsh(_sym_pd(lib, x)), [_data(3, 3)], {}),
    "svd_square": (lambda lib, x: _svd_invariant(lib, x), [_data(3, 3)], {}),
    "svd_tall": (lambda lib, x: _svd_invariant(lib, x), [_data(2, 4, 3)], {}),
    "svd_wide": (lambda lib, x: _svd_invariant(lib, x), [_data(3, 5)], {}),
    "svdvals": (lambda lib, x: lib.linalg.svdvals(x), [_data(4, 3)], {}),
    "svd_legacy": (lambda lib, x: _svd_legacy_invariant(lib, x), [_data(4, 3)], {}),
    "qr": (lambda lib, x: lib.linalg.qr(x), [_data(4, 3)], {}),
    "qr_square_batch": (lambda lib, x: lib.linalg.qr(x), [_data(2, 3, 3)], {}),
    # torch cannot differentiate mode="r" (it needs Q); brickwork can: forward against torch,
    # the gradient against central differences
    "qr_r": (lambda lib, x: lib.linalg.qr(x, mode="r")[1], [_data(4, 3)], {"torch_grad": False}),
    "matrix_power_3": (lambda lib, x: lib.linalg.matrix_power(x, 3), [_data(3, 3)], {}),
    "matrix_power_neg": (lambda lib, x: lib.linalg.matrix_power(x, -2), [_well_conditioned(2, 3, 3)], {}),
    "matrix_power_0": (lambda lib, x: x.matrix_power(0) + x, [_data(3, 3)], {}),
    "pinv": (lambda lib, x: lib.linalg.pinv(x), [_data(4, 3)], {}),
    "pinverse": (lambda lib, x: lib.pinverse(x), [_data(2, 3)], {}),
    "vector_norm": (lambda lib, x: lib.linalg.vector_norm(x), [_data(3, 4)], {}),
    "vector_norm_ord": (lambda lib, x: lib.linalg.vector_norm(x, ord=3, dim=1, keepdim=True),
                        [_data(3, 4)], {}),
    "vector_norm_inf": (lambda lib, x: lib.linalg.vector_norm(x, ord=float("inf"), dim=0),
                        [_distinct(3, 4)], {}),
    "vector_norm_1": (lambda lib, x: lib.linalg.vector_norm(x, ord=1), [_data(5)], {}),
    "vector_norm_scalar": (lambda lib, x: lib.linalg.vector_norm(x), [_data()], {}),
    **{f"matrix_norm_{name}": (lambda lib, x, o=o: lib.linalg.matrix_norm(x, ord=o), [_distinct(2, 3, 4)], {})
       for name, o in (("fro", "fro"), ("nuc", "nuc"), ("inf", float("inf")), ("-inf", float("-inf")),
                       ("1", 1), ("-1", -1), ("2", 2), ("-2", -2))},
    "matrix_norm_dims_keepdim": (lambda lib, x: lib.linalg.matrix_norm(x, ord=1, dim=(0, 2), keepdim=True),
                                 [_distinct(3, 2, 4)], {}),
    "norm_default": (lambda lib, x: lib.linalg.norm(x), [_data(2, 3, 4)], {}),
    "norm_matrix_ord": (lambda lib, x: lib.linalg.norm(x, ord="nuc"), [_data(3, 4)], {}),
    "norm_vector_dim": (lambda lib, x: lib.linalg.norm(x, dim=1), [_data(3, 4)], {}),
    "norm_matrix_dims": (lambda lib, x: lib.linalg.norm(x, ord=2, dim=(1, 2)), [_data(2, 3, 4)], {}),
    "norm_vector_ord": (lambda lib, x: lib.linalg.norm(x, ord=0.5), [_data(4, low=0.2)], {}),
    # NaN-aware order statistics
    "nanmedian": (lambda lib, x: lib.nanmedian(x), [np.array([2.0, np.nan, -1.0, 0.5, 3.0])], {}),
    "nanmedian_dim": (lambda lib, x: x.nanmedian(1), [np.array([[1.0, np.nan, 0.3], [np.nan, np.nan, 2.0]])],
                      {}),
    "nanquantile": (lambda lib, x: lib.nanquantile(x, 0.3, dim=0),
                    [np.array([[1.0, np.nan], [2.0, 5.0], [-1.0, np.nan], [0.5, 3.0]])], {}),
    # in-place index ops on a computed tensor (the gradient reaches through them)
    "scatter_": (lambda lib, x, s, i: (x * 1).scatter_(1, i, s), [_data(3, 4), _data(3, 2),
                                                                   np.array([[0, 3], [1, 2], [2, 0]])], {}),
    "scatter_value": (lambda lib, x, i: (x * 1).scatter_(0, i, 2.5), [_data(3, 4), np.array([[2, 0, 1, 2]])],
                      {}),
    "index_add_": (lambda lib, x, s, i: (x * 1).index_add_(0, i, s, alpha=2.0),
                   [_data(4, 3), _data(3, 3), np.array([3, 0, 3])], {}),
    "index_add": (lambda lib, x, s, i: lib.index_add(x, 1, i, s),
                  [_data(2, 4), _data(2, 2), np.array([1, 1])], {}),
    "tril_": (lambda lib, x: (x * 1).tril_(1), [_data(3, 4)], {}),
    "triu_": (lambda lib, x: (x * 1).triu_(-1), [_data(2, 3, 3)], {}),
    "squeeze_": (lambda lib, x: (x * 1).squeeze_(1), [_data(3, 1, 2)], {}),
    "unsqueeze_": (lambda lib, x: (x * 1).unsqueeze_(-1), [_data(3, 2)], {}),
    # a CPU type: on a GPU the data goes to the host (as in torch), and back for the comparison
    "type_double": (lambda lib, x: x.type(lib.DoubleTensor).to(x.device), [_data(2, 3)],
                    {"gradcheck": False}),
}


def _eigh_invariant(lib, a, uplo="L"):
    """Eigenvalues, and eigenvector products that do not depend on each vector's sign."""
    values, vectors = lib.linalg.eigh(a, UPLO=uplo)
    w = lib.tensor(_weights(values.shape[-1]), dtype=a.dtype, device=a.device)
    return values, vectors * vectors, (vectors * w) @ vectors.transpose(-1, -2)


def _svd_invariant(lib, a):
    """``S``, and ``U diag(w) Vh`` with fixed weights (unchanged when a vector pair flips sign)."""
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    w = lib.tensor(_weights(s.shape[-1]), dtype=a.dtype, device=a.device)
    return s, (u * w) @ vh


def _svd_legacy_invariant(lib, a):
    u, s, v = lib.svd(a)
    return s, (u * s) @ v.transpose(-1, -2)


def _cast(arrays, dtype):
    """The float arrays in ``dtype``; index arrays stay integers."""
    return [np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]


@pytest.mark.parametrize("name", list(DIFFERENTIABLE))
def test_differentiable_op(name, device):
    fn, arrays, options = DIFFERENTIABLE[name]
    options = dict(options)
    rtol_f64 = options.pop("rtol_f64", None)
    grad_inputs = options.pop("grad_inputs", None)
    gradcheck = options.pop("gradcheck", True)
    torch_grad = options.pop("torch_grad", True)
    if grad_inputs is not None:  # the later arrays are data that needs no gradient (quantile's q)
        arrays = list(arrays)
        fixed = arrays[grad_inputs:]
        arrays = arrays[:grad_inputs]

        def call(lib, *xs):
            extra = [lib.tensor(a, dtype=xs[0].dtype, device=xs[0].device) for a in fixed]
            return fn(lib, *xs, *extra)
    else:
        def call(lib, *xs):
            return fn(lib, *xs)
    bw_fn, torch_fn = functools.partial(call, bw), functools.partial(call, torch)
    for dt in (np.float32, np.float64):
        tol = {"rtol": rtol_f64} if dt is np.float64 and rtol_f64 else {}
        check_against_torch(bw_fn, torch_fn, _cast(arrays, dt), device, grad=torch_grad, **tol)
    finite = all(np.isfinite(np.asarray(a)).all() for a in arrays)
    checkable = gradcheck and finite and any(np.asarray(a).size for a in arrays)
    if checkable:
        gradcheck_arrays(bw_fn, arrays, device)
    # second derivatives: against torch's in float64 (where torch has them), and central differences
    if torch_grad:
        check_double_against_torch(bw_fn, torch_fn, arrays, device,
                                   **({"rtol": rtol_f64} if rtol_f64 else {}))
    if checkable:
        gradgradcheck_arrays(bw_fn, arrays, device)



_INTS = np.array([3, 1, 3, 0, 7, 1, 1, 2])
_SORTED = np.array([-1.5, -0.5, 0.0, 0.0, 1.0, 2.5])

# ops without a gradient (counting, searching, sets, index grids), compared for values and dtypes;
# name: (fn(lib, *tensors), arrays)
NONDIFFERENTIABLE = {
    "unique": (lambda lib, x: lib.unique(x), [_INTS]),
    "unique_inverse_counts": (lambda lib, x: lib.unique(x, return_inverse=True, return_counts=True),
                              [_INTS.reshape(2, 4)]),
    "unique_float": (lambda lib, x: x.unique(), [np.array([0.5, -1.0, 0.5, 2.0])]),
    "unique_dim": (lambda lib, x: lib.unique(x, dim=0, return_inverse=True, return_counts=True),
                   [np.array([[1, 2], [0, 5], [1, 2], [0, 4]])]),
    "unique_consecutive": (lambda lib, x: lib.unique_consecutive(x, return_inverse=True, return_counts=True),
                           [np.array([1, 1, 2, 2, 3, 1, 1, 2])]),
    "unique_consecutive_dim": (lambda lib, x: x.unique_consecutive(dim=1),
                               [np.array([[1, 1, 2, 2], [0, 0, 3, 3]])]),
    "bincount": (lambda lib, x: lib.bincount(x), [_INTS]),
    "bincount_weights_minlength": (lambda lib, x, w: x.bincount(w, minlength=10),
                                   [_INTS, np.linspace(0.5, 4.0, 8)]),
    "histc": (lambda lib, x: lib.histc(x, bins=5, min=-1, max=1), [_data(20)]),
    "histc_data_range": (lambda lib, x: x.histc(bins=4), [_data(3, 5)]),
    "searchsorted": (lambda lib, s, v: lib.searchsorted(s, v), [_SORTED, np.array([0.0, -3.0, 1.5, 9.0])]),
    "searchsorted_right_int32": (lambda lib, s, v: lib.searchsorted(s, v, right=True, out_int32=True),
                                 [_SORTED, np.array([[0.0, 2.5], [-0.5, 1.0]])]),
    "searchsorted_batched_side": (lambda lib, s, v: lib.searchsorted(s, v, side="right"),
                                  [np.sort(_data(2, 5), axis=1), _data(2, 3)]),
    "bucketize": (lambda lib, v, b: lib.bucketize(v, b), [np.array([[0.0, -3.0], [1.5, 9.0]]), _SORTED]),
    "bucketize_right": (lambda lib, v, b: lib.bucketize(v, b, right=True),
                        [np.array([0.0, 1.0, 2.6]), _SORTED]),
    "isin": (lambda lib, e, t: lib.isin(e, t), [_INTS.reshape(2, 4), np.array([1, 7, 9])]),
    "isin_invert": (lambda lib, e, t: lib.isin(e, t, invert=True), [_INTS, np.array([3, 0])]),
    "heaviside": (lambda lib, x, v: lib.heaviside(x, v), [np.array([-1.0, 0.0, 2.0, 0.0]),
                                                          np.array([0.5, 0.25, 0.5, 1.0])]),
    "heaviside_method": (lambda lib, x, v: x.heaviside(v), [np.array([[0.0, -2.0], [3.0, 0.0]]),
                                                            np.array([0.5])]),
    "tril_indices": (lambda lib, x: lib.tril_indices(4, 3, 1, device=x.device), [_data(1)]),
    "triu_indices": (lambda lib, x: lib.triu_indices(3, 5, -1, device=x.device), [_data(1)]),
    "scatter_reduce_multiply": (lambda lib, x, s, i: x.clone().scatter_(1, i, s, reduce="multiply"),
                                [_data(2, 4), _data(2, 2), np.array([[0, 0], [3, 1]])]),
    "scatter_reduce_add": (lambda lib, x, s, i: x.clone().scatter_(0, i, s, reduce="add"),
                           [_data(3, 2), _data(2, 2), np.array([[1, 1], [1, 0]])]),
    "type_long": (lambda lib, x: x.type(lib.LongTensor), [_data(2, 3, low=-5, high=5)]),
    "type_string": (lambda lib, x: x.type("torch.IntTensor"), [_data(4, low=-5, high=5)]),
}


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("name", list(NONDIFFERENTIABLE))
def test_nondifferentiable_op(name, device):
    fn, arrays = NONDIFFERENTIABLE[name]
    bw_fn, torch_fn = functools.partial(fn, bw), functools.partial(fn, torch)
    for dt in (np.float32, np.float64):
        check_against_torch(bw_fn, torch_fn, _cast(arrays, dt), device, grad=False)


def test_det_at_a_singular_matrix(device):
    # rank 2: the gradient is the adjugate (from an SVD), and so are the second derivatives. Values
    # against torch; the first gradient by central differences only (torch's first-order det backward
    # takes its LU path here and returns 0; with create_graph=True it takes its SVD path, whose
    # second derivatives are compared)
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 5.0]])
    check_against_torch(lambda x: bw.linalg.det(x), lambda x: torch.linalg.det(x), [a], device, grad=False)
    gradcheck_arrays(lambda x: bw.linalg.det(x), [a], device)
    check_double_against_torch(lambda x: bw.linalg.det(x), lambda x: torch.linalg.det(x), [a], device)
    gradgradcheck_arrays(lambda x: bw.linalg.det(x), [a], device)
