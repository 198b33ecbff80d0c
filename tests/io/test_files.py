"""bw.save / bw.load: round trips, tying, errors before writing, interop, devices, mmap."""

from __future__ import annotations

import io
import math
import mmap
import os
import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import brickwork as bw
from brickwork import nn

ALL_DTYPES = [bw.bool, bw.uint8, bw.int8, bw.int16, bw.int32, bw.int64, bw.float16, bw.float32,
              bw.float64]
SHAPES = [(), (0,), (3,), (2, 0, 3), (2, 3, 4)]


def random_array(shape, dtype, rng):
    np_dtype = dtype.np
    if np_dtype.kind == "b":
        return np.asarray(rng.random(shape) > 0.5)
    if np_dtype.kind in "iu":
        info = np.iinfo(np_dtype)
        return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=np_dtype, endpoint=True))
    return np.asarray(rng.standard_normal(shape)).astype(np_dtype)


def assert_same_tensor(a, b):
    assert isinstance(b, bw.Tensor)
    assert a.dtype is b.dtype and tuple(a.shape) == tuple(b.shape)
    # bit-exact, NaN payloads included
    assert a.numpy().tobytes() == b.numpy().tobytes()


def roundtrip(obj, tmp_path, **load_kwargs):
    path = tmp_path / "obj.safetensors"
    bw.save(obj, path)
    return bw.load(path, **load_kwargs)


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: d.name)
def test_tensor_every_dtype_and_shape_bit_exact(dtype, tmp_path):
    rng = np.random.default_rng(0)
    tensors = [bw.from_numpy(random_array(shape, dtype, rng)) for shape in SHAPES]
    back = roundtrip(tensors, tmp_path)
    assert isinstance(back, list) and len(back) == len(tensors)
    for a, b in zip(tensors, back):
        assert_same_tensor(a, b)


def test_single_tensor_and_special_floats(tmp_path):
    x = bw.tensor([math.nan, math.inf, -math.inf, -0.0, 1e-45], dtype=bw.float32)
    back = roundtrip(x, tmp_path)
    assert_same_tensor(x, back)
    assert back.requires_grad is False


def test_non_contiguous_views_are_saved_by_value(tmp_path):
    base = bw.arange(24.0).reshape(4, 6)
    views = {"t": base.t(), "slice": base[:, 1:5:2], "flip": base.flip(0)}
    back = roundtrip(views, tmp_path)
    for k, v in views.items():
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_nested_containers_and_scalars(tmp_path):
    t = bw.arange(3)
    obj = {
        "a": [1, 2.5, -0.0, True, False, None, "text ünïcode", (t, ("x", [None]))],
        7: {"nested": {"deep": [[[t * 2]]]}},
        "inf": [math.inf, -math.inf],
        "big": 2**70,
        "empty": [[], (), {}],
        "": "empty key",
    }
    back = roundtrip(obj, tmp_path)
    assert list(back) == ["a", 7, "inf", "big", "empty", ""]
    a = back["a"]
    assert a[:7] == [1, 2.5, -0.0, True, False, None, "text ünïcode"]
    assert type(a[0]) is int and type(a[1]) is float and type(a[3]) is bool
    assert math.copysign(1.0, a[2]) == -1.0
    assert isinstance(a[7], tuple) and isinstance(a[7][1], tuple) and a[7][1][1] == [None]
    assert_same_tensor(t, a[7][0])
    assert_same_tensor(t * 2, back[7]["nested"]["deep"][0][0][0])
    assert back["inf"] == [math.inf, -math.inf]
    assert back["big"] == 2**70
    assert back["empty"] == [[], (), {}] and isinstance(back["empty"][1], tuple)
    assert back[""] == "empty key"
    nan = roundtrip([math.nan], tmp_path)[0]
    assert math.isnan(nan)


