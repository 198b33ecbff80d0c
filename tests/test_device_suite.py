"""CPU and GPU give the same results: every op and layer of the test tables, and the device
behaviour of whole programs (training, optimisers, files, data loading, several GPUs, host syncs).

Two parts:

- Agreement (``test_op_agrees`` / ``test_layer_agrees``): each op of the op-test tables and each
  layer of the layer catalogue runs on the CPU and on ``cuda:0`` from the same inputs; outputs and
  gradients must match within float32 tolerance. Needs a CUDA GPU; without one these are skipped
  with the reason stated (``BRICKWORK_TEST_FAKE_CUPY=1`` runs them on CuPy simulated on NumPy).
- Programs (the rest): run on the real GPU when there is one, else on CuPy simulated on NumPy
  (``tests/fake_cupy.py``: two fake GPUs, CuPy's namespace, counted host syncs), so every CI run
  checks the device plumbing; only a real GPU checks numerics and speed.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import sys

import numpy as np
import pytest

import brickwork as bw
from brickwork import _backend, nn
from brickwork.nn import functional as F
from gpu_env import gpu_fixture, to_host  # noqa: F401 - the fixture "gpu"
from nn.test_layers_parity import CASES as LAYER_CASES
from ops.test_activation import CASES as ACTIVATIONS
from ops.test_elementwise import BINARY, UNARY, _binary_fns
from ops.test_reduce import REDUCTIONS
from ops.test_shape import COPIES, INDEXES, SPLITS, VIEWS

needs_gpu = pytest.mark.skipif(
    bw.cuda.device_count() == 0,
    reason="CPU-vs-GPU agreement needs a CUDA GPU (CuPy and an NVIDIA driver); none here. Run "
           "scripts/gpu_check.sh on a GPU machine (or BRICKWORK_TEST_FAKE_CUPY=1 to simulate one)")
CPU = bw.device("cpu")
TOL = dict(rtol=2e-4, atol=2e-5)  # float32, different kernels (cuBLAS, CuPy reductions)


def _flat(out):
    if isinstance(out, bw.Tensor):
        return [out]
    return [o for item in out for o in _flat(item)] if isinstance(out, (tuple, list)) else []


def _run(fn, arrays, device, grad, seed=0, guard=contextlib.nullcontext):
    inputs = [bw.tensor(a, device=device, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    rng = np.random.default_rng(seed)
    with guard():
        outs = _flat(fn(*inputs))
        for o in outs:
            assert o.device == device, f"an output is on {o.device}, expected {device}"
        roots = [o for o in outs if o.requires_grad]
        if roots:
            seeds = [bw.tensor(rng.standard_normal(tuple(o.shape)).astype(np.float32), device=device)
                     .to(o.dtype) for o in roots]
            bw.autograd.backward(roots, seeds)
    grads = [None if t.grad is None else to_host(t.grad) for t in inputs]
    for t in inputs:
        assert t.grad is None or t.grad.device == device
    return [to_host(o) for o in outs], grads


def agree(fn, arrays, grad=True, syncs=True, **tol):
    """CPU and ``cuda:0`` give the same outputs and input gradients; with ``syncs=False`` the GPU run
    (forward and backward) must not read device data into the host."""
    arrays = [np.asarray(a) for a in arrays]
    cpu_out, cpu_grads = _run(fn, arrays, CPU, grad)
    guard = contextlib.nullcontext if syncs else _backend.forbid_syncs
    gpu_out, gpu_grads = _run(fn, arrays, bw.device("cuda:0"), grad, guard=guard)
    assert len(cpu_out) == len(gpu_out)
    for i, (c, g) in enumerate(zip(cpu_out, gpu_out)):
        assert (c.dtype, c.shape) == (g.dtype, g.shape), f"output {i}: {c.dtype}{c.shape}, {g.dtype}{g.shape}"
        np.testing.assert_allclose(g, c, err_msg=f"output {i}", equal_nan=True, **(tol or TOL))
    for i, (c, g) in enumerate(zip(cpu_grads, gpu_grads)):
        assert (c is None) == (g is None), f"grad of input {i}: present on one device only"
        if c is not None:
            np.testing.assert_allclose(g, c, err_msg=f"grad of input {i}", equal_nan=True, **(tol or TOL))


def _uniform(shape, low=-2.0, high=2.0, away_from=None, seed=0):
    a = np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)
    if away_from is not None:
        a = np.where(np.abs(a - away_from) < 0.1, a + 0.25, a).astype(np.float32)
    return a


def _op_cases():
    cases = []
    for name, (fn, _torch_fn, kw) in UNARY.items():
        cases.append((f"unary-{name}", fn, [_uniform((3, 4), **kw)]))
    for name, (spec, kw) in BINARY.items():
        fn = _binary_fns(spec)[0]
        a = _uniform((3, 4), low=kw.get("a_low", -2.0), seed=1)
        b = _uniform((4,), low=kw.get("b_low", -2.0), seed=2)
        cases.append((f"binary-{name}", fn, [a, b]))
    for name, fn in REDUCTIONS.items():
        cases.append((f"reduce-{name}", lambda x, fn=fn: fn(x, 1, False), [_uniform((3, 4, 2))]))
    for table, label in ((VIEWS, "view"), (COPIES, "copy"), (SPLITS, "split"), (INDEXES, "index")):
        for name, (shape, fn) in table.items():
            cases.append((f"{label}-{name}", fn, [_uniform(shape)]))
    for name, (fn, _torch_fn) in ACTIVATIONS.items():
        cases.append((f"activation-{name}", fn, [_uniform((3, 6))]))
    x, w = _uniform((2, 3, 7, 7)), _uniform((4, 3, 3, 3), seed=3)
    cases += [
        ("conv2d", lambda x, w: F.conv2d(x, w, padding=1, stride=2), [x, w]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 2), [x]),
        ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [x]),
        ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1), [x]),
        ("matmul", lambda a, b: a @ b, [_uniform((2, 3, 4)), _uniform((4, 5), seed=4)]),
        ("linear", F.linear, [_uniform((5, 4)), _uniform((3, 4), seed=5), _uniform((3,), seed=6)]),
        ("softmax", lambda x: F.softmax(x, dim=1), [_uniform((4, 6))]),
        ("log_softmax", lambda x: F.log_softmax(x, dim=-1), [_uniform((4, 6))]),
        ("cross_entropy", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
         [_uniform((6, 5)), np.array([0, 4, 2, 2, 1, 3])]),
        ("nll_loss", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t),
         [_uniform((4, 3)), np.array([0, 2, 1, 1])]),
        ("mse_loss", F.mse_loss, [_uniform((3, 4)), _uniform((3, 4), seed=7)]),
        ("bce_with_logits", F.binary_cross_entropy_with_logits,
         [_uniform((3, 4)), _uniform((3, 4), 0, 1, seed=8)]),
        ("embedding", lambda i, w: F.embedding(i, w), [np.array([[0, 3], [3, 1]]), _uniform((4, 5))]),
        ("layer_norm", lambda x: F.layer_norm(x, (6,)), [_uniform((3, 6))]),
        ("batch_norm_train", lambda x: F.batch_norm(x, None, None, training=True), [_uniform((5, 3, 2))]),
        ("gather", lambda x, i: x.gather(1, i), [_uniform((3, 4)), np.array([[0, 3], [1, 1], [2, 0]])]),
        ("index_select", lambda x, i: x.index_select(0, i), [_uniform((4, 3)), np.array([3, 0, 3])]),
        ("advanced_index", lambda x, i: x[i], [_uniform((4, 3)), np.array([1, 1, 3])]),
        ("bool_mask", lambda x: x[x > 0], [_uniform((4, 3))]),
        ("cat_stack", lambda a, b: bw.stack([bw.cat([a, b], 0), bw.cat([b, a], 0)]),
         [_uniform((2, 3)), _uniform((2, 3), seed=9)]),
        ("where", lambda x, y: bw.where(x > 0, x, y), [_uniform((3, 4)), _uniform((3, 4), seed=10)]),
        ("sdpa", F.scaled_dot_product_attention,
         [_uniform((2, 3, 4)), _uniform((2, 5, 4), seed=11), _uniform((2, 5, 4), seed=12)]),
        ("cumsum_sort", lambda x: x.cumsum(1) + x.sort(1)[0], [_uniform((3, 5))]),
        ("pad", lambda x: F.pad(x, (1, 2), mode="reflect"), [_uniform((2, 3, 5))]),
    ]
    return cases


OP_CASES = _op_cases()


@needs_gpu
@pytest.mark.parametrize("case", OP_CASES, ids=[c[0] for c in OP_CASES])
def test_op_agrees(case):
    _, fn, arrays = case
    agree(fn, arrays)


@needs_gpu
@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_agrees(case):
    _layer_agrees(case)


def _layer_agrees(case, syncs=True):
    """The layer's outputs and gradients agree on both devices; ``syncs=False``: its GPU forward and
    backward read no device data into the host."""
    _, ctor, args, kwargs, shapes = case
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 3, s[1:]) if isinstance(s, tuple) and s and s[0] == "idx"
              else rng.standard_normal(s).astype(np.float32) for s in shapes]
    bw.manual_seed(0)
    layer = getattr(nn, ctor)(*args, **kwargs)
    layer.eval()  # dropout off; batch statistics are checked in test_op_agrees
    if any(p.is_pending for p in layer.parameters()):
        layer(*[bw.tensor(a) for a in arrays])  # materialise on the CPU first, then copy
    twin = copy.deepcopy(layer).to("cuda:0")
    outputs = {}
    for dev, model in ((CPU, layer), (bw.device("cuda:0"), twin)):
        ins = [bw.tensor(a, device=dev, requires_grad=a.dtype.kind == "f") for a in arrays]
        guard = _backend.forbid_syncs if dev.type == "cuda" and not syncs else contextlib.nullcontext
        with guard():
            outs = [o for o in _flat(model(*ins)) if o is not None]
            total = sum(((o.float() * (i + 1)).sum() for i, o in enumerate(outs) if o.requires_grad),
                        bw.zeros((), device=dev))
            if total.requires_grad:
                total.backward()
        outputs[dev.type] = ([to_host(o) for o in outs],
                             [to_host(p.grad) if p.grad is not None else None for p in model.parameters()],
                             [to_host(t.grad) if t.grad is not None else None for t in ins])
    for c_list, g_list in zip(outputs["cpu"], outputs["cuda"]):
        for c, g in zip(c_list, g_list):
            assert (c is None) == (g is None)
            if c is not None:
                np.testing.assert_allclose(g, c, **TOL)


# ---------------------------------------------------------------------------------------------
# programs on a (real or simulated) GPU


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


def _loader(n=48, batch=16, pin=False):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    y = rng.integers(0, 3, n)
    ds = bw.data.TensorDataset(bw.tensor(x), bw.tensor(y))
    return bw.data.DataLoader(ds, batch_size=batch, shuffle=True, pin_memory=pin)


def test_fit_epoch_on_the_gpu_has_no_host_sync_until_the_epoch_end(gpu):
    bw.manual_seed(0)
    model = _mlp()
    opt = bw.optim.Adam(model.parameters(), lr=1e-2)
    loader = _loader(pin=True)
    from brickwork.train import _Meter

    reads = []
    original = _Meter.result

    def result(self):  # the epoch's one deliberate read: the only place a sync is allowed
        reads.append(1)
        with sys.modules["cupyx"].allow_synchronize(True):
            return original(self)

    _Meter.result = result
    try:
        with bw.sync_guard("error"), gpu.no_syncs():  # brickwork's guard, and CuPy's own
            history = bw.train.fit(model, loader, optimizer=opt, epochs=1, device="cuda:0",
                                   progress=False)
    finally:
        _Meter.result = original
    assert reads == [1] and history.last["train_loss"] > 0
    assert all(p.device == bw.device("cuda:0") for p in model.parameters())
    # the same steps again, proven by the backend itself: no device-to-host read at all
    model.train()
    with gpu.no_syncs():
        for x, y in loader:
            x, y = x.to("cuda:0", non_blocking=True), y.to("cuda:0", non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            bw.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
    assert np.isfinite(loss.item())


def test_training_on_gpu_matches_cpu(gpu):
    results = {}
    for dev in ("cpu", "cuda:0"):
        bw.manual_seed(1)
        model = _mlp()
        model.to(dev)
        opt = bw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        rng = np.random.default_rng(3)
        x = bw.tensor(rng.standard_normal((8, 6)).astype(np.float32), device=dev)
        y = bw.tensor(rng.integers(0, 3, 8), device=dev)
        for _ in range(3):
            opt.zero_grad(set_to_none=False) if _ else opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
        results[dev] = [to_host(p) for p in model.parameters()]
    for c, g in zip(results["cpu"], results["cuda:0"]):
        np.testing.assert_allclose(g, c, **TOL)


def test_model_moves_in_place_keeping_ties_and_optimizer_references(gpu):
    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
    model[2].weight = model[0].weight  # tied
    params = list(model.parameters())
    opt = bw.optim.SGD(model.parameters(), lr=0.1)
    assert model.to(bw.try_gpu()) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert model[2].weight is model[0].weight and model[0].weight.device == bw.device("cuda:0")
    model(bw.ones(2, 4, device="cuda:0")).sum().backward()
    opt.step()
    assert model[0].weight.grad.device == bw.device("cuda:0")


def test_device_mismatch_in_a_model_names_the_module_and_parameter(gpu):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model[0].to("cuda:0")
    with pytest.raises(RuntimeError, match=r"0 \(Linear\).*cpu.*cuda:0|cuda:0.*cpu"):
        model(bw.ones(1, 3))
    with pytest.raises(RuntimeError, match=r"2 \(Linear\).*2\.weight"):
        model(bw.ones(1, 3, device="cuda:0"))


def test_save_and_load_with_map_location(gpu, tmp_path):
    model = _mlp().to("cuda:0")
    path = tmp_path / "m.safetensors"
    bw.save(model.state_dict(), path)
    as_saved = bw.load(path)  # back where it was saved, as torch.load does
    on_cpu = bw.load(path, map_location="cpu")
    on_gpu = bw.load(path, map_location="cuda")
    for k, v in model.state_dict().items():
        assert as_saved[k].device == bw.device("cuda:0") and on_cpu[k].device == CPU
        assert on_gpu[k].device == bw.device("cuda:0")
        np.testing.assert_array_equal(to_host(on_gpu[k]), to_host(v))
    fresh = _mlp()
    fresh.load_state_dict(on_gpu)  # a GPU state dict into a CPU model: copied (an explicit request)
    assert all(p.device == CPU for p in fresh.parameters())
    bw.save(bw.randn(3, device="cuda:0"), path)
    assert bw.load(path, map_location="cpu").device == CPU


def test_checks_on_the_device_are_reported_at_the_next_sync(gpu):
    w = bw.randn(5, 3, device="cuda:0")
    out = F.embedding(bw.tensor([1, 7], device="cuda:0"), w)  # no sync, no error yet
    with pytest.raises(IndexError, match="out of range for a weight with 5 rows.*device-side check"):
        out.sum().item()
    x = bw.zeros(2, 3, device="cuda:0")
    F.cross_entropy(x, bw.tensor([0, 1], device="cuda:0")).item()  # fine: nothing pending
    F.cross_entropy(x, bw.tensor([0, 9], device="cuda:0"))
    with pytest.raises(IndexError, match="target is out of bounds for 3 classes"):
        bw.cuda.synchronize()
    bw.cuda.synchronize()  # reported once
    src = bw.arange(6.0, device="cuda:0").reshape(2, 3)
    src.gather(1, bw.tensor([[0, 3]], device="cuda:0"))  # CuPy would wrap 3 around silently
    with pytest.raises(IndexError, match="gather: index out of range for dimension 1 of size 3"):
        src.sum().item()
    bw.zeros(2, 3, device="cuda:0").scatter_add(0, bw.tensor([[2, 0, 0]], device="cuda:0"),
                                                 bw.ones(1, 3, device="cuda:0"))
    with pytest.raises(IndexError, match="scatter_add: index out of range for dimension 0 of size 2"):
        bw.cuda.synchronize()
    y = bw.arange(12.0, device="cuda:0").reshape(3, 4)
    y[:, bw.tensor([1, 4], device="cuda:0")]  # d2l's y_hat[range(n), y] with a bad label, say
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        print(y)
    y[..., bw.tensor([3], device="cuda:0")] = 0.0  # fine
    y[bw.tensor([True, False, True], device="cuda:0"), bw.tensor([0, 3], device="cuda:0")].cpu()


def test_pinned_batches_copy_asynchronously(gpu):
    batches = list(_loader(pin=True))
    x, y = batches[0]
    assert x.is_pinned() and y.is_pinned() and x.device == CPU
    assert not _loader(pin=False).__iter__().__next__()[0].is_pinned()
    with gpu.no_syncs():
        xg = x.to("cuda:0", non_blocking=True)
    assert xg.device == bw.device("cuda:0")
    np.testing.assert_array_equal(to_host(xg), x.numpy())


def test_gpu_to_gpu_copies_and_ops_on_the_second_gpu(gpu):
    gpu.need(2)
    x = bw.randn(3, 4, device="cuda:0", requires_grad=True)
    y = x.cuda(1)
    assert y.device == bw.device("cuda:1") and x.to("cuda:1").device == bw.device("cuda:1")
    assert bw.cuda.current_device() == 0
    z = (y * 2).relu().sum()  # runs on cuda:1 while cuda:0 is current
    z.backward()
    assert x.grad.device == bw.device("cuda:0") and bw.cuda.current_device() == 0
    np.testing.assert_allclose(to_host(x.grad), 2.0 * (to_host(x) > 0), rtol=1e-6)


def test_second_derivatives_across_devices_and_on_the_gpu(gpu):
    # create_graph=True through moves between the host and the GPU, and through generic ops on the
    # GPU (reductions, indexing, in-place writes on views, linear algebra): Hessian-vector products
    # agree with the same computation on the CPU
    a = np.random.default_rng(3).standard_normal((3, 3)) + 3 * np.eye(3)

    def hvp(device):
        x = bw.tensor(a, device=device, requires_grad=True)
        h = x.to("cpu").exp().to(device)  # the host round trip is recorded both ways
        y = h * 1
        y[0].mul_(x[1])  # an in-place op on a view
        loss = (y.var(0) * bw.linalg.inv(x).logsumexp(1)).sum() + x.prod(1).norm()
        (g,) = bw.autograd.grad(loss, x, create_graph=True)
        (hv,) = bw.autograd.grad((g * g).sum(), x)
        assert g.device == hv.device == bw.device(device)
        return to_host(g), to_host(hv)

    for got, expected in zip(hvp("cuda:0"), hvp("cpu")):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_whole_training_step_on_the_second_gpu(gpu):
    gpu.need(2)
    bw.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(8), nn.LayerNorm(8), nn.GELU(), nn.Dropout(0.1), nn.Linear(8, 3))
    model.to("cuda:1")
    opt = bw.optim.AdamW(model.parameters(), lr=1e-3)
    x = bw.randn(4, 5, device="cuda:1")
    y = bw.randint(0, 3, (4,), device="cuda:1")
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    nn.init.kaiming_normal_(model[4].weight)
    assert all(p.device == bw.device("cuda:1") for p in model.parameters())
    assert np.isfinite(loss.item()) and bw.cuda.current_device() == 0


def test_cuda_memory_counters_follow_allocations(gpu):
    bw.cuda.reset_peak_memory_stats()
    before = bw.cuda.memory_allocated()
    x = bw.zeros(1024, 256, device="cuda:0")
    assert bw.cuda.memory_allocated() >= before + x.numel() * 4
    del x
    assert bw.cuda.max_memory_allocated() >= before + 1024 * 256 * 4
    bw.cuda.empty_cache()


def test_no_op_reads_device_data_into_the_host(gpu):
    """Forward and backward of a small conv net move nothing to the host."""
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 4 * 4, 10)).to("cuda:0")
    x = bw.randn(2, 1, 8, 8, device="cuda:0")
    y = bw.tensor([1, 7], device="cuda:0")
    with gpu.no_syncs():
        loss = F.cross_entropy(net(x), y)
        loss.backward()
    assert all(p.grad.device == bw.device("cuda:0") for p in net.parameters())


@pytest.mark.parametrize("workload", ["lenet", "resnet_block", "transformer_layer"])
def test_training_steps_move_nothing_between_host_and_device(gpu, workload):
    """A whole step (forward, loss, backward, Adam) of the benchmark models: no host sync, and (where
    the simulation counts copies) no host-to-device copy either -- no op stages data on the host."""
    nets = {
        "lenet": (lambda: nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
                                        nn.Flatten(), nn.Linear(6 * 14 * 14, 10)), (4, 1, 28, 28)),
        "resnet_block": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                               nn.MaxPool2d(3, 2, 1), nn.AdaptiveAvgPool2d((1, 1)),
                                               nn.Flatten(), nn.Linear(8, 10)), (4, 3, 16, 16)),
        "transformer_layer": (lambda: nn.Sequential(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True),
                                                    nn.Flatten(), nn.Linear(5 * 16, 10)), (4, 5, 16)),
    }
    make, shape = nets[workload]
    net = make().to("cuda:0")
    opt = bw.optim.Adam(net.parameters(), lr=1e-3)
    x = bw.randn(*shape, device="cuda:0")
    y = bw.tensor([1, 2, 3, 4], device="cuda:0")
    if gpu.simulated:
        import fake_cupy

        copies = fake_cupy.stats.h2d
    with gpu.no_syncs():
        for _ in range(2):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    if gpu.simulated:
        assert fake_cupy.stats.h2d == copies, fake_cupy.stats.h2d_calls[copies:]


# ---------------------------------------------------------------------------------------------
# nn breadth (issue 11): its layer and function tables, and DataParallel over two GPUs

from nn.test_functional_breadth import OP_CASES as BREADTH_OPS  # noqa: E402
from nn.test_layers_breadth import CASES as BREADTH_LAYERS  # noqa: E402


@needs_gpu
@pytest.mark.parametrize("case", BREADTH_LAYERS, ids=[c[0] for c in BREADTH_LAYERS])
def test_breadth_layer_agrees(case):
    _layer_agrees(case, syncs=False)


# max-mode bags given by offsets are padded to the longest bag, whose length is read from the device
BREADTH_READS_DATA = {"embedding_bag-max"}


@needs_gpu
@pytest.mark.parametrize("case", BREADTH_OPS, ids=[c[0] for c in BREADTH_OPS])
def test_breadth_function_agrees(case):
    name, fn, _torch_fn, arrays = case
    agree(fn, [np.asarray(a).astype(np.float32) if np.asarray(a).dtype.kind == "f" else a for a in arrays],
          syncs=name in BREADTH_READS_DATA)


def test_data_parallel_splits_the_batch_and_sums_gradients_into_the_module(gpu):
    gpu.need(2)
    bw.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3)).to("cuda:0")
    reference = copy.deepcopy(model)
    wrapped = nn.DataParallel(model)
    assert wrapped.device_ids == [bw.device("cuda:0"), bw.device("cuda:1")]
    assert list(wrapped.state_dict()) == ["module." + k for k in model.state_dict()]
    x = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32)
    out = wrapped(bw.tensor(x))  # a CPU batch is scattered: rows 0-3 to cuda:0, rows 4-6 to cuda:1
    assert out.device == bw.device("cuda:0") and tuple(out.shape) == (7, 3)
    (out * bw.arange(3.0, device="cuda:0")).sum().backward()
    xr = bw.tensor(x, device="cuda:0")
    expected = bw.cat([reference(xr[:4]), reference(xr[4:])], 0)  # BatchNorm statistics per part
    (expected * bw.arange(3.0, device="cuda:0")).sum().backward()
    np.testing.assert_allclose(to_host(out), to_host(expected), **TOL)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert p.grad.device == bw.device("cuda:0"), name
        np.testing.assert_allclose(to_host(p.grad), to_host(q.grad), err_msg=name, **TOL)
    # the replica on device_ids[0] is the module itself: its running statistics moved
    assert int(model[1].num_batches_tracked) == 1


def test_data_parallel_checks_placement_and_gathers_structures(gpu):
    gpu.need(2)

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 1)

        def forward(self, x, scale=1.0):
            return {"a": self.a(x) * scale, "b": (self.b(x), None)}

    with pytest.raises(RuntimeError, match="must have its parameters and buffers on device cuda:0"):
        nn.DataParallel(TwoHeads())(bw.randn(4, 3))
    model = TwoHeads().to("cuda:0")
    out = nn.DataParallel(model, device_ids=[0, 1], output_device=1)(bw.randn(5, 3), scale=2.0)
    assert out["a"].device == bw.device("cuda:1") and tuple(out["a"].shape) == (5, 2)
    assert tuple(out["b"][0].shape) == (5, 1) and out["b"][1] is None
    single = nn.DataParallel(model, device_ids=[0])
    assert single(bw.randn(2, 3))["a"].device == bw.device("cuda:0")


def test_lstm_on_a_packed_sequence_agrees_between_cpu_and_gpu(gpu):
    from brickwork.nn.utils import rnn as rnn_utils

    bw.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    twin = copy.deepcopy(lstm).to("cuda:0")
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 5, 3)]
    results = []
    for dev, model in ((CPU, lstm), (bw.device("cuda:0"), twin)):
        seqs = [bw.tensor(a, device=dev, requires_grad=True) for a in arrays]
        out, (h, c) = model(rnn_utils.pack_sequence(seqs, enforce_sorted=False))
        assert out.data.device == dev and h.device == dev
        padded, lengths = rnn_utils.pad_packed_sequence(out, batch_first=True)
        (padded.sum() + h.sum() + c.sum()).backward()
        results.append([to_host(padded), to_host(h), to_host(c)] + [to_host(s.grad) for s in seqs])
    for cpu_value, gpu_value in zip(*results):
        np.testing.assert_allclose(gpu_value, cpu_value, **TOL)
# end nn breadth


def _penalty_and_hessian(dev, conv):
    """A gradient penalty's parameter gradients and a Hessian, on ``dev`` (float32)."""
    bw.manual_seed(5)
    if conv:
        critic = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Flatten(), nn.Linear(12, 1))
        shape = (4, 1, 4, 4)
    else:
        critic = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
        shape = (4, 6)
    critic.to(dev)
    rng = np.random.default_rng(2)
    x = bw.tensor(rng.standard_normal(shape).astype(np.float32), device=dev, requires_grad=True)
    (g,) = bw.autograd.grad(critic(x).sum(), x, create_graph=True)
    penalty = ((g.reshape(shape[0], -1).norm(dim=1) - 1) ** 2).mean()
    penalty.backward()
    # (the last bias does not change the input gradient: its .grad stays None, as in torch)
    assert all(p.grad is None or p.grad.device == bw.device(dev) for p in critic.parameters())
    w = bw.tensor(rng.standard_normal(3).astype(np.float32), device=dev)
    h = bw.autograd.functional.hessian(lambda v: (v.sin() * v.exp()).sum() * v.sum(), w)
    assert h.device == bw.device(dev)
    return [None if p.grad is None else to_host(p.grad) for p in critic.parameters()] + [to_host(h)]


