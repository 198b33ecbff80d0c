"""Shape and indexing ops against PyTorch (forward and gradient, float32 and float64) and gradcheck."""

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

rng = np.random.default_rng(7)


def _data(*shape):
    return rng.standard_normal(shape)


def _same(fn):
    """The same call on brickwork and torch tensors."""
    return fn, fn


VIEWS = {
    "reshape": ((2, 3, 4), lambda x: x.reshape(4, 6)),
    "reshape_tuple": ((2, 3, 4), lambda x: x.reshape((-1, 4))),
    "reshape_scalar": ((), lambda x: x.reshape(1, 1)),
    "reshape_to_scalar": ((1, 1), lambda x: x.reshape(())),
    "reshape_empty": ((0, 3), lambda x: x.reshape(3, 0)),
    "reshape_non_contiguous": ((3, 4), lambda x: x.T.reshape(-1)),
    "view": ((2, 3, 4), lambda x: x.view(6, 4)),
    "view_minus_one": ((2, 3, 4), lambda x: x.view(-1)),
    "view_as": ((2, 3), lambda x: x.view_as(x.T.contiguous())),
    "flatten": ((2, 3, 4), lambda x: x.flatten()),
    "flatten_range": ((2, 3, 4, 5), lambda x: x.flatten(1, 2)),
    "flatten_scalar": ((), lambda x: x.flatten()),
    "unflatten": ((2, 12), lambda x: x.unflatten(1, (3, -1))),
    "squeeze": ((1, 3, 1, 2), lambda x: x.squeeze()),
    "squeeze_dim": ((1, 3, 1, 2), lambda x: x.squeeze(2)),
    "squeeze_dim_not_one": ((1, 3, 1, 2), lambda x: x.squeeze(1)),
    "squeeze_dims": ((1, 3, 1, 2), lambda x: x.squeeze((0, 2))),
    "squeeze_scalar": ((), lambda x: x.squeeze()),
    "unsqueeze": ((2, 3), lambda x: x.unsqueeze(1)),
    "unsqueeze_negative": ((2, 3), lambda x: x.unsqueeze(-1)),
    "unsqueeze_scalar": ((), lambda x: x.unsqueeze(0)),
    "permute": ((2, 3, 4), lambda x: x.permute(2, 0, 1)),
    "permute_tuple": ((2, 3, 4), lambda x: x.permute((1, 2, 0))),
    "permute_negative": ((2, 3, 4), lambda x: x.permute(-1, 0, 1)),
    "transpose": ((2, 3, 4), lambda x: x.transpose(0, 2)),
    "transpose_negative": ((2, 3, 4), lambda x: x.transpose(-1, -2)),
    "t": ((2, 3), lambda x: x.t()),
    "t_vector": ((3,), lambda x: x.t()),
    "T": ((2, 3), lambda x: x.T),
    "mT": ((2, 3, 4), lambda x: x.mT),
    "expand": ((3, 1), lambda x: x.expand(2, 3, 4)),
    "expand_minus_one": ((3, 1), lambda x: x.expand(-1, 5)),
    "expand_scalar": ((), lambda x: x.expand(2, 2)),
    "expand_as": ((1, 4), lambda x: x.expand_as(x.new_zeros(3, 4))),
    "movedim": ((2, 3, 4), lambda x: x.movedim(0, -1)),
    "narrow": ((4, 5), lambda x: x.narrow(1, 1, 3)),
    "unbind": ((3, 2), lambda x: x.unbind(1)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_view_ops(name, device):
    shape, fn = VIEWS[name]
    check_op(fn, fn, [_data(*shape)], device)


def test_view_shares_storage_and_version(device):
    x = bw.zeros(2, 3, device=device)
    for v in (x.view(6), x.reshape(3, 2), x.T, x[0], x.unsqueeze(0), x.permute(1, 0), x.expand(2, 2, 3)):
        before = x._version[0]
        x.add_(1)
        assert v._version[0] == x._version[0] == before + 1
    x.view(6)[0] = 5.0
    assert x[0, 0].item() == 5.0


def test_view_of_non_contiguous_raises_and_reshape_copies(device):
    x = bw.zeros(3, 4, device=device).T
    with pytest.raises(RuntimeError, match="reshape"):
        x.view(12)
    assert x.reshape(12).shape == (12,)


def test_reshape_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"\[4, 5\].*size 6"):
        bw.ones(2, 3).reshape(4, 5)
    with pytest.raises(RuntimeError, match="only one dimension"):
        bw.ones(2, 3).reshape(-1, -1)
    with pytest.raises(RuntimeError, match="expand"):
        bw.ones(3, 2).expand(3, 4)
    with pytest.raises(RuntimeError, match="permutation"):
        bw.ones(3, 2).permute(0, 0)


COPIES = {
    "repeat": ((2, 3), lambda x: x.repeat(2, 1)),
    "repeat_more_dims": ((2, 3), lambda x: x.repeat(2, 1, 3)),
    "repeat_scalar": ((), lambda x: x.repeat(3)),
    "repeat_tuple": ((3,), lambda x: x.repeat((2, 2))),
    "tile": ((2, 3), lambda x: x.tile(2)),
    "tile_more": ((3,), lambda x: x.tile((2, 2))),
    "tile_fewer_dims": ((2, 3, 2), lambda x: x.tile((2, 1))),
    "flip": ((2, 3, 4), lambda x: x.flip(0, 2) if isinstance(x, torch.Tensor) else x.flip((0, 2))),
    "flip_int": ((2, 3), lambda x: x.flip(-1) if isinstance(x, bw.Tensor) else x.flip(-1)),
    "roll": ((5,), lambda x: x.roll(2)),
    "roll_dim": ((3, 4), lambda x: x.roll(-1, 1)),
    "roll_dims": ((3, 4), lambda x: x.roll((1, 2), (0, 1))),
    "roll_flat": ((3, 4), lambda x: x.roll(5)),
    "tril": ((4, 5), lambda x: x.tril()),
    "tril_k": ((4, 5), lambda x: x.tril(-1)),
    "triu": ((3, 4, 5), lambda x: x.triu(1)),
    "clone": ((2, 3), lambda x: x.clone()),
    "contiguous": ((2, 3), lambda x: x.T.contiguous()),
    "repeat_interleave": ((3, 2), lambda x: x.repeat_interleave(2, dim=0)),
    "repeat_interleave_flat": ((3, 2), lambda x: x.repeat_interleave(2)),
    "masked_select": ((3, 4), lambda x: x.masked_select(x > 0)),
}


@pytest.mark.parametrize("name", list(COPIES))
def test_copy_ops(name, device):
    shape, fn = COPIES[name]
    check_op(fn, fn, [_data(*shape)], device)


@pytest.mark.parametrize("name", ["repeat_3d", "flip", "roll_dim", "triu", "tile"])
def test_copy_ops_non_contiguous_and_empty(name, device):
    fn = (lambda x: x.repeat(1, 2, 2)) if name == "repeat_3d" else COPIES[name][1]
    check_op(lambda x: fn(x.transpose(0, 1)), lambda x: fn(x.transpose(0, 1)), [_data(3, 2, 4)], device)
    check_op(fn, fn, [_data(0, 3, 2)], device, gradcheck=False)


def test_repeat_needs_enough_dims():
    with pytest.raises(RuntimeError, match="repeat dims"):
        bw.ones(2, 3).repeat(2)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat(dim, device):
    a, b, c = _data(2, 3), _data(2, 3), _data(2, 3)
    check_op(lambda x, y, z: bw.cat([x, y, z], dim), lambda x, y, z: torch.cat([x, y, z], dim), [a, b, c],
             device)


def test_cat_sizes_and_dtypes(device):
    a, b = _data(2, 3), _data(4, 3)
    check_op(lambda x, y: bw.cat((x, y)), lambda x, y: torch.cat((x, y)), [a, b], device)
    check_op(lambda x, y: bw.cat([x, y.T[:, :2]], 1), lambda x, y: torch.cat([x, y.T[:, :2]], 1),
             [a, _data(3, 2)], device)
    check_op(lambda x, y: bw.cat([x, y]), lambda x, y: torch.cat([x, y]), [_data(0, 3), a], device)
    # legacy empty 1-D tensors are skipped, and dtypes promote
    check_against_torch(lambda x, y: bw.cat([x, y]) if isinstance(x, bw.Tensor) else torch.cat([x, y]),
                        None or (lambda x, y: torch.cat([x, y])), [np.array([1, 2]), np.array([0.5])],
                        device, grad=False)
    got = bw.cat([bw.zeros(0, device=device), bw.ones(2, 2, device=device)])
    assert got.shape == (2, 2)


def test_cat_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"tensor 1 has shape \(2, 4\)"):
        bw.cat([bw.ones(2, 3), bw.ones(2, 4)])
    with pytest.raises(RuntimeError, match="zero-dimensional"):
        bw.cat([bw.tensor(1.0), bw.tensor(2.0)])
    with pytest.raises(RuntimeError, match="non-empty"):
        bw.cat([])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack(dim, device):
    a, b = _data(2, 3), _data(2, 3)
    check_op(lambda x, y: bw.stack([x, y], dim), lambda x, y: torch.stack([x, y], dim), [a, b], device)