def test_checkpoint_with_optimizer_state(tmp_path):
    model = nn.Sequential(OrderedDict(a=nn.ParameterList([nn.Parameter(bw.randn(3, 2))])))
    opt = bw.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model.a[0].sum().backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3, "hist": [0.5, 0.25]}
    back = roundtrip(ckpt, tmp_path)
    assert back["epoch"] == 3 and back["hist"] == [0.5, 0.25]
    assert back["optim"]["param_groups"] == ckpt["optim"]["param_groups"]  # tuples, floats, ints
    assert isinstance(back["optim"]["param_groups"][0]["betas"], tuple)
    assert list(back["optim"]["state"]) == [0]  # int keys stay ints
    for key, value in ckpt["optim"]["state"][0].items():
        assert_same_tensor(value, back["optim"]["state"][0][key])
    opt2 = bw.optim.Adam(model.parameters(), lr=0.5)
    opt2.load_state_dict(back["optim"])
    assert opt2.param_groups[0]["lr"] == 0.01
    model.load_state_dict(back["model"])


def test_flat_state_dict_is_plain_safetensors_with_exact_keys(tmp_path):
    sd = OrderedDict((k, bw.randn(2, 3)) for k in ["z.weight", "a.bias", "m.0.weight"])
    path = tmp_path / "sd.safetensors"
    bw.save(sd, path)
    plain = safetensors.numpy.load_file(path)
    assert sorted(plain) == sorted(sd)
    for k in sd:
        np.testing.assert_array_equal(plain[k], sd[k].numpy())
    back = bw.load(path)
    assert type(back) is dict and list(back) == list(sd)  # order kept
    from_torch = safetensors.torch.load_file(path)
    for k in sd:
        np.testing.assert_array_equal(from_torch[k].numpy(), sd[k].numpy())


def test_nested_tensor_names_are_dotted_paths(tmp_path):
    t = bw.ones(2)
    path = tmp_path / "n.safetensors"
    bw.save({"model": {"fc.weight": t * 1}, "hist": [t * 2], "__metadata__": t * 3}, path)
    names = set(safetensors.numpy.load_file(path))
    assert names == {"model.fc.weight", "hist.0", "__metadata__#1"}
    back = bw.load(path)
    assert back["__metadata__"].tolist() == [3.0, 3.0]
    bw.save(t, path)
    assert set(safetensors.numpy.load_file(path)) == {"tensor"}


def test_colliding_names_get_suffixes(tmp_path):
    obj = {"a.b": bw.zeros(1), "a": {"b": bw.ones(1)}}
    back = roundtrip(obj, tmp_path)
    assert back["a.b"].tolist() == [0.0] and back["a"]["b"].tolist() == [1.0]


# -- tying --------------------------------------------------------------------------


def test_same_tensor_twice_written_once_and_restored_as_one_object(tmp_path):
    w = bw.randn(4, 4)
    obj = {"enc": w, "dec": w, "list": [w, w]}
    path = tmp_path / "tied.safetensors"
    bw.save(obj, path)
    assert set(safetensors.numpy.load_file(path)) == {"enc"}
    back = bw.load(path)
    assert back["enc"] is back["dec"] is back["list"][0] is back["list"][1]
    assert_same_tensor(w, back["enc"])


def test_tied_model_state_dict_round_trip_keeps_tie(tmp_path):
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ParameterList([nn.Parameter(bw.randn(3, 3))])
            self.dec = nn.ParameterList()
            self.dec.append(self.enc[0])

    model = Tied()
    sd = model.state_dict()
    assert sd["enc.0"] is sd["dec.0"]
    back = roundtrip(sd, tmp_path)
    assert back["enc.0"] is back["dec.0"]
    fresh = Tied()
    fresh.load_state_dict(back)
    assert fresh.enc[0] is fresh.dec[0]
    assert_same_tensor(model.enc[0].detach(), fresh.enc[0].detach())