@pytest.mark.parametrize("conv", [False, True], ids=["mlp", "cnn"])
def test_higher_order_gradients_on_the_gpu_match_cpu(gpu, conv):
    cpu = _penalty_and_hessian("cpu", conv)
    cuda = _penalty_and_hessian("cuda:0", conv)
    for c, g in zip(cpu, cuda):
        assert (c is None) == (g is None)
        if c is not None:
            np.testing.assert_allclose(g, c, **TOL)


# ---------------------------------------------------------------------------------------------
# op breadth and torch.linalg (issue 11): the oracle tables of tests/ops/test_breadth_ops.py on both
# devices; an op reads device data into the host only where its result's size depends on the data

from ops.test_breadth_ops import DIFFERENTIABLE as BREADTH_DIFFERENTIABLE  # noqa: E402
from ops.test_breadth_ops import NONDIFFERENTIABLE as BREADTH_NONDIFFERENTIABLE  # noqa: E402

# op -> why it reads device data (a declared host sync, as in PyTorch); every other op must not
READS_DATA = {
    **{name: "the result's size depends on the data" for name in (
        "unique", "unique_inverse_counts", "unique_float", "unique_dim", "unique_consecutive",
        "unique_consecutive_dim", "bincount", "bincount_weights_minlength")},
    "histc_data_range": "min == max: the bins span the data's range, read from the device",
}
# x.type(LongTensor) converts to a CPU tensor, as in PyTorch (an explicit transfer); checked below
TO_THE_HOST = {"type_double", "type_long", "type_string"}


