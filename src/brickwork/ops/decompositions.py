"""Matrix functions and decompositions with gradients: inv, det, slogdet, solve, cholesky, eigh,
svd, qr; and the norms, powers and pseudo-inverse built on them (``brickwork.linalg``).

All take batches (``(..., m, n)``). Decompositions with several outputs are one primitive whose
forward returns them packed into one array (each output flattened along the last dim); the
public functions slice them out, so the backward sees every output's gradient at once.
Backward formulas are those of matrix calculus for real matrices (M. Giles, "An extended
collection of matrix derivative results", 2008; for QR, Walter and Lehmann, 2018).
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from brickwork import _backend
from brickwork._traced import untrace
from brickwork.autograd import Function, _wrap
from brickwork.ops import elementwise as ew
from brickwork.ops import linalg as la
from brickwork.ops import reduce as rd
from brickwork.ops import shape as sh
from brickwork.ops._util import as_float, norm_dim, promote, sum_to
from brickwork.tensor import Tensor

__all__ = ["inv", "det", "slogdet", "logdet", "solve", "cholesky", "eigh", "eigvalsh", "svd", "svdvals",
           "qr", "matrix_power", "pinv", "vector_norm", "matrix_norm", "norm", "cross"]

slogdet_result = namedtuple("slogdet_result", ["sign", "logabsdet"])
eigh_result = namedtuple("eigh_result", ["eigenvalues", "eigenvectors"])
svd_result = namedtuple("svd_result", ["U", "S", "Vh"])
qr_result = namedtuple("qr_result", ["Q", "R"])


def _mT(a: Any) -> Any:
    return a.swapaxes(-1, -2)


def _square(a: Tensor, op: str) -> Tensor:
    shape = a._data.shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise RuntimeError(f"{op}: expects a batch of square matrices (..., n, n), got shape {tuple(shape)}")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expects a float32 or float64 tensor, got {a.dtype}")
    return a


def _matrix(a: Tensor, op: str) -> Tensor:
    if a._data.ndim < 2:
        raise RuntimeError(f"{op}: expects a batch of matrices (..., m, n), got shape {tuple(a._data.shape)}")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: expects a float32 or float64 tensor, got {a.dtype}")
    return a


def _linalg_error(op: str, exc: Exception) -> RuntimeError:
    return RuntimeError(f"{op}: {exc} (the matrix is singular or not positive-definite)")


class Inv(Function):
    saves_output = True

    def forward(self, a: Any) -> Any:
        try:
            self.out = self.xp.linalg.inv(a)
        except Exception as exc:  # numpy.linalg.LinAlgError, cupy's equivalent
            raise _linalg_error("linalg.inv", exc) from None
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        inv_t = _mT(self.out)
        return (-(inv_t @ g @ inv_t),)


class Det(Function):
    saved_inputs = (0,)
    saves_output = True

    def forward(self, a: Any) -> Any:
        self.a = a
        self.out = self.xp.linalg.det(a)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        # d det(A) = det(A) tr(A^-1 dA); at a singular A this needs the adjugate, taken from an SVD
        xp = self.xp
        scale = (g * self.out)[..., None, None]
        try:
            return (scale * _mT(xp.linalg.inv(self.a)),)
        except Exception:
            return (g[..., None, None] * _adjugate_t(xp, self.a),)


def _adjugate_t(xp: Any, a: Any) -> Any:
    """The transposed adjugate ``det(A) A^-T``, valid for singular ``A`` too (from an SVD)."""
    u, s, vh = xp.linalg.svd(a)
    others = rd._prod_of_others(xp, s, s.ndim - 1)  # for each i, the product of the others
    # det(U) det(Vh) is +-1, locally constant: a constant of a recorded backward too
    sign = xp.linalg.det(untrace(u)) * xp.linalg.det(untrace(vh))
    return sign[..., None, None] * (u * others[..., None, :]) @ vh


class LogAbsDet(Function):
    saved_inputs = (0,)

    def forward(self, a: Any) -> Any:
        self.a = a
        return self.xp.linalg.slogdet(a)[1]

    def backward(self, g: Any) -> tuple[Any, ...]:
        return (g[..., None, None] * _mT(self.xp.linalg.inv(self.a)),)


class Solve(Function):
    """``X`` with ``A X = B`` (``B`` a batch of matrices; vectors are lifted by :func:`solve`)."""

    saved_inputs = (0,)
    saves_output = True

    def forward(self, a: Any, b: Any) -> Any:
        self.a, self.a_shape, self.b_shape = a, a.shape, b.shape
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        try:
            self.out = self.xp.linalg.solve(self.xp.broadcast_to(a, shape + a.shape[-2:]),
                                            self.xp.broadcast_to(b, shape + b.shape[-2:]))
        except Exception as exc:
            raise _linalg_error("linalg.solve", exc) from None
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        a = xp.broadcast_to(self.a, g.shape[:-2] + self.a_shape[-2:])
        gb = xp.linalg.solve(_mT(a), g)
        need_a, need_b = self.needs_input_grad
        ga = sum_to(-(gb @ _mT(self.out)), self.a_shape) if need_a else None
        return (ga, sum_to(gb, self.b_shape) if need_b else None)


class Cholesky(Function):
    """Lower ``L`` with ``A = L L^T``; the backward is symmetric, as PyTorch's."""

    saves_output = True

    def forward(self, a: Any) -> Any:
        try:
            self.out = self.xp.linalg.cholesky(a)
        except Exception as exc:
            raise _linalg_error("linalg.cholesky", exc) from None
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        low = self.out
        phi = xp.tril(_mT(low) @ g)
        phi = phi - 0.5 * xp.eye(low.shape[-1], dtype=low.dtype) * phi  # halve the diagonal
        inv_l = xp.linalg.inv(low)
        ga = _mT(inv_l) @ phi @ inv_l
        return (0.5 * (ga + _mT(ga)),)


