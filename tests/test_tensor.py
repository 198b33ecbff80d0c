"""The Tensor: attributes, conversions, Python protocols, devices and dtypes through .to()."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork.autograd import _wrap


def test_shape_size_dim_numel(device):
    x = bw.zeros(2, 3, 4, device=device)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, bw.Size) and x.size() == x.shape
    assert x.size(1) == 3 and x.size(-1) == 4 and x.shape[1:] == (3, 4) and isinstance(x.shape[1:], bw.Size)
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and x.nelement() == 24 and bw.numel(x) == 24
    assert repr(x.shape) == "brickwork.Size([2, 3, 4])" and x.shape.numel() == 24
    assert bw.tensor(1.0, device=device).shape == () and bw.tensor(1.0).dim() == 0
    with pytest.raises(IndexError, match="dimension out of range"):
        x.size(3)
    assert x.element_size() == 4 and x.is_floating_point() and x.is_contiguous()
    assert not x.transpose(0, 1).is_contiguous()


def test_dtype_device_and_grad_attributes(device):
    x = bw.ones(2, device=device, requires_grad=True)
    assert x.dtype is bw.float32 and x.device == device and x.device is device
    assert x.requires_grad and x.grad is None and x.grad_fn is None and x.is_leaf
    assert x.is_cuda == (device.type == "cuda")
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        x.grad = bw.ones(3, device=device)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = np.ones(2)


def test_item_tolist_numpy(device):
    x = bw.tensor([[1.5, 2.0], [3.0, 4.0]], device=device)
    assert x.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert x[0, 1].item() == 2.0 and isinstance(x[0, 1].item(), float)
    assert bw.tensor([7], device=device).item() == 7 and isinstance(bw.tensor([7]).item(), int)
    assert bw.tensor(True).item() is True
    with pytest.raises(RuntimeError, match="4 elements"):
        x.item()
    if device.type == "cpu":
        arr = x.numpy()
        arr[0, 0] = 9.0  # shares memory on the CPU, as in PyTorch
        assert x[0, 0].item() == 9.0
        assert np.asarray(x).dtype == np.float32 and np.asarray(x, dtype=np.float64).dtype == np.float64


def test_numpy_of_tensor_requiring_grad_raises():
    x = bw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]


def test_numpy_of_gpu_tensor_says_call_cpu():
    fake_gpu = _wrap(np.ones(3, dtype=np.float32), bw.device("cuda:0"))
    with pytest.raises(TypeError, match=r"cuda:0.*\.cpu\(\)"):
        fake_gpu.numpy()
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        np.asarray(fake_gpu)


def test_python_number_protocols(device):
    one = bw.tensor([2.5], device=device)
    assert float(one) == 2.5 and int(one) == 2 and bool(one) is True and complex(one) == 2.5
    assert bool(bw.tensor(0.0, device=device)) is False
    assert [10, 20, 30][bw.tensor(1, device=device)] == 20  # __index__
    with pytest.raises(TypeError, match="integer"):
        [1, 2][bw.tensor(1.0)]
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(bw.ones(2, device=device))
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        float(bw.ones(2, device=device))
    assert f"{bw.tensor(3.14159, device=device):.2f}" == "3.14"


def test_len_and_iteration(device):
    x = bw.tensor([[1, 2], [3, 4], [5, 6]], device=device)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4], [5, 6]]
    a, b, c = bw.tensor([1.0, 2.0, 3.0], device=device)
    assert b.item() == 2.0 and b.shape == ()
    with pytest.raises(TypeError, match="0-d"):
        len(bw.tensor(1.0))
    with pytest.raises(TypeError, match="0-d"):
        iter(bw.tensor(1.0)).__next__()


def test_iteration_keeps_gradient(device):
    x = bw.tensor([1.0, 2.0], device=device, requires_grad=True)
    total = sum(v * v for v in x)
    total.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_comparisons_return_bool_tensors(device):
    x = bw.tensor([1.0, 2.0, 3.0], device=device)
    for r in (x > 2, x >= 2, x < 2, x <= 2, x == 2, x != 2, 2 < x):
        assert r.dtype is bw.bool and r.shape == (3,)
    assert (x == 2).tolist() == [False, True, False]
    assert (x == None) is False  # noqa: E711
    assert hash(x) == id(x) and x in [x] and x in {x}


def test_clone_detach_contiguous(device):
    x = bw.tensor([[1.0, 2.0], [3.0, 4.0]], device=device, requires_grad=True)
    c = x.clone()
    assert c.grad_fn is not None and c._data is not x._data
    c.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    t = x.detach().T
    assert not t.is_contiguous() and t.contiguous().is_contiguous()
    assert x.detach().contiguous()._data is x._data  # already contiguous: no copy


def test_to_dtype_device_other(device):
    x = bw.ones(2, device=device)
    assert x.to(device) is x and x.to(bw.float32) is x and x.to(device, bw.float32) is x
    assert x.to(str(device)) is x and x.to(x) is x
    assert x.to(bw.float64).dtype is bw.float64 and x.to("float64").dtype is bw.float64
    assert x.to(dtype=bw.int64).dtype is bw.int64
    assert x.to(device=device, dtype=bw.float16).dtype is bw.float16
    other = bw.zeros(1, dtype=bw.float64, device=device)
    assert x.to(other).dtype is bw.float64
    assert x.to(device, non_blocking=True) is x
    assert x.cpu().device == bw.device("cpu")
    assert x.to(device, copy=True) is not x
    with pytest.raises(TypeError, match="cannot interpret"):
        x.to([1])


def test_to_missing_cuda_raises_with_device_count():
    if bw.cuda.is_available():
        pytest.skip("this machine has a GPU")
    x = bw.ones(2)
    for fn in (lambda: x.cuda(), lambda: x.to("cuda"), lambda: x.to(bw.device("cuda", 1)), lambda: x.cuda(1)):
        with pytest.raises(RuntimeError, match=r"CUDA.*0 CUDA devices"):
            fn()


def test_new_tensor_factories(device):
    x = bw.ones(2, dtype=bw.float64, device=device)
    for t in (x.new_zeros(3), x.new_ones((3,)), x.new_full((3,), 2.0), x.new_empty(3),
              x.new_tensor([1, 2, 3])):
        assert t.dtype is bw.float64 and t.device is device and t.shape == (3,)
    assert x.new_zeros(2, dtype=bw.int64).dtype is bw.int64


def test_legacy_tensor_constructor():
    assert bw.Tensor(2, 3).shape == (2, 3) and bw.Tensor(2, 3).dtype is bw.float32
    assert bw.Tensor([1, 2]).dtype is bw.float32 and bw.Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert bw.Tensor().shape == (0,)
    assert isinstance(bw.ones(1), bw.Tensor) and bw.is_tensor(bw.ones(1)) and not bw.is_tensor(1)


def test_pickle_is_refused_and_deepcopy_works():
    x = bw.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="never uses pickle"):
        pickle.dumps(x)
    (x * 2).sum().backward()
    y = copy.deepcopy(x)
    assert y is not x and y._data is not x._data and y.requires_grad and y.grad.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="leaves"):
        copy.deepcopy(x * 2)
    shallow = copy.copy(x)
    assert shallow is not x and shallow._data is x._data and shallow.requires_grad and shallow.is_leaf
    with bw.no_grad():
        shallow[0] = 5.0
    assert x[0].item() == 5.0


def test_operators_with_numpy_operands_give_tensors():
    x = bw.ones(2)
    for r in (np.float64(2.0) * x, np.ones(2, dtype=np.float32) + x, x + np.ones(2, dtype=np.float32),
              np.int64(1) - x):
        assert isinstance(r, bw.Tensor) and r.dtype is bw.float32
    assert isinstance(np.exp(x), np.ndarray)  # NumPy functions still read the tensor through __array__


def test_tensor_method_table_matches_torch_names():
    # the common PyTorch tensor methods a tutorial uses exist under the same names
    names = """add sub mul div pow matmul exp log sum mean var std max min argmax reshape view permute
        transpose unsqueeze squeeze flatten clamp abs sqrt item tolist numpy backward detach clone to cpu
        cuda zero_ fill_ copy_ add_ mul_ requires_grad_ retain_grad register_hook gather scatter_add
        index_select masked_fill expand repeat tile split chunk softmax log_softmax norm cumsum prod all any
        logsumexp tril triu flip roll mT T float long int bool double half type new_zeros new_ones
        new_tensor""".split()
    for name in names:
        assert hasattr(bw.Tensor, name), name
        assert hasattr(torch.Tensor, name), name