def test_same_memory_views(tmp_path):
    w = bw.randn(4, 4)
    d1, d2 = w.detach(), w.detach()  # distinct objects, identical view: aliased
    part = w[1:3]  # overlaps but is a different view: an independent copy
    back = roundtrip({"w": w, "d1": d1, "d2": d2, "part": part}, tmp_path)
    assert back["w"] is back["d1"] is back["d2"]
    assert back["part"] is not back["w"]
    np.testing.assert_array_equal(back["part"].numpy(), w.numpy()[1:3])
    with bw.no_grad():
        back["part"].fill_(0)
    assert back["w"].numpy()[1].any()  # separate storage after loading


def test_requires_grad_and_parameters_come_back(tmp_path):
    p = nn.Parameter(bw.randn(2))
    leaf = bw.randn(2, requires_grad=True)
    frozen = nn.Parameter(bw.randn(2), requires_grad=False)
    back = roundtrip([p, leaf, frozen, p], tmp_path)
    assert isinstance(back[0], nn.Parameter) and back[0].requires_grad and back[3] is back[0]
    assert type(back[1]) is bw.Tensor and back[1].requires_grad and back[1].is_leaf
    assert isinstance(back[2], nn.Parameter) and not back[2].requires_grad


def test_non_leaf_tensors_are_saved_by_value(tmp_path):
    x = bw.randn(3, requires_grad=True)
    y = x * 2
    back = roundtrip(y, tmp_path)
    assert back.grad_fn is None and back.is_leaf
    np.testing.assert_array_equal(back.numpy(force=True), y.detach().numpy())


# -- bad objects: TypeError naming type and place, nothing written -----------------


@pytest.mark.parametrize(
    "obj, where, kind",
    [
        ({"a": 1, "b": [1, object()]}, "obj['b'][1]", "object"),
        ({"f": lambda x: x}, "obj['f']", "function"),
        ([nn.Sequential()], "obj[0]", "Sequential"),
        ({"arr": np.zeros(2)}, "obj['arr']", "ndarray"),
        ({"s": np.float32(1)}, "obj['s']", "float32"),
        ({"set": {1, 2}}, "obj['set']", "set"),
        ((b"bytes",), "obj[0]", "bytes"),
        ({"c": 1j}, "obj['c']", "complex"),
    ],
)
def test_unsupported_objects_raise_type_error_and_write_nothing(obj, where, kind, tmp_path):
    path = tmp_path / "x.safetensors"
    path.write_bytes(b"old")
    with pytest.raises(TypeError) as info:
        bw.save(obj, path)
    message = str(info.value)
    assert where in message and kind in message and "Nothing was written" in message
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["x.safetensors"]


def test_bad_dict_keys_cycles_and_pending_parameters(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"dict key 1.5 of type float at obj\['d'\]"):
        bw.save({"d": {1.5: 1}}, path)
    cyclic = [1]
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="circular"):
        bw.save({"c": cyclic}, path)
    with pytest.raises(ValueError, match=r"obj\['w'\] is a pending"):
        bw.save({"w": nn.Parameter.pending((3, None))}, path)
    deep = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValueError, match="nested deeper"):
        bw.save(deep, path)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_shared_containers_are_written_twice(tmp_path):
    inner = [1, 2]
    back = roundtrip([inner, inner], tmp_path)
    assert back == [[1, 2], [1, 2]] and back[0] is not back[1]


# -- paths and file objects ---------------------------------------------------------


def test_str_path_and_file_objects(tmp_path):
    obj = {"w": bw.randn(3), "n": 1}
    path = str(tmp_path / "s.safetensors")
    bw.save(obj, path)
    assert bw.load(path)["n"] == 1
    with open(path, "rb") as fh:
        back = bw.load(fh)
    assert_same_tensor(obj["w"], back["w"])
    with open(tmp_path / "f.safetensors", "wb") as fh:
        bw.save(obj, fh)
    assert_same_tensor(obj["w"], bw.load(tmp_path / "f.safetensors")["w"])
    buffer = io.BytesIO()
    bw.save(obj, buffer)
    buffer.seek(0)
    back = bw.load(buffer)
    assert_same_tensor(obj["w"], back["w"])
    back["w"].add_(1)  # loaded arrays are writable
    with pytest.raises(TypeError, match="path"):
        bw.save(obj, 42)
    with pytest.raises(TypeError, match="path"):
        bw.load(3.5)
    with pytest.raises(ValueError, match="mmap=True needs a path"):
        bw.load(io.BytesIO(buffer.getvalue()), mmap=True)