def _float32(arrays):
    return [np.asarray(a).astype(np.float32) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
            for a in arrays]


@needs_gpu
@pytest.mark.parametrize("name", [n for n in BREADTH_DIFFERENTIABLE if n not in TO_THE_HOST])
def test_breadth_op_agrees(name):
    fn, arrays, _options = BREADTH_DIFFERENTIABLE[name]
    agree(functools.partial(fn, bw), _float32(arrays), syncs=name in READS_DATA)


@needs_gpu
@pytest.mark.parametrize("name", [n for n in BREADTH_NONDIFFERENTIABLE if n not in TO_THE_HOST])
def test_breadth_op_without_gradient_agrees(name):
    fn, arrays = BREADTH_NONDIFFERENTIABLE[name]
    agree(functools.partial(fn, bw), _float32(arrays), grad=False, syncs=name in READS_DATA)


def test_legacy_type_conversions_choose_the_device_as_torch(gpu):
    x = bw.tensor([[1.5, -2.0]], device="cuda:0", requires_grad=True)
    assert x.type() == "torch.cuda.FloatTensor"
    on_host = x.type(bw.LongTensor)  # a CPU type: the data comes to the host, as in PyTorch
    assert on_host.device == CPU and on_host.dtype == bw.int64 and on_host.tolist() == [[1, -2]]
    stays = x.type("torch.cuda.DoubleTensor")
    assert stays.device == bw.device("cuda:0") and stays.dtype == bw.float64
    stays.sum().backward()
    assert x.grad.device == bw.device("cuda:0")