class Eigh(Function):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, packed as
    ``(..., n + 1, n)``: the eigenvector matrix with the eigenvalues as an extra last row.

    Backward as PyTorch's: ``V (diag(g_values) + skew(V^T g_vectors) / E) V^T`` with
    ``E[i, j] = lam_j - lam_i`` (so the gradient is symmetric)."""

    saves_output = True

    def forward(self, a: Any, uplo: str) -> Any:
        values, vectors = self.xp.linalg.eigh(a, UPLO=uplo)
        self.out = self.xp.concatenate([vectors, values[..., None, :]], axis=-2)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        v, lam = self.out[..., :-1, :], self.out[..., -1, :]  # (views of the saved output)
        g_vectors, g_values = g[..., :-1, :], g[..., -1, :]
        inner = _mT(v) @ g_vectors
        inner = 0.5 * (inner - _mT(inner))
        gap = lam[..., None, :] - lam[..., :, None]  # gap[i, j] = lam_j - lam_i
        n = lam.shape[-1]
        eye = xp.eye(n, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            middle = xp.where(eye, 0, inner / xp.where(eye, 1, gap))
        middle = middle + g_values[..., None, :] * xp.eye(n, dtype=g.dtype)
        return (v @ middle @ _mT(v),)


class Svd(Function):
    """``U, S, Vh`` packed along the last dim: ``U`` (m x k), then ``S`` (k), then ``Vh`` (k x n),
    each flattened (k = min(m, n) when reduced, else U is m x m and Vh n x n)."""

    saves_output = True

    def forward(self, a: Any, full_matrices: bool) -> Any:
        xp = self.xp
        u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
        self.u_shape, self.vh_shape = u.shape, vh.shape
        lead = a.shape[:-2]
        self.out = xp.concatenate([u.reshape(lead + (-1,)), s, vh.reshape(lead + (-1,))], axis=-1)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        (m, cu), (rv, n) = self.u_shape[-2:], self.vh_shape[-2:]
        k, nu = min(m, n), m * cu
        u, s, vh = (self.out[..., :nu].reshape(self.u_shape), self.out[..., nu:nu + k],
                    self.out[..., nu + k:].reshape(self.vh_shape))  # (views of the saved output)
        gu = g[..., :nu].reshape(self.u_shape)
        gs = g[..., nu:nu + k]
        gvh = g[..., nu + k:].reshape(self.vh_shape)
        if cu > k or rv > k:  # full_matrices=True (checked where the data lives: on a GPU, reported
            # at the next host sync)
            _backend.check_on_device(xp.any(gu[..., k:] != 0) | xp.any(gvh[..., k:, :] != 0),
                                     "linalg.svd: the gradient through the extra columns of U or rows of "
                                     "Vh of full_matrices=True is not defined; use full_matrices=False",
                                     RuntimeError)
        u, gu = u[..., :, :k], gu[..., :, :k]
        vh, gvh = vh[..., :k, :], gvh[..., :k, :]
        if xp is np and not (gu.any() or gvh.any()):  # only the singular values are used (host test)
            return ((u * gs[..., None, :]) @ vh,)
        v, gv = _mT(vh), _mT(gvh)
        uhgu = _mT(u) @ gu
        vhgv = _mT(v) @ gv
        s2 = s * s
        gap = s2[..., None, :] - s2[..., :, None]  # gap[j, i] = s_i^2 - s_j^2
        eye = xp.eye(k, dtype=bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_gap = xp.where(eye, 0, 1 / xp.where(eye, 1, gap))
        # a zero term stays zero across a repeated singular value (infinite inv_gap), as when
        # only S is used: the same result as the shortcut above, without reading the data
        skew_u, skew_v = uhgu - _mT(uhgu), vhgv - _mT(vhgv)
        skew_u = xp.where(skew_u == 0, 0, skew_u * inv_gap)
        skew_v = xp.where(skew_v == 0, 0, skew_v * inv_gap)
        middle = skew_u * s[..., None, :] + s[..., :, None] * skew_v \
            + gs[..., None, :] * xp.eye(k, dtype=g.dtype)
        ga = u @ middle @ vh
        if m > k:
            ga = ga + ((gu - u @ uhgu) / s[..., None, :]) @ vh
        if n > k:
            ga = ga + (u / s[..., None, :]) @ (gvh - _mT(vhgv) @ vh)
        return (ga,)


class Qr(Function):
    """``Q, R`` packed along the last dim, each flattened."""

    saves_output = True

    def forward(self, a: Any, mode: str) -> Any:
        xp = self.xp
        q, r = xp.linalg.qr(a, mode=mode)
        self.q_shape, self.r_shape, self.mode = q.shape, r.shape, mode
        lead = a.shape[:-2]
        self.out = xp.concatenate([q.reshape(lead + (-1,)), r.reshape(lead + (-1,))], axis=-1)
        return self.out

    def backward(self, g: Any) -> tuple[Any, ...]:
        xp = self.xp
        m, n = self.q_shape[-2], self.r_shape[-1]
        if m < n or (self.mode == "complete" and m > n):
            raise NotImplementedError(
                f"linalg.qr: the gradient for {m} x {n} matrices in mode {self.mode!r} is not provided by "
                "brickwork (it needs rows >= columns and mode 'reduced')")
        nq = self.q_shape[-2] * self.q_shape[-1]
        q, r = self.out[..., :nq].reshape(self.q_shape), self.out[..., nq:].reshape(self.r_shape)
        gq = g[..., :nq].reshape(self.q_shape)
        gr = g[..., nq:].reshape(self.r_shape)
        mm = r @ _mT(gr) - _mT(gq) @ q
        lower = xp.tril(mm, -1)
        copyltu = lower + _mT(lower) + mm * xp.eye(n, dtype=g.dtype)
        rhs = gq + q @ copyltu  # (m, n); ga = rhs R^-T
        ga = _mT(xp.linalg.solve(r, _mT(rhs)))
        return (ga,)


# ---------------------------------------------------------------------------
# functions


def inv(A: Tensor) -> Tensor:  # noqa: N803 - PyTorch's argument name
    """The inverse of each square matrix (an error names a singular one).

    >>> import brickwork as bw
    >>> bw.linalg.inv(bw.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    return Inv.apply(_square(A, "linalg.inv"))


def det(A: Tensor) -> Tensor:  # noqa: N803
    """The determinant of each square matrix."""
    return Det.apply(_square(A, "linalg.det"))


def slogdet(A: Tensor) -> Any:  # noqa: N803
    """``(sign, logabsdet)`` of each determinant; the gradient flows through ``logabsdet``."""
    _square(A, "linalg.slogdet")
    sign = _wrap(A._device.xp.linalg.slogdet(A._data)[0], A._device)
    if A.requires_grad:  # as torch: the sign is an output of the graph too, with a zero gradient
        sign = ew.sign(det(A))
    return slogdet_result(sign, LogAbsDet.apply(A))


def logdet(A: Tensor) -> Tensor:  # noqa: N803
    """``log(det(A))``: NaN for a negative determinant, -inf for zero (as PyTorch)."""
    sign, logabs = slogdet(A)
    return ew.add(logabs, ew.log(sign.detach()))


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:  # noqa: N803
    """``X`` with ``A X = B`` (``left=False``: ``X A = B``); ``B`` may be a (batch of) vector(s)."""
    _square(A, "linalg.solve")
    A, B = promote(A, B, "linalg.solve") if A._data.dtype != B._data.dtype else (A, B)  # noqa: N806
    if not left:
        return sh.transpose(solve(sh.transpose(A, -1, -2), sh.transpose(B, -1, -2)), -1, -2)
    n = A._data.shape[-1]
    vector = B._data.ndim == 1 or (B._data.shape == A._data.shape[:-1] and B._data.ndim >= 1)
    if vector:
        return sh.squeeze(Solve.apply(A, sh.unsqueeze(B, -1)), -1)
    if B._data.ndim < 2 or B._data.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: A of shape {tuple(A.shape)} and B of shape {tuple(B.shape)} "
                           "do not match")
    return Solve.apply(A, B)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:  # noqa: N803
    """Lower-triangular ``L`` with ``A = L L^T`` (``upper=True``: ``U = L^T``, ``A = U^T U``)."""
    low = Cholesky.apply(_square(A, "linalg.cholesky"))
    return sh.transpose(low, -1, -2) if upper else low