class _Stream(io.RawIOBase):
    """A non-seekable stream delivering a few bytes per read."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = 7 if n < 0 else min(n, 7)
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


def test_non_seekable_stream(tmp_path):
    buffer = io.BytesIO()
    obj = [bw.randn(40), "x"]
    bw.save(obj, buffer)
    back = bw.load(_Stream(buffer.getvalue()))
    assert_same_tensor(obj[0], back[0])
    with pytest.raises(bw.io.FileFormatError, match="truncated"):
        bw.load(_Stream(buffer.getvalue()[:-3]))


def test_symlinked_target_is_replaced_through_the_link(tmp_path):
    real = tmp_path / "real.safetensors"
    link = tmp_path / "link.safetensors"
    bw.save([1], real)
    link.symlink_to(real)
    bw.save([2], link)
    assert link.is_symlink() and bw.load(real) == [2]


def test_saving_onto_a_directory_fails_cleanly(tmp_path):
    with pytest.raises(IsADirectoryError):
        bw.save([1], tmp_path)
    assert os.listdir(tmp_path) == []


def test_existing_file_mode_is_kept(tmp_path):
    path = tmp_path / "m.safetensors"
    bw.save([1], path)
    os.chmod(path, 0o640)
    bw.save([2], path)
    assert (os.stat(path).st_mode & 0o777) == 0o640


# -- devices --------------------------------------------------------------------------


def test_map_location_and_device_arguments(tmp_path):
    path = tmp_path / "d.safetensors"
    bw.save({"w": bw.ones(2)}, path)
    for kwargs in ({}, {"map_location": "cpu"}, {"device": "cpu"}, {"map_location": bw.device("cpu")},
                   {"map_location": {"cuda:0": "cpu"}}):
        assert bw.load(path, **kwargs)["w"].device == bw.device("cpu")
    with pytest.raises(ValueError, match="not both"):
        bw.load(path, map_location="cpu", device="cpu")
    with pytest.raises(TypeError, match="map_location"):
        bw.load(path, map_location=lambda storage, loc: storage)
    assert bw.load(path, weights_only=True)["w"].tolist() == [1.0, 1.0]


@pytest.mark.skipif(bw.cuda.device_count() > 0, reason="checks the error on a machine without CUDA")
def test_file_saved_from_gpu_needs_map_location_without_cuda(tmp_path):
    path = tmp_path / "g.safetensors"
    bw.save({"w": bw.ones(2)}, path)
    # rewrite the structure as if the tensor had been saved from cuda:0
    header = safetensors.numpy.load_file(path)
    from brickwork.io.files import STRUCTURE_KEY, VERSION_KEY

    structure = '{"dict":[["w",{"tensor":"w","device":"cuda:0"}]]}'
    safetensors.numpy.save_file(header, path, metadata={VERSION_KEY: "1", STRUCTURE_KEY: structure})
    with pytest.raises(RuntimeError, match=r"cuda:0.*map_location='cpu'"):
        bw.load(path)
    assert bw.load(path, map_location="cpu")["w"].device == bw.device("cpu")
    assert bw.load(path, map_location={"cuda:0": "cpu"})["w"].tolist() == [1.0, 1.0]


def test_gpu_round_trip(tmp_path, device):
    if device.type != "cuda":
        pytest.skip("needs a GPU (run with --device cuda)")
    w = bw.randn(3, 4, device=device)
    back = roundtrip({"w": w, "tied": w, "host": bw.ones(2)}, tmp_path)
    assert back["w"].device == device and back["tied"] is back["w"]
    assert back["host"].device == bw.device("cpu")
    np.testing.assert_array_equal(back["w"].cpu().numpy(), w.cpu().numpy())
    on_cpu = bw.load(tmp_path / "obj.safetensors", map_location="cpu")
    assert on_cpu["w"].device == bw.device("cpu")
    moved = bw.load(tmp_path / "obj.safetensors", map_location=device)
    assert moved["host"].device == device


# -- mmap -------------------------------------------------------------------------------


def _rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_mmap_loads_lazily_and_shares_pages(tmp_path):
    path = tmp_path / "big.safetensors"
    n = 16 * 1024 * 1024  # 64 MiB of float32
    big = bw.from_numpy(np.arange(n, dtype=np.float32))
    bw.save({"big": big, "small": bw.ones(3)}, path)
    del big
    before = _rss_bytes()
    back = bw.load(path, mmap="lazy")
    grown = _rss_bytes() - before
    assert grown < 8 * 1024 * 1024, f"mmap load grew RSS by {grown} bytes"
    base = back["big"]._data
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    assert back["big"][n - 1].item() == n - 1
    back["small"].add_(1)  # copy-on-write: private to this process
    assert bw.load(path)["small"].tolist() == [1.0, 1.0, 1.0]
    assert back["small"].tolist() == [2.0, 2.0, 2.0]


def test_mmap_matches_normal_load(tmp_path):
    obj = {"a": bw.randn(5, 3), "e": bw.zeros(0, 2), "b": bw.tensor([True, False]), "s": bw.tensor(3.5)}
    path = tmp_path / "m.safetensors"
    bw.save(obj, path)
    normal = bw.load(path)
    for mapped in (bw.load(path, mmap=True), bw.load(path, mmap="lazy")):
        for k in obj:
            assert_same_tensor(normal[k], mapped[k])


# -- PyTorch interop ---------------------------------------------------------------------


def test_pytorch_safetensors_file_loads_into_brickwork(tmp_path):
    torch.manual_seed(0)
    sd = {
        "fc.weight": torch.randn(4, 3),
        "fc.bias": torch.randn(4),
        "bn.num_batches_tracked": torch.tensor(7),
        "mask": torch.tensor([True, False]),
        "half": torch.randn(2).half(),
        "double": torch.randn(2, dtype=torch.float64),
    }
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(sd, path)
    back = bw.load(path)
    assert set(back) == set(sd)
    for k, v in sd.items():
        assert isinstance(back[k], bw.Tensor)
        assert str(back[k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1].replace("float16", "float16")
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())


def test_brickwork_file_loads_in_pytorch(tmp_path):
    sd = {"w": bw.randn(3, 2), "i": bw.arange(4), "b": bw.tensor([True])}
    path = tmp_path / "bw.safetensors"
    bw.save(sd, path)
    loaded = safetensors.torch.load_file(path)
    assert set(loaded) == set(sd)
    for k in sd:
        np.testing.assert_array_equal(loaded[k].numpy(), sd[k].numpy())
    assert loaded["i"].dtype == torch.int64 and loaded["b"].dtype == torch.bool


def test_bfloat16_from_pytorch_is_rejected_with_advice(tmp_path):
    path = tmp_path / "bf16.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, path)
    with pytest.raises(bw.io.FileFormatError, match=r"'w'.*BF16.*\.float\(\)"):
        bw.load(path)


def test_text_mode_file_objects_are_refused(tmp_path):
    path = tmp_path / "t.safetensors"
    bw.save([1], path)
    with open(path, encoding="latin-1") as fh, pytest.raises(TypeError, match="text mode"):
        bw.load(fh)


# -- non-regular files, files changed under a mapping, text that is not Unicode (issue 12) ------


def test_loading_a_device_says_it_is_not_a_regular_file():
    with pytest.raises(bw.io.FileFormatError, match="'/dev/zero' is a character device, not a regular"):
        bw.load("/dev/zero")


FIFO_LOAD_SCRIPT = """
import os, sys
import brickwork as bw
path = sys.argv[1]
os.mkfifo(path)
try:
    bw.load(path)  # must not wait for a writer