# end op breadth


# ---------------------------------------------------------------------------------------------
# loss modules, optimisers, schedulers and distributions of issue 11 on the GPU

from nn.test_layers_breadth import LOSSES as BREADTH_LOSSES  # noqa: E402


@needs_gpu
@pytest.mark.parametrize("case", BREADTH_LOSSES, ids=[c[0] for c in BREADTH_LOSSES])
def test_breadth_loss_module_agrees(case):
    _, name, kwargs, arrays, grad_of = case

    def loss(*xs):
        device = xs[0].device
        options = {k: bw.tensor(v.astype(np.float32), device=device) if isinstance(v, np.ndarray) else v
                   for k, v in kwargs.items()}
        inputs = [x if i in grad_of else x.detach() for i, x in enumerate(xs)]
        return getattr(nn, name)(**options, reduction="none")(*inputs)

    agree(loss, _float32(arrays), syncs=False)


def _train_steps(device, make_optimizer, steps=3, closure_steps=False, guard=contextlib.nullcontext):
    """A few steps of the small MLP on ``device`` (inside ``guard``); returns its parameters on the host,
    the optimiser and the model."""
    bw.manual_seed(1)
    model = _mlp().to(device)
    opt = make_optimizer(model.parameters())
    rng = np.random.default_rng(3)
    x = bw.tensor(rng.standard_normal((8, 6)).astype(np.float32), device=device)
    y = bw.tensor(rng.integers(0, 3, 8), device=device)

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        return loss

    with guard():
        for _ in range(steps):
            if closure_steps:
                opt.step(closure)
            else:
                closure()
                opt.step()
    return [to_host(p) for p in model.parameters()], opt, model