def test_stack_scalars_and_errors(device):
    check_op(lambda x, y: bw.stack([x, y]), lambda x, y: torch.stack([x, y]), [_data(), _data()], device)
    with pytest.raises(RuntimeError, match=r"tensor 1 has \(3,\)"):
        bw.stack([bw.ones(2), bw.ones(3)])


SPLITS = {
    "split_int": ((5, 2), lambda x: x.split(2)),
    "split_sizes": ((5, 2), lambda x: x.split([1, 4])),
    "split_dim": ((2, 7), lambda x: x.split(3, dim=1)),
    "split_exact": ((4, 2), lambda x: x.split(2)),
    "split_larger": ((3,), lambda x: x.split(5)),
    "split_empty": ((0, 2), lambda x: x.split(2)),
    "chunk": ((5, 2), lambda x: x.chunk(3)),
    "chunk_more_than_size": ((6,), lambda x: x.chunk(4)),
    "chunk_dim": ((2, 7), lambda x: x.chunk(2, dim=-1)),
    "chunk_exact": ((6, 2), lambda x: x.chunk(3)),
    "tensor_split": ((7,), lambda x: x.tensor_split(3)),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_split_chunk(name, device):
    shape, fn = SPLITS[name]
    arr = _data(*shape)
    b = fn(bw.tensor(arr, device=device))
    t = fn(torch.tensor(arr))
    assert [tuple(p.shape) for p in b] == [tuple(p.shape) for p in t]
    check_op(fn, fn, [arr], device, gradcheck=arr.size > 0)


def test_split_sizes_must_sum():
    with pytest.raises(RuntimeError, match="sum to 4"):
        bw.ones(5).split([1, 3])


def test_gather(device):
    x = _data(3, 4)
    idx0 = np.array([[0, 1, 2, 0], [2, 2, 1, 0]])
    idx1 = np.array([[3, 0], [1, 1], [0, 2]])
    check_op(lambda a, i: a.gather(0, i), lambda a, i: a.gather(0, i), [x, idx0], device)
    check_op(lambda a, i: bw.gather(a, 1, i), lambda a, i: torch.gather(a, 1, i), [x, idx1], device)
    check_op(lambda a, i: a.gather(-1, i), lambda a, i: a.gather(-1, i), [x, idx1[:2]], device)
    check_op(lambda a, i: a.T.gather(0, i), lambda a, i: a.T.gather(0, i), [x, idx1[:, :1]], device)
    # repeated indices accumulate in backward
    check_op(lambda a, i: a.gather(1, i), lambda a, i: a.gather(1, i),
             [x, np.array([[1, 1, 1], [0, 0, 3], [2, 2, 2]])], device)


def test_gather_errors():
    with pytest.raises(RuntimeError, match="dimensions"):
        bw.ones(3, 4).gather(0, bw.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="integer"):
        bw.ones(3, 4).gather(0, bw.tensor([[0.0]]))


def test_scatter_add(device):
    x = _data(3, 5)
    src = _data(2, 5)
    idx = np.array([[0, 1, 2, 0, 0], [2, 0, 0, 1, 2]])
    check_op(lambda a, i, s: a.scatter_add(0, i, s), lambda a, i, s: a.scatter_add(0, i, s), [x, idx, src],
             device)
    idx1 = np.array([[0, 0, 4], [1, 1, 1]])
    check_op(lambda a, i, s: bw.scatter_add(a, 1, i, s), lambda a, i, s: torch.scatter_add(a, 1, i, s),
             [_data(2, 5), idx1, _data(2, 3)], device)
    # src larger than index: only the leading part is used (PyTorch's backward rejects this case)
    check_against_torch(lambda a, i, s: a.scatter_add(1, i, s), lambda a, i, s: a.scatter_add(1, i, s),
                        [_data(2, 5), idx1, _data(2, 4)], device, grad=False)
    gradcheck_arrays(lambda a, i, s: a.scatter_add(1, i, s), [_data(2, 5), idx1, _data(2, 4)], device)
    gradgradcheck_arrays(lambda a, i, s: a.scatter_add(1, i, s), [_data(2, 5), idx1, _data(2, 4)], device)


def test_scatter(device):
    x = _data(3, 5)
    idx = np.array([[0, 1, 2, 0, 1]])
    check_op(lambda a, i, s: a.scatter(0, i, s), lambda a, i, s: a.scatter(0, i, s),
             [x, idx, _data(1, 5)], device)
    check_against_torch(lambda a, i: a.scatter(1, i, 2.5), lambda a, i: a.scatter(1, i, 2.5),
                        [x, np.array([[0], [4], [2]])], device)
    check_double_against_torch(lambda a, i: a.scatter(1, i, 2.5), lambda a, i: a.scatter(1, i, 2.5),
                               [x, np.array([[0], [4], [2]])], device)
    gradgradcheck_arrays(lambda a, i: a.scatter(1, i, 2.5), [x, np.array([[0], [4], [2]])], device)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_index_select(dim, device):
    x = _data(4, 3)
    idx = np.array([2, 0, 2])
    check_op(lambda a, i: a.index_select(dim, i), lambda a, i: a.index_select(dim, i), [x, idx], device)
    check_op(lambda a, i: bw.index_select(a, dim, i), lambda a, i: torch.index_select(a, dim, i),
             [x, np.array([], dtype=np.int64)], device, gradcheck=False)


def test_index_select_out_of_range():
    with pytest.raises(IndexError, match="out of range"):
        bw.ones(3).index_select(0, bw.tensor([3]))


INDEXES = {
    "int": ((4, 3), lambda x: x[1]),
    "negative_int": ((4, 3), lambda x: x[-1]),
    "two_ints": ((4, 3), lambda x: x[1, 2]),
    "slice": ((6, 3), lambda x: x[1:4]),
    "slice_step": ((7, 3), lambda x: x[::2]),
    "slice_step_offset": ((7, 5), lambda x: x[1::3, 4:0:-2] if isinstance(x, bw.Tensor) else
                          x[1::3].flip(1)[:, 0:4:2]),
    "negative_slice": ((6,), lambda x: x[-4:-1]),
    "none": ((4, 3), lambda x: x[None]),
    "none_middle": ((4, 3), lambda x: x[:, None, 1:]),
    "ellipsis": ((2, 3, 4), lambda x: x[..., 1]),
    "ellipsis_none": ((2, 3, 4), lambda x: x[0, ..., None]),
    "int_list": ((5, 3), lambda x: x[[0, 2, 4]]),
    "int_tensor_repeats": ((5, 3), lambda x: x[x.new_tensor([1, 1, 3, 1]).long()]),
    "int_tensor_2d": ((5, 3), lambda x: x[x.new_tensor([[0, 1], [1, 4]]).long()]),
    "two_int_tensors": ((5, 3), lambda x: x[x.new_tensor([0, 2, 0]).long(), x.new_tensor([1, 1, 1]).long()]),
    "int_tensor_and_slice": ((5, 3), lambda x: x[1:, x.new_tensor([2, 0, 2]).long()]),
    "bool_mask": ((4, 3), lambda x: x[x > 0]),
    "bool_row_mask": ((4, 3), lambda x: x[x.new_tensor([1, 0, 1, 1]).bool()]),
    "bool_mask_2d_on_3d": ((2, 3, 2), lambda x: x[x.sum(-1) > 0]),
    "scalar_tensor_index": ((4, 3), lambda x: x[x.new_tensor(2).long()]),
    "empty_slice": ((4, 3), lambda x: x[2:2]),
    "of_scalar": ((), lambda x: x[None]),
    "of_scalar_ellipsis": ((), lambda x: x[...]),
}


@pytest.mark.parametrize("name", list(INDEXES))
def test_getitem(name, device):
    shape, fn = INDEXES[name]
    check_op(fn, fn, [_data(*shape)], device)


def test_getitem_non_contiguous(device):
    check_op(lambda x: x.T[1:, [0, 0, 2]], lambda x: x.T[1:, [0, 0, 2]], [_data(3, 4)], device)


def test_getitem_out_of_bounds_names_shape():
    with pytest.raises(IndexError, match=r"shape \(3, 2\)"):
        bw.ones(3, 2)[3]
    with pytest.raises(IndexError, match="long, int or bool"):
        bw.ones(3)[bw.tensor([0.0])]


SETITEMS = {
    "int_scalar": ((4, 3), lambda x, v: _set(x, 1, 2.5)),
    "slice_tensor": ((4, 3), lambda x, v: _set(x, slice(1, 3), v[:2])),
    "broadcast_row": ((4, 3), lambda x, v: _set(x, (slice(None), 0), v[0, 0])),
    "step": ((4, 3), lambda x, v: _set(x, slice(None, None, 2), v[:2])),
    "mask": ((4, 3), lambda x, v: _set(x, x > 0.5, 0.0)),
    "int_array": ((4, 3), lambda x, v: _set(x, [0, 2], v[:2])),
    "ellipsis": ((4, 3), lambda x, v: _set(x, (Ellipsis, 1), v[:, 0])),
}


def _set(x, index, value):
    if isinstance(index, list):
        index = x.new_tensor(index).long()
    y = x * 1  # a non-leaf, so in-place assignment is allowed inside the graph
    y[index] = value
    return y * 2


@pytest.mark.parametrize("name", list(SETITEMS))
def test_setitem_in_graph(name, device):
    shape, fn = SETITEMS[name]
    check_op(fn, fn, [_data(*shape), _data(4, 3)], device)


def test_setitem_outside_graph(device):
    a = np.arange(12.0).reshape(4, 3)
    b, t = bw.tensor(a, device=device), torch.tensor(a)
    for index, value in [((1, 2), 7.0), (slice(None, None, 2), -1.0), ((Ellipsis, 0), 3.0)]:
        b[index] = value
        t[index] = value
    b[b > 5] = 0.0
    t[t > 5] = 0.0
    b[bw.tensor([0, 3], device=device)] = bw.tensor([9.0, 8.0, 7.0], device=device)
    t[torch.tensor([0, 3])] = torch.tensor([9.0, 8.0, 7.0], dtype=torch.float64)
    assert b.tolist() == t.tolist()
    ints = bw.zeros(3, dtype=bw.int64, device=device)
    ints[1] = 2.7  # cast to the tensor's dtype, as in PyTorch
    assert ints.tolist() == [0, 2, 0]


def test_setitem_on_leaf_requiring_grad_raises(device):
    x = bw.ones(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 2.0
    with bw.no_grad():
        x[0] = 2.0
    assert x.tolist() == [2.0, 1.0, 1.0]


def test_setitem_value_requires_grad_into_plain_tensor(device):
    v = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    x = bw.zeros(4, device=device)
    x[1:3] = v * 3
    assert x.requires_grad
    x.sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]


def test_masked_fill_and_where_broadcast_in_graph(device):
    x = _data(3, 4)
    check_op(lambda a: a.masked_fill(a > 0, 0.0).sum(0), lambda a: a.masked_fill(a > 0, 0.0).sum(0), [x],
             device)


def test_nonzero(device):
    a = np.array([[0.0, 1.0], [2.0, 0.0]])
    check_against_torch(lambda x: x.nonzero(), lambda x: x.nonzero(), [a], device, grad=False)
    check_against_torch(lambda x: x.nonzero(as_tuple=True), lambda x: x.nonzero(as_tuple=True), [a], device,
                        grad=False)


def test_pad(device):
    import torch.nn.functional as F

    x = _data(2, 3, 4)
    for args in ([(1, 2)], [(1, 1, 2, 0)], [(-1, 2)]):
        check_op(lambda a: bw.pad(a, *args), lambda a: F.pad(a, *args), [x], device)
    for mode in ("reflect", "replicate", "circular"):
        check_op(lambda a: bw.pad(a, (2, 1), mode=mode), lambda a: F.pad(a, (2, 1), mode=mode), [x], device)
    check_op(lambda a: bw.pad(a, (1, 1), value=2.5), lambda a: F.pad(a, (1, 1), value=2.5), [x], device)


def test_composite_shape_pipeline_gradcheck(device):
    gradcheck_arrays(lambda x: x.T.reshape(2, 6)[:, ::2].flip(0).repeat(2, 1).cumsum(1).sum(0), [_data(4, 3)],
                     device)
    # squared, so that the second derivatives go through every op's recorded backward
    gradgradcheck_arrays(lambda x: (x.T.reshape(2, 6)[:, ::2].flip(0).repeat(2, 1).cumsum(1) ** 2).sum(0),
                         [_data(4, 3)], device)


def test_zero_dim_inputs(device):
    s = _data()
    zero = np.array(0)
    check_op(lambda x: x.flip(0), lambda x: x.flip(0), [s], device)
    check_op(lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i), [s, zero], device)
    check_op(lambda x, i: x.index_select(0, i), lambda x, i: x.index_select(0, i), [s, np.array([0])], device)
    check_op(lambda x: x.squeeze(0).unsqueeze(-1), lambda x: x.squeeze(0).unsqueeze(-1), [s], device)
    check_op(lambda x: x.transpose(0, -1), lambda x: x.transpose(0, -1), [s], device)