def eigh(A: Tensor, UPLO: str = "L") -> Any:  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors (as columns) of symmetric matrices, read from
    the lower (``UPLO='L'``) or upper triangle."""
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = Eigh.apply(_square(A, "linalg.eigh"), uplo=UPLO)
    n = A._data.shape[-1]
    values = sh.select(sh.narrow(packed, -2, n, 1), -2, 0)
    return eigh_result(values, sh.narrow(packed, -2, 0, n))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:  # noqa: N803
    """The eigenvalues of symmetric matrices, ascending."""
    return eigh(A, UPLO)[0]


def svd(A: Tensor, full_matrices: bool = True) -> Any:  # noqa: N803
    """``U, S, Vh`` with ``A = U diag(S) Vh`` (singular values descending)."""
    _matrix(A, "linalg.svd")
    m, n = A._data.shape[-2:]
    k = min(m, n)
    cu, rv = (m, n) if full_matrices else (k, k)
    packed = Svd.apply(A, full_matrices=full_matrices)
    lead = tuple(A._data.shape[:-2])
    u = sh.reshape(sh.narrow(packed, -1, 0, m * cu), *lead, m, cu)
    s = sh.narrow(packed, -1, m * cu, k)
    vh = sh.reshape(sh.narrow(packed, -1, m * cu + k, rv * n), *lead, rv, n)
    return svd_result(u, s, vh)


def svdvals(A: Tensor) -> Tensor:  # noqa: N803
    """The singular values, descending."""
    return svd(A, full_matrices=False)[1]


def qr(A: Tensor, mode: str = "reduced") -> Any:  # noqa: N803
    """``Q, R`` with ``A = Q R``: ``mode`` 'reduced' (Q is m x k), 'complete' (Q is m x m) or 'r'
    (R only; Q is empty)."""
    _matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A._data.shape[-2:]
    k = min(m, n)
    qc, rr = (m, m) if mode == "complete" else (k, k)
    packed = Qr.apply(A, mode="complete" if mode == "complete" else "reduced")
    lead = tuple(A._data.shape[:-2])
    q = sh.reshape(sh.narrow(packed, -1, 0, m * qc), *lead, m, qc)
    r = sh.reshape(sh.narrow(packed, -1, m * qc, rr * n), *lead, rr, n)
    if mode == "r":
        q = _wrap(A._device.xp.zeros((0,), dtype=A._data.dtype), A._device)
    return qr_result(q, r)


def matrix_power(A: Tensor, n: int) -> Tensor:  # noqa: N803
    """``A`` multiplied by itself ``n`` times (``n < 0``: the inverse's power; 0: the identity)."""
    _square(A, "linalg.matrix_power")
    if n < 0:
        return matrix_power(inv(A), -n)
    if n == 0:
        xp = A._device.xp
        eye = xp.broadcast_to(xp.eye(A._data.shape[-1], dtype=A._data.dtype), A._data.shape)
        return _wrap(eye.copy(), A._device)
    result = None
    base = A
    while n:  # binary powering
        if n & 1:
            result = base if result is None else la.matmul(result, base)
        n >>= 1
        if n:
            base = la.matmul(base, base)
    return result


def pinv(A: Tensor, *, atol: float | None = None, rtol: float | None = None,  # noqa: N803
         hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse, from an SVD; singular values below
    ``max(atol, rtol * largest)`` count as zero (default rtol: eps * max(m, n))."""
    _matrix(A, "linalg.pinv")
    u, s, vh = svd(A, full_matrices=False)
    m, n = A._data.shape[-2:]
    if rtol is None:
        rtol = float(np.finfo(A._data.dtype).eps) * max(m, n) if atol is None or atol == 0 else 0.0
    largest = rd.amax(s, -1, keepdim=True) if s._data.shape[-1] else s
    cutoff = ew.maximum(ew.mul(largest, rtol), atol or 0.0).detach()
    keep = ew.gt(s, cutoff)
    s_inv = ew.where(keep, ew.reciprocal(ew.where(keep, s, 1.0)), 0.0)
    return la.matmul(ew.mul(sh.transpose(vh, -1, -2), sh.unsqueeze(s_inv, -2)), sh.transpose(u, -1, -2))


# ---------------------------------------------------------------------------
# norms


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:
    """The vector ``ord``-norm over ``dim`` (all elements when None): 2, 1, inf, -inf, 0 or any p."""
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    if dim is None:
        x, dim = sh.reshape(x, -1), 0
    return rd.norm(as_float(x), p=ord, dim=dim, keepdim=keepdim, dtype=dtype)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,  # noqa: A002, N803
                dtype: Any = None) -> Tensor:
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    if dtype is not None:
        A = A.to(dtype)  # noqa: N806
    A = as_float(A)  # noqa: N806
    nd = A._data.ndim
    if nd < 2:
        raise RuntimeError(f"linalg.matrix_norm: expects at least 2 dims, got shape {tuple(A.shape)}")
    d0, d1 = (norm_dim(d, nd, "linalg.matrix_norm") for d in dim)
    if ord == "fro":
        return rd.norm(A, p=2, dim=(d0, d1), keepdim=keepdim)
    if ord in ("nuc", 2, -2):
        moved = sh.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(moved)
        out = rd.sum(s, -1) if ord == "nuc" else (rd.amax(s, -1) if ord == 2 else rd.amin(s, -1))
        if keepdim:
            out = sh.unsqueeze(sh.unsqueeze(out, min(d0, d1)), max(d0, d1))
        return out
    if ord in (1, -1, float("inf"), float("-inf")):
        inner, outer = (d0, d1) if ord in (1, -1) else (d1, d0)  # 1: max column sum; inf: max row sum
        sums = rd.sum(ew.abs(A), inner, keepdim=True)
        pick = rd.amax if ord in (1, float("inf")) else rd.amin
        out = pick(sums, outer, keepdim=True)
        return out if keepdim else sh.squeeze(out, (d0, d1))
    raise RuntimeError("linalg.matrix_norm: ord must be 'fro', 'nuc', inf, -inf, 1, -1, 2 or -2, "
                       f"got {ord!r}")


def norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *,  # noqa: A002, N803
         dtype: Any = None) -> Tensor:
    """``linalg.norm``: a vector norm when ``dim`` is an int or the input is 1-D, a matrix norm
    when ``dim`` is a pair or the input is 2-D; with neither ``ord`` nor ``dim``, the 2-norm of
    all elements."""
    if ord is None:
        if dim is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype) if not keepdim else \
                rd.norm(as_float(A), p=2, dim=tuple(range(A._data.ndim)), keepdim=True, dtype=dtype)
        return vector_norm(A, 2, dim, keepdim, dtype=dtype) if isinstance(dim, int) or len(dim) == 1 \
            else matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
    if dim is None:
        if A._data.ndim == 1 and not isinstance(ord, str):
            return vector_norm(A, ord, None, keepdim, dtype=dtype)
        if A._data.ndim == 2:
            return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
        raise RuntimeError(f"linalg.norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got "
                           f"shape {tuple(A.shape)}")
    if isinstance(dim, int) or len(dim) == 1:
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """``linalg.cross``: the cross product along ``dim`` (default the last)."""
    from brickwork.ops.matrix import cross as _cross

    return _cross(input, other, dim=dim)


# ---------------------------------------------------------------------------
# the older top-level names PyTorch still has (torch.det, torch.svd, ...)

inverse = inv
pinverse = pinv


def cholesky_legacy(input: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky(input, upper=False)``: as :func:`cholesky` with a positional ``upper``."""
    return cholesky(input, upper=upper)


def svd_legacy(input: Tensor, some: bool = True, compute_uv: bool = True) -> Any:
    """``torch.svd``: ``(U, S, V)`` with ``V`` (not ``Vh``); ``some=False`` gives full U and V."""
    u, s, vh = svd(input, full_matrices=not some)
    if not compute_uv:
        m, n = input._data.shape[-2:]
        xp = input._device.xp
        lead = tuple(input._data.shape[:-2])
        cu, cv = (min(m, n), min(m, n)) if some else (m, n)
        return svd_result(_wrap(xp.zeros(lead + (m, cu), dtype=input._data.dtype), input._device), s,
                          _wrap(xp.zeros(lead + (n, cv), dtype=input._data.dtype), input._device))
    return svd_result(u, s, sh.transpose(vh, -1, -2))


def qr_legacy(input: Tensor, some: bool = True) -> Any:
    """``torch.qr(input, some=True)``: reduced (``some``) or complete QR."""
    return qr(input, mode="reduced" if some else "complete")