BREADTH_OPTIMIZERS = [
    ("NAdam", dict(lr=1e-2)), ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=1e-2)), ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=1e-2, weight_decay=0.1)), ("Adadelta", dict(lr=1.0, maximize=True)),
]


@pytest.mark.parametrize(("name", "kwargs"), BREADTH_OPTIMIZERS,
                         ids=[f"{n}-{k}" for n, k in BREADTH_OPTIMIZERS])
def test_breadth_optimizer_on_the_gpu_matches_cpu_without_host_syncs(gpu, name, kwargs):
    def make(params):
        return getattr(bw.optim, name)(params, **kwargs)

    cpu_params, _, _ = _train_steps("cpu", make)
    gpu_params, opt, model = _train_steps("cuda:0", make, guard=gpu.no_syncs)
    for c, g in zip(cpu_params, gpu_params):
        np.testing.assert_allclose(g, c, **TOL)
    for p in model.parameters():
        for key, value in opt.state[p].items():
            if isinstance(value, bw.Tensor) and key not in ("step", "mu_product"):  # CPU scalars, as torch
                assert value.device == bw.device("cuda:0"), key


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_on_the_gpu_matches_cpu(gpu, line_search_fn):
    def make(params):
        return bw.optim.LBFGS(params, lr=0.5, max_iter=6, history_size=4, line_search_fn=line_search_fn)

    cpu_params, cpu_opt, cpu_model = _train_steps("cpu", make, steps=2, closure_steps=True)
    gpu_params, gpu_opt, gpu_model = _train_steps("cuda:0", make, steps=2, closure_steps=True)
    for c, g in zip(cpu_params, gpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-3, atol=1e-4)
    state = gpu_opt.state[next(iter(gpu_model.parameters()))]
    assert state["n_iter"] == cpu_opt.state[next(iter(cpu_model.parameters()))]["n_iter"]
    assert state["d"].device == bw.device("cuda:0") and state["prev_flat_grad"].device == bw.device("cuda:0")
    assert all(v.device == bw.device("cuda:0") for v in state["old_dirs"] + state["old_stps"])
    # a checkpoint of the GPU state loads back onto the GPU
    gpu_opt.load_state_dict(copy.deepcopy(gpu_opt.state_dict()))
    assert gpu_opt.state[next(iter(gpu_model.parameters()))]["d"].device == bw.device("cuda:0")