SHAPE_NUMPY_NAMES = ["squeeze(axis=0)", "unsqueeze(axis=1)", "chunk(2, axis=1)",
                     "repeat_interleave(2, axis=0)", "unbind(axis=1)", "narrow(axis=1, start=0, length=2)",
                     "reshape(shape=(3, 2))",
                     "permute(dims=(1, 0))", "flip(dims=(0,))", "roll(1, dims=0)", "unflatten(1, (3, 1))"]


@pytest.mark.parametrize("call", SHAPE_NUMPY_NAMES)
def test_shape_ops_accept_pytorch_keywords(call, device):
    def fn(x):
        return eval(f"x.{call}")

    check_op(fn, fn, [_data(2, 3)], device, gradcheck=False)


def test_cat_stack_with_axis(device):
    a, b = _data(2, 3), _data(2, 3)
    check_op(lambda x, y: bw.cat((x, y), axis=1), lambda x, y: torch.cat((x, y), axis=1), [a, b], device,
             gradcheck=False)
    check_op(lambda x, y: bw.stack([x, y], axis=2), lambda x, y: torch.stack([x, y], axis=2), [a, b], device,
             gradcheck=False)


def test_broadcast_and_stacking_helpers(device):
    a, b = _data(3, 1), _data(4)
    check_op(lambda x: x.broadcast_to((2, 3, 4)), lambda x: x.broadcast_to((2, 3, 4)), [a], device)
    check_op(lambda x, y: bw.broadcast_tensors(x, y), lambda x, y: torch.broadcast_tensors(x, y), [a, b],
             device)
    c, d = _data(2, 3), _data(2, 2)
    check_op(lambda x, y: bw.hstack([x, y]), lambda x, y: torch.hstack([x, y]), [c, d], device)
    check_op(lambda x, y: bw.vstack([x, y]), lambda x, y: torch.vstack([x, y]), [_data(3), _data(2, 3)],
             device)
    check_op(lambda x, y: bw.concat([x, y], 1), lambda x, y: torch.concat([x, y], 1), [c, d], device)
    check_op(bw.fliplr, torch.fliplr, [c], device)
    check_op(bw.flipud, torch.flipud, [c], device)
    check_op(lambda x: x.swapaxes(0, 1), lambda x: x.swapaxes(0, 1), [c], device)
    for args, idx in [((1,), np.array([[2], [0]])), ((0,), np.array([[1, 0, 1]])), ((), np.array([5, 0]))]:
        check_op(lambda x, i: x.take_along_dim(i, *args), lambda x, i: x.take_along_dim(i, *args), [c, idx],
                 device)
        check_op(lambda x, i: bw.take_along_dim(x, i, *args), lambda x, i: torch.take_along_dim(x, i, *args),
                 [c, idx], device, gradcheck=False)


def test_ravel_select_moveaxis_stride(device):
    x = _data(2, 3, 4)
    def moveaxis(t):
        return (bw if isinstance(t, bw.Tensor) else torch).moveaxis(t, (0, 1), (2, 0))

    for fn in (lambda t: t.ravel(), lambda t: t.transpose(0, 2).ravel(), lambda t: t.select(1, 2),
               lambda t: t.select(-1, -1), lambda t: t.moveaxis(0, -1), moveaxis):
        check_op(fn, fn, [x], device)
    b, t = bw.tensor(x, device=device), torch.tensor(x)
    assert b.stride() == t.stride() and b.transpose(0, 2).stride() == t.transpose(0, 2).stride()
    assert b[:, ::2].stride(1) == t[:, ::2].stride(1)
    assert b.get_device() == (-1 if device.type == "cpu" else device.index)
    with pytest.raises(IndexError, match="out of range"):
        b.select(0, 2)
