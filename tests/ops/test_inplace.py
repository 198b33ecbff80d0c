"""In-place ops: values against PyTorch, identity and storage, history rewriting, and the version counter."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import brickwork as bw
from oracle import check_op, gradcheck_arrays, gradgradcheck_arrays

rng = np.random.default_rng(3)


def _data(*shape):
    return rng.standard_normal(shape)


INPLACE = {
    "add_": lambda x, y: x.add_(y),
    "add_alpha": lambda x, y: x.add_(y, alpha=0.5),
    "add_scalar": lambda x, y: x.add_(2.5),
    "sub_": lambda x, y: x.sub_(y),
    "sub_alpha": lambda x, y: x.sub_(y, alpha=2),
    "mul_": lambda x, y: x.mul_(y),
    "mul_scalar": lambda x, y: x.mul_(-3),
    "div_": lambda x, y: x.div_(y),
    "div_scalar": lambda x, y: x.div_(4),
    "pow_": lambda x, y: x.abs_().pow_(2),
    "iadd": lambda x, y: _iop(x, y, "__iadd__"),
    "isub": lambda x, y: _iop(x, y, "__isub__"),
    "imul": lambda x, y: _iop(x, y, "__imul__"),
    "itruediv": lambda x, y: _iop(x, y, "__itruediv__"),
    "zero_": lambda x, y: x.zero_(),
    "fill_": lambda x, y: x.fill_(1.5),
    "fill_tensor": lambda x, y: x.fill_(y[0, 0]),
    "copy_": lambda x, y: x.copy_(y),
    "copy_broadcast": lambda x, y: x.copy_(y[0]),
    "clamp_": lambda x, y: x.clamp_(-0.5, 0.5),
    "clamp_min": lambda x, y: x.clamp_(min=0.0),
    "clip_": lambda x, y: x.clip_(max=0.1),
    "neg_": lambda x, y: x.neg_(),
    "exp_": lambda x, y: x.exp_(),
    "sigmoid_": lambda x, y: x.sigmoid_(),
    "tanh_": lambda x, y: x.tanh_(),
    "relu_": lambda x, y: x.relu_(),
    "masked_fill_": lambda x, y: x.masked_fill_(y > 0, -1.0),
    "lerp_": lambda x, y: x.lerp_(y, 0.3),
    "addcmul_": lambda x, y: x.addcmul_(y, y, value=0.5),
    "addcdiv_": lambda x, y: x.addcdiv_(y, y.abs() + 1, value=2.0),
}


def _iop(x, y, name):
    out = getattr(x, name)(y)
    assert out is x
    return out


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_outside_graph_matches_torch_and_returns_self(name, device):
    a, b = _data(2, 3), _data(2, 3)
    fn = INPLACE[name]
    x, y = bw.tensor(a, device=device), bw.tensor(b, device=device)
    tx, ty = torch.tensor(a), torch.tensor(b)
    storage, version = x._data, x._version[0]
    out = fn(x, y)
    fn(tx, ty)
    assert out is x and x._data is storage
    assert x._version[0] > version
    np.testing.assert_allclose(x.cpu().numpy(), tx.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", [n for n in INPLACE if n not in ("zero_", "fill_")])
def test_inplace_inside_graph_rewrites_history(name, device):
    # y = x * 1 is a non-leaf; the in-place op on it must give PyTorch's gradients for x (and for y's
    # other operand)
    fn = INPLACE[name]

    def run(x, other):
        y = x * 1
        fn(y, other)
        return y * 2

    check_op(run, run, [_data(2, 3), _data(2, 3)], device)


def test_fill_and_zero_inside_graph(device):
    def run(x, v):
        y = x * 2
        z = y * 1
        z.zero_()
        w = y * 1
        w.fill_(v[0])
        return y + z + w

    check_op(run, run, [_data(3), _data(2)], device)


def test_divide_in_forward_like_tutorial_code(device):
    def forward(X, W):
        X = X @ W
        X /= 2
        X += 1
        return X.relu().sum(1)

    check_op(forward, forward, [_data(4, 3), _data(3, 2)], device)


def test_inplace_into_plain_tensor_from_graph_value(device):
    # x does not require grad, the added value does: x joins the graph
    def run(w):
        x = w.new_zeros(3) if isinstance(w, bw.Tensor) else w.new_zeros(3)
        x.add_(w * 2)
        x.mul_(w)
        return x

    check_op(run, run, [_data(3)], device)


def test_weight_pruning_by_mask(device):
    w = bw.tensor([1.0, 6.0, -7.0, 2.0], device=device, requires_grad=True)
    w.data *= w.data.abs() >= 5
    assert w.tolist() == [0.0, 6.0, -7.0, 0.0]
    assert w.requires_grad and w.is_leaf


def test_inplace_dtype_rules(device):
    i = bw.zeros(3, dtype=bw.int64, device=device)
    with pytest.raises(RuntimeError, match="float32.*int64|int64"):
        i += 1.5
    i += 2
    assert i.dtype == bw.int64 and i.tolist() == [2, 2, 2]
    f = bw.zeros(3, device=device)
    f += bw.tensor([1.0, 2.0, 3.0], dtype=bw.float64, device=device)
    assert f.dtype == bw.float32 and f.tolist() == [1.0, 2.0, 3.0]
    b = bw.zeros(2, dtype=bw.bool, device=device)
    with pytest.raises(RuntimeError):
        b += 1


def test_inplace_cannot_change_shape(device):
    x = bw.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        x.add_(bw.ones(2, 3, device=device))
    with pytest.raises(RuntimeError, match="broadcast"):
        x.copy_(bw.ones(4, device=device))


def test_leaf_requiring_grad_inplace_raises_except_under_no_grad(device):
    x = bw.ones(3, device=device, requires_grad=True)
    for fn in (lambda: x.add_(1), lambda: x.mul_(2), lambda: x.zero_(), lambda: x.fill_(1.0),
               lambda: x.copy_(bw.zeros(3, device=device)), lambda: x.clamp_(0, 1), lambda: x.uniform_(),
               lambda: x.normal_(), lambda: x.exp_()):
        with pytest.raises(RuntimeError, match="leaf"):
            fn()
    with pytest.raises(RuntimeError, match="leaf"):
        x += 1
    with bw.no_grad():
        x += 1
        x.mul_(2).uniform_(0, 1)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None


def test_modified_after_save_raises_naming_the_tensor(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = x * 2
    z = y * y  # saves y
    y.add_(1)
    pattern = r"modified by an in-place operation.*input 0 \(the output of mul\) of mul.*version 0"
    with pytest.raises(RuntimeError, match=pattern):
        z.sum().backward()


def test_modified_saved_output_raises(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="its output of exp"):
        y.sum().backward()


def test_modified_leaf_data_after_save_raises(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = (x * x).sum()
    with bw.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_unsaved_inplace_is_fine(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = x + 1  # add saves nothing
    y.mul_(3)
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_random_fills(device):
    bw.manual_seed(0)
    x = bw.empty(1000, device=device).uniform_(-2, 3)
    assert -2 <= x.min().item() and x.max().item() < 3 and abs(x.mean().item() - 0.5) < 0.2
    y = bw.empty(2000, dtype=bw.float64, device=device).normal_(1.0, 2.0)
    assert y.dtype == bw.float64
    assert abs(y.mean().item() - 1.0) < 0.2 and abs(y.std().item() - 2.0) < 0.2
    g = bw.Generator(device).manual_seed(5)
    a = bw.empty(4, device=device).normal_(generator=g)
    g.manual_seed(5)
    assert a.tolist() == bw.empty(4, device=device).normal_(generator=g).tolist()
    with pytest.raises(RuntimeError, match="floating point"):
        bw.zeros(3, dtype=bw.int64, device=device).uniform_()


def test_inplace_on_view_writes_through(device):
    x = bw.zeros(2, 3, device=device)
    x[0].add_(1)
    x[:, 1].mul_(0).add_(5)
    x.T[2].fill_(-1)
    assert x.tolist() == [[1.0, 5.0, -1.0], [0.0, 5.0, -1.0]]


VIEW_INPLACE = {
    "slice_mul": lambda y, z: y[0:2].mul_(2),
    "slice_add_graph_value": lambda y, z: y[1].add_(z[0] * z[1]),
    "iadd_through_index": lambda y, z: y.__setitem__(slice(1, None), y[1:] + 0) or _iadd_index(y, z),
    "transposed_row": lambda y, z: y.T[1].add_(z[:, 0]),
    "view_of_view": lambda y, z: y[1:][:, ::2].mul_(z[:2, :2]),
    "flat_view_zero": lambda y, z: y.view(-1)[::2].zero_(),
    "setitem_on_view": lambda y, z: y[0].__setitem__(1, z[2, 2]),
    "reshape_that_copies": lambda y, z: y.T.reshape(-1).add_(5),
    "unsqueeze_clamp": lambda y, z: y.unsqueeze(0).clamp_(-0.5, 0.5),
    "permuted_copy_": lambda y, z: y.permute(1, 0)[0].copy_(z[0]),
}


def _iadd_index(y, z):
    y[1:, 0] += z[:2, 1]  # tmp = y[1:, 0]; tmp += ...; y[1:, 0] = tmp
    y[0] *= 3


@pytest.mark.parametrize("name", list(VIEW_INPLACE))
def test_inplace_on_views_inside_graph_matches_torch(name, device):
    fn = VIEW_INPLACE[name]

    def run(x, z):
        y = x * 1  # a non-leaf base
        fn(y, z)
        return y * y

    check_op(run, run, [_data(3, 3), _data(3, 3)], device)


def test_inplace_on_view_of_plain_base_joins_the_graph(device):
    def run(w):
        b = w.new_zeros(3, 2)
        b[0:2, 1].add_(w * 3)
        return b.sum(0) * b.sum(1).sum()

    check_op(run, run, [_data(2)], device)


def test_inplace_on_view_of_transposed_op_output(device):
    # the base is the output of an op on a transposed input (not C-contiguous)
    def run(x):
        h = x.T * 2
        h[0].mul_(3)
        return h.exp()

    check_op(run, run, [_data(3, 2)], device)


def test_inplace_on_view_of_leaf_requiring_grad_raises(device):
    w = bw.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf"):
        w[0].add_(1)
    with pytest.raises(RuntimeError, match="view of a leaf"):
        w[:2] += 1
    with bw.no_grad():
        w[0].add_(1)
    assert w.tolist() == [2.0, 1.0, 1.0]


def test_random_fill_of_graph_tensor_cuts_the_gradient(device):
    x = bw.ones(3, device=device, requires_grad=True)
    y = x * 2
    y.uniform_()
    (y * 1).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    z = x * 2
    z[1:].normal_()
    z.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 0.0]


def test_element_views_write_through(device):
    x = bw.zeros(3, device=device)
    x[1].add_(5)
    x[-1].fill_(2)
    e = x[0]
    e += 1
    assert x.tolist() == [1.0, 5.0, 2.0]
    m = bw.zeros(2, 2, device=device)
    m[1, 0].sub_(3)
    a, b = m.unbind(0)
    b[1].fill_(4)
    assert m.tolist() == [[0.0, 0.0], [-3.0, 4.0]]


STALE_VIEWS = {
    "base_modified": lambda h, z: (h[0:2], h.mul_(2))[0],
    "overlapping_view_modified": lambda h, z: (h[1:], h[0:2].mul_(z[0]))[0],
    "transposed_then_base_add": lambda h, z: (h.T, h.add_(z))[0],
    "view_of_view_base_setitem": lambda h, z: (h[1:][:, 1], h.__setitem__((2, 1), z[0, 0]))[0],
    # expand views hold each base element several times (stride 0): every copy's gradient counts
    "expand_base_add": lambda h, z: (h.expand(2, 3, 3), h.add_(z))[0],
    "unsqueeze_expand_base_mul": lambda h, z: (h[0].unsqueeze(0).expand(4, 3), h.mul_(z))[0],
    "expand_of_slice_base_setitem": lambda h, z: (h[:, 1:2].expand(3, 5), h.__setitem__((0, 1), z[0, 0]))[0],
    "expand_of_transposed_row": lambda h, z: (h.T[1].expand(2, 3), h[1:].mul_(3))[0],
}


@pytest.mark.parametrize("name", list(STALE_VIEWS))
def test_views_taken_before_an_inplace_op_see_the_new_history(name, device):
    # a view taken before its base (or an overlapping view) is modified in place must give
    # PyTorch's gradients when used afterwards
    fn = STALE_VIEWS[name]

    def run(x, z):
        h = x * 1
        view = fn(h, z)
        return view * view

    check_op(run, run, [_data(3, 3), _data(3, 3)], device)


@pytest.mark.parametrize("view", ["expand", "unsqueeze_expand"])
@pytest.mark.parametrize("use_grad", [False, True], ids=["backward", "autograd_grad"])
def test_expand_view_after_inplace_on_base_counts_every_copy(view, use_grad, device):
    # issue 12 A: x.grad was [2, 2] (one copy of each element), torch gives [6, 6]
    def grads(lib, **kw):
        x = lib.tensor([1.0, 2.0], requires_grad=True, **kw)
        b = x * 1
        e = b.expand(3, 2) if view == "expand" else b.unsqueeze(0).expand(3, 2)
        b.add_(1)
        loss = (e * 2).sum()
        if use_grad:
            return lib.autograd.grad(loss, x)[0].tolist()
        loss.backward()
        return x.grad.tolist()

    assert grads(bw, device=device) == grads(torch) == [6.0, 6.0]


def test_inplace_into_expanded_tensor_raises_clearly(device):
    x = bw.ones(3, device=device).expand(2, 3)
    with pytest.raises(RuntimeError, match="read-only|share one memory"):
        x.add_(1)
    y = bw.ones(3, device=device, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="share one memory"):
        y.expand(2, 3).mul_(2)


def test_inplace_device_mismatch_is_a_device_mismatch_error():
    from brickwork.autograd import DeviceMismatchError, _wrap

    fake = _wrap(np.ones(3, dtype=np.float32), bw.device("cuda:0"))
    for fn in (lambda: bw.ones(3).add_(fake), lambda: bw.ones(3).mul_(fake),
               lambda: bw.ones(3).masked_fill_(_wrap(np.ones(3, dtype=bool), bw.device("cuda:0")), 0.0)):
        with pytest.raises(DeviceMismatchError, match="cpu and cuda:0"):
            fn()


def _index(like, values):
    """An int64 index tensor of the library (and device) of ``like``."""
    if isinstance(like, bw.Tensor):
        return bw.tensor(values, dtype=bw.int64, device=like.device)
    return torch.tensor(values, dtype=torch.int64)


# indexed writes (ops/inplace_index.py) inside the graph, on a non-leaf, and index_add out of place
INDEXED = {
    "index_add": (lambda x, s: x.index_add(0, _index(x, [0, 2, 0]), s * s, alpha=2), ((3, 2), (3, 2))),
    "index_add_": (lambda x, s: (x * 1).index_add_(1, _index(x, [2, 0]), s * x[:, :2]), ((2, 3), (2, 2))),
    "scatter_": (lambda x, s: (x * 1).scatter_(1, _index(x, [[0], [2]]), s * s), ((2, 3), (2, 1))),
    "scatter_value": (lambda x, s: (x * s.sum()).scatter_(1, _index(x, [[0, 1], [2, 0]]), 2.0),
                      ((2, 3), (2,))),
    "tril_": (lambda x, s: (x * s).tril_(-1), ((3, 3), (3,))),
    "triu_": (lambda x, s: (x * s).triu_(1), ((3, 4), (4,))),
    "unsqueeze_squeeze_": (lambda x, s: (x * s).unsqueeze_(1).squeeze_(1), ((2, 3), (3,))),
}


@pytest.mark.parametrize("name", list(INDEXED))
def test_indexed_writes_inside_graph_match_torch(name, device):
    fn, shapes = INDEXED[name]

    def run(x, s):
        return fn(x, s) * x.sum()  # (a product: the second derivatives go through the write)

    check_op(run, run, [_data(*shape) for shape in shapes], device)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter:UserWarning")
def test_scatter_reduce_add_inside_graph(device):
    # PyTorch has no derivative for scatter_(reduce=...) (values only); brickwork's is scatter_add's,
    # checked by central differences, twice
    def run(x, s):
        return (x * 1).scatter_(0, _index(x, [[1, 0, 1]]), s * x[:1], reduce="add") * x.sum()

    arrays = [_data(2, 3), _data(1, 3)]
    check_op(run, run, arrays, device, grad=False)
    gradcheck_arrays(run, arrays, device)
    gradgradcheck_arrays(run, arrays, device)