BREADTH_SCHEDULERS = {
    "MultiplicativeLR": lambda o: bw.optim.lr_scheduler.MultiplicativeLR(o, lambda epoch: 0.9),
    "ConstantLR": lambda o: bw.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=2),
    "LinearLR": lambda o: bw.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3),
    "PolynomialLR": lambda o: bw.optim.lr_scheduler.PolynomialLR(o, total_iters=4, power=2.0),
    "CosineAnnealingWarmRestarts": lambda o: bw.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=2),
    "CyclicLR": lambda o: bw.optim.lr_scheduler.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2),
    "SequentialLR": lambda o: bw.optim.lr_scheduler.SequentialLR(
        o, [bw.optim.lr_scheduler.LinearLR(o, start_factor=0.5, total_iters=2),
            bw.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)], milestones=[2]),
}


@pytest.mark.parametrize("name", list(BREADTH_SCHEDULERS))
def test_breadth_scheduler_drives_a_gpu_optimizer_without_host_syncs(gpu, name):
    history = {}
    for device in ("cpu", "cuda:0"):
        bw.manual_seed(1)
        model = _mlp().to(device)
        opt = bw.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        sched = BREADTH_SCHEDULERS[name](opt)
        x = bw.ones(4, 6, device=device)
        lrs, moments = [], []
        guard = gpu.no_syncs() if device != "cpu" else contextlib.nullcontext()
        with guard:
            for _ in range(5):
                opt.zero_grad()
                model(x).square().mean().backward()
                opt.step()
                sched.step()
                lrs.append(opt.param_groups[0]["lr"])
                moments.append(opt.param_groups[0]["momentum"])
        history[device] = (lrs, moments, [to_host(p) for p in model.parameters()])
    assert history["cpu"][:2] == history["cuda:0"][:2]
    for c, g in zip(history["cpu"][2], history["cuda:0"][2]):
        np.testing.assert_allclose(g, c, **TOL)