except bw.io.FileFormatError as exc:
    print(exc)
"""


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_loading_a_fifo_is_refused_without_waiting(tmp_path):
    result = subprocess.run([sys.executable, "-c", FIFO_LOAD_SCRIPT, str(tmp_path / "pipe")],
                            capture_output=True, text=True, timeout=30)
    assert "is a FIFO (named pipe), not a regular file" in result.stdout, result.stdout + result.stderr


def test_loading_a_directory_is_an_is_a_directory_error(tmp_path):
    with pytest.raises(IsADirectoryError):
        bw.load(tmp_path)


CHANGED_UNDER_MAPPING_SCRIPT = """
import os, sys
import numpy as np
import brickwork as bw

path, how, mode = sys.argv[1], sys.argv[2], sys.argv[3]
mmap = {"true": True, "lazy": "lazy"}[mode]
n = 1 << 20
bw.save({"w": bw.from_numpy(np.arange(n, dtype=np.float32)), "tag": "old"}, path)
back = bw.load(path, mmap=mmap)
if how == "truncate":
    os.truncate(path, 0)
elif how == "rewrite":  # in place, as open(path, "wb") would
    with open(path, "wb") as fh:
        fh.write(b"x" * 100)
else:  # how bw.save replaces a file: a new file renamed over the old one
    bw.save({"w": bw.zeros(3), "tag": "new"}, path)