_DIST_RNG = np.random.default_rng(4)
_LOC, _SCALE = _DIST_RNG.standard_normal((3, 4)), _DIST_RNG.uniform(0.5, 2.0, (4,))
_LOGITS, _PROBS = _DIST_RNG.standard_normal((3, 5)), _DIST_RNG.uniform(0.05, 0.9, (3, 5))
_COUNTS = np.array([[2, 0, 2, 0, 0], [0, 1, 1, 1, 1], [4, 0, 0, 0, 0]], dtype=np.float32)


def _dist_values(dist, value):
    return [dist.log_prob(value), dist.entropy(), dist.mean, dist.variance]


BREADTH_DISTRIBUTIONS = {
    "Normal": (lambda loc, scale: _dist_values(bw.distributions.Normal(loc, scale, validate_args=False),
                                               loc.detach() * 0.5 + 0.3), [_LOC, _SCALE]),
    "Uniform": (lambda low, width: _dist_values(
        bw.distributions.Uniform(low, low + width, validate_args=False),
        low.detach() + 0.25 * width.detach()), [_LOC, _SCALE]),
    "Bernoulli-probs": (lambda p: _dist_values(bw.distributions.Bernoulli(probs=p, validate_args=False),
                                               (p.detach() > 0.5).float()), [_PROBS]),
    "Bernoulli-logits": (lambda z: _dist_values(bw.distributions.Bernoulli(logits=z, validate_args=False),
                                                (z.detach() > 0).float()), [_LOGITS]),
    "Categorical-probs": (lambda p: _dist_values(bw.distributions.Categorical(probs=p, validate_args=False),
                                                 p.detach().argmax(-1)), [_PROBS]),
    "Categorical-logits": (lambda z: _dist_values(bw.distributions.Categorical(logits=z, validate_args=False),
                                                  z.detach().argmin(-1)), [_LOGITS]),
    "Multinomial-probs": (lambda p: _dist_values(
        bw.distributions.Multinomial(4, probs=p, validate_args=False), bw.tensor(_COUNTS, device=p.device)),
        [_PROBS]),
    "Multinomial-logits": (lambda z: _dist_values(
        bw.distributions.Multinomial(3, logits=z, validate_args=False),
        F.one_hot(z.detach().argmax(-1), 5).float() * 3), [_LOGITS]),
}