w = back["w"].numpy()
print(back["tag"], w.shape[0] == n and bool((w == np.arange(n, dtype=np.float32)).all()))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="SIGBUS on a truncated mapping is POSIX behaviour")
@pytest.mark.parametrize("how", ["truncate", "rewrite", "save"])
def test_file_changed_after_an_mmap_load_never_crashes(how, tmp_path):
    path = str(tmp_path / "m.safetensors")
    result = subprocess.run([sys.executable, "-c", CHANGED_UNDER_MAPPING_SCRIPT, path, how, "true"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.returncode, result.stderr)  # -7 would be SIGBUS
    assert result.stdout.split() == ["old", "True"], result.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="needs POSIX mappings")
def test_lazy_mapping_survives_bw_save_over_the_file(tmp_path):
    # the documented promise of mmap="lazy": bw.save renames a new file over the old one,
    # so the mapping keeps the old file's pages
    path = str(tmp_path / "m.safetensors")
    result = subprocess.run([sys.executable, "-c", CHANGED_UNDER_MAPPING_SCRIPT, path, "save", "lazy"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (result.returncode, result.stderr)
    assert result.stdout.split() == ["old", "True"], result.stdout


def test_mmap_argument_is_checked(tmp_path):
    path = tmp_path / "a.safetensors"
    bw.save([1], path)
    with pytest.raises(ValueError, match="mmap must be False, True or 'lazy'"):
        bw.load(path, mmap="yes")


@pytest.mark.parametrize("obj, where", [
    (["ok", "bad\udc80"], "obj[1]"),
    ({"k\ud800": bw.ones(1)}, "obj"),
    ({"a": [{"b": "\udfff"}]}, "obj['a'][0]['b']"),
])
def test_strings_with_lone_surrogates_are_a_type_error(obj, where, tmp_path):
    path = tmp_path / "s.safetensors"
    expected = rf"at {re.escape(where)} holds a lone surrogate.*nothing was written"
    with pytest.raises(TypeError, match=expected):
        bw.save(obj, path)
    with pytest.raises(TypeError, match="lone surrogate"):
        bw.save(obj, io.BytesIO())
    assert not path.exists()