@needs_gpu
@pytest.mark.parametrize("name", list(BREADTH_DISTRIBUTIONS))
def test_breadth_distribution_agrees(name):
    """log_prob, entropy, mean and variance (and their gradients to the parameters), without host syncs."""
    fn, arrays = BREADTH_DISTRIBUTIONS[name]
    agree(fn, _float32(arrays), syncs=False)


def test_breadth_distributions_sample_on_the_gpu(gpu):
    dev = bw.device("cuda:0")
    loc = bw.tensor(_LOC.astype(np.float32), device=dev, requires_grad=True)
    scale = bw.tensor(_SCALE.astype(np.float32), device=dev, requires_grad=True)
    probs = bw.tensor(_PROBS.astype(np.float32), device=dev)
    d = bw.distributions
    with gpu.no_syncs():
        normal = d.Normal(loc, scale, validate_args=False).rsample((2,))
        uniform = d.Uniform(loc, loc + scale, validate_args=False).rsample()
        (normal.sum() + uniform.sum()).backward()
        draws = {
            "bernoulli": d.Bernoulli(probs=probs, validate_args=False).sample((2,)),
            "categorical": d.Categorical(probs=probs, validate_args=False).sample((7,)),
            "multinomial": d.Multinomial(5, probs=probs, validate_args=False).sample(),
        }
    assert normal.device == dev and tuple(normal.shape) == (2, 3, 4) and normal.dtype == bw.float32
    assert loc.grad.device == dev and scale.grad.device == dev
    np.testing.assert_allclose(to_host(loc.grad), np.full((3, 4), 3.0))  # d/dloc: 2 draws + 1 draw
    assert uniform.device == dev and (to_host(uniform) >= _LOC - 1e-6).all()
    shapes = {"bernoulli": (2, 3, 5), "categorical": (7, 3), "multinomial": (3, 5)}
    for key, value in draws.items():
        assert value.device == dev and tuple(value.shape) == shapes[key], key
    assert draws["categorical"].dtype == bw.int64
    np.testing.assert_array_equal(to_host(draws["multinomial"]).sum(-1), 5.0)


def test_transformer_decoder_with_masks_agrees_without_host_syncs(gpu):
    bw.manual_seed(0)
    layer = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    decoder = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(8)).eval()
    twin = copy.deepcopy(decoder).to("cuda:0")
    rng = np.random.default_rng(5)
    tgt, memory = (rng.standard_normal(shape).astype(np.float32) for shape in ((2, 4, 8), (2, 5, 8)))
    results = []
    for dev, model in ((CPU, decoder), (bw.device("cuda:0"), twin)):
        mask = nn.Transformer.generate_square_subsequent_mask(4, device=dev)
        tgt_pad = bw.tensor([[False, False, False, True], [False] * 4], device=dev)
        mem_pad = bw.tensor([[False] * 5, [False, False, False, True, True]], device=dev)
        t = bw.tensor(tgt, device=dev, requires_grad=True)
        guard = gpu.no_syncs() if dev.type == "cuda" else contextlib.nullcontext()
        with guard:
            out = model(t, bw.tensor(memory, device=dev), tgt_mask=mask, tgt_key_padding_mask=tgt_pad,
                        memory_key_padding_mask=mem_pad)
            out.sum().backward()
        results.append([to_host(out), to_host(t.grad)] + [to_host(p.grad) for p in model.parameters()])
    for c, g in zip(*results):
        np.testing.assert_allclose(g, c, **TOL)
# end issue-11 programs
