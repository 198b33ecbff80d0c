"""Optimisers against torch.optim, step by step, plus the base class's bookkeeping."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import optim

STEPS = 30
SHAPES = {"W1": (4, 3), "b1": (3,), "w2": (3,), "s": (), "empty": (2, 0), "unused": (2,)}


def _initial(dtype: type) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {k: (rng.standard_normal(s) * 0.5).astype(dtype) for k, s in SHAPES.items()}


def _data(dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return rng.standard_normal((8, 4)).astype(dtype), rng.standard_normal(8).astype(dtype)


def _loss(p: dict, X, y, lib):
    """The same small model in both libraries; ``unused`` never gets a gradient."""
    hidden = lib.tanh(X @ p["W1"] + p["b1"])
    out = hidden @ p["w2"] + p["s"] + p["empty"].sum()
    return ((out - y) ** 2).mean()


def _run(bw_cls, torch_cls, kwargs: dict, dtype: type, steps: int = STEPS, groups=None, device="cpu"):
    init = _initial(dtype)
    X, y = _data(dtype)
    bp = {k: bw.tensor(v, requires_grad=True, device=device) for k, v in init.items()}
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    if groups is None:
        b_opt, t_opt = bw_cls(list(bp.values()), **kwargs), torch_cls(list(tp.values()), **kwargs)
    else:
        b_opt = bw_cls([{"params": [bp[k] for k in keys], **opts} for keys, opts in groups], **kwargs)
        t_opt = torch_cls([{"params": [tp[k] for k in keys], **opts} for keys, opts in groups], **kwargs)
    bX, by = bw.tensor(X, device=device), bw.tensor(y, device=device)
    tX, ty = torch.tensor(X), torch.tensor(y)
    for _ in range(steps):
        b_opt.zero_grad()
        t_opt.zero_grad()
        _loss(bp, bX, by, bw).backward()
        _loss(tp, tX, ty, torch).backward()
        b_opt.step()
        t_opt.step()
    return bp, tp, b_opt, t_opt


def _assert_params_close(bp, tp, dtype):
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for k in bp:
        assert bp[k].dtype == (bw.float32 if dtype == np.float32 else bw.float64), k
        np.testing.assert_allclose(bp[k].detach().cpu().numpy(), tp[k].detach().numpy(), err_msg=k, **tol)


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "maximize": True}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "nesterov": True, "weight_decay": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.9)}),
    ("Adam", {"lr": 0.01, "eps": 1e-3}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.02, "betas": (0.5, 0.8), "weight_decay": 0.05, "amsgrad": True, "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.2, "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "betas": (0.7, 0.95), "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "centered": True}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.1, "eps": 1e-4}),
    ("RMSprop", {"lr": 0.001, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05}),
    ("Adagrad", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-3}),
    ("Adagrad", {"lr": 0.01, "maximize": True, "lr_decay": 0.01}),
    # optim breadth (issue 11)
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.95), "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-4}),
    ("NAdam", {"lr": 0.01, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.9)}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "eps": 1e-4}),
    ("RAdam", {"lr": 0.01, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-4}),
    ("Adamax", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.05, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-4}),
    ("Adadelta", {"lr": 1.0, "weight_decay": 0.1}),
    ("Adadelta", {"lr": 1.0, "maximize": True}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_matches_torch_step_by_step(name, kwargs, dtype, device):
    bp, tp, _, _ = _run(getattr(optim, name), getattr(torch.optim, name), kwargs, dtype, device=device)
    _assert_params_close(bp, tp, dtype)
    init = _initial(dtype)
    # the parameter that never had a gradient is untouched
    np.testing.assert_array_equal(bp["unused"].detach().cpu().numpy(), init["unused"])
    # and the model actually moved
    assert not np.allclose(bp["W1"].detach().cpu().numpy(), init["W1"])
    assert all(p.device == device for p in bp.values())


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_param_groups_with_their_own_options_match_torch(name):
    opts = {"SGD": {"momentum": 0.9}, "Adam": {"betas": (0.8, 0.99)}, "RMSprop": {"centered": True},
            "Adagrad": {"lr_decay": 0.1}}[name]
    groups = [(["W1", "b1"], {"lr": 0.05, **opts}), (["w2", "s", "empty", "unused"], {})]
    bp, tp, b_opt, _ = _run(getattr(optim, name), getattr(torch.optim, name), {"lr": 0.01},
                            np.float32, groups=groups)
    _assert_params_close(bp, tp, np.float32)
    assert b_opt.param_groups[0]["lr"] == 0.05 and b_opt.param_groups[1]["lr"] == 0.01


def test_updates_in_place_and_keeps_identity():
    w = bw.randn(3, 2, requires_grad=True)
    arr = w._data
    opt = optim.Adam([w], lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert w._data is arr
    assert opt.param_groups[0]["params"][0] is w
    assert w.dtype == bw.float32


def test_numpy_float64_hyperparameters_do_not_promote_float32():
    w = bw.randn(3, requires_grad=True)
    opt = optim.SGD([w], lr=np.float64(0.1), momentum=np.float64(0.5), weight_decay=np.float64(0.01))
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert w.dtype == bw.float32
    assert opt.state[w]["momentum_buffer"].dtype == bw.float32


def test_step_bumps_the_version_so_stale_graphs_refuse_backward():
    w = bw.randn(3, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    y = (w * w).sum()  # saves w
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_closure_is_evaluated_with_grad_and_its_loss_returned():
    w = bw.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with bw.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.5, 1.0])


def test_zero_grad_to_none_or_to_zeros():
    w = bw.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and not g.numpy().any()
    opt.zero_grad()
    assert w.grad is None


def test_tied_parameter_listed_twice_is_kept_once_and_updated_once():
    w = bw.tensor([1.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="more than once"):
        opt = optim.SGD([w, w], lr=0.5)
    assert len(opt.param_groups[0]["params"]) == 1
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0])  # once: 1 - 0.5 * 2


def test_named_parameters_are_accepted_and_their_names_kept():
    a, b = bw.ones(2, requires_grad=True), bw.ones(3, requires_grad=True)
    opt = optim.SGD([("a", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b] or opt.param_groups[0]["params"][0] is a
    assert opt.param_groups[0]["param_names"] == ["a", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_bad_arguments_raise_clear_errors():
    w = bw.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="single tensor"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="got a set"):
        optim.SGD({w}, lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [w]})
    with pytest.raises(TypeError, match="can only optimize tensors"):
        optim.SGD([("x", 3.0)], lr=0.1)


def test_add_param_group_takes_defaults():
    a, b = bw.ones(2, requires_grad=True), bw.ones(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01


def test_parameters_without_grad_are_skipped_and_get_no_state():
    a, b = bw.ones(2, requires_grad=True), bw.ones(2, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    assert a in opt.state and b not in opt.state
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert list(opt.state_dict()["state"]) == [0]


# -- state dicts ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), [
    ("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("AdamW", {"lr": 0.01}), ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
])
def test_state_dict_has_torch_layout(name, kwargs):
    _, _, b_opt, t_opt = _run(getattr(optim, name), getattr(torch.optim, name), kwargs, np.float32,
                              steps=3)
    b_sd, t_sd = b_opt.state_dict(), t_opt.state_dict()
    assert set(b_sd) == {"state", "param_groups"}
    # PyTorch's Adagrad fills its state in the constructor, brickwork at the first update
    # (lazy parameters have no shape before): parameters that never had a gradient differ
    with_grad = [i for i, p in enumerate(b_opt.param_groups[0]["params"]) if p.grad is not None]
    assert sorted(b_sd["state"]) == with_grad
    assert set(with_grad) <= set(t_sd["state"])
    for index in with_grad:
        t_state = t_sd["state"][index]
        assert set(b_sd["state"][index]) == set(t_state)
        for key, value in t_state.items():
            np.testing.assert_allclose(b_sd["state"][index][key].numpy(), value.numpy(), rtol=1e-4,
                                       atol=1e-6, err_msg=f"{index}.{key}")
    assert b_sd["state"][0].get("step") is None or b_sd["state"][0]["step"].dtype == bw.float32
    for b_group, t_group in zip(b_sd["param_groups"], t_sd["param_groups"]):
        assert b_group["params"] == t_group["params"]
        for key, value in b_group.items():
            assert t_group[key] == value, key


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_state_dict_round_trip_resumes_exactly(name):
    kwargs = {"SGD": {"lr": 0.1, "momentum": 0.9}, "Adam": {"lr": 0.01, "amsgrad": True},
              "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
              "Adagrad": {"lr": 0.1}}[name]
    cls = getattr(optim, name)
    X, y = (bw.tensor(a) for a in _data(np.float32))
    init = _initial(np.float32)

    def train(params, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(params, X, y, bw).backward()
            opt.step()

    straight = {k: bw.tensor(v, requires_grad=True) for k, v in init.items()}
    opt = cls(list(straight.values()), **kwargs)
    train(straight, opt, 10)
    snapshot_params = {k: v.detach().clone() for k, v in straight.items()}
    snapshot = copy.deepcopy(opt.state_dict())
    train(straight, opt, 10)

    resumed = {k: bw.tensor(v.numpy(), requires_grad=True) for k, v in snapshot_params.items()}
    opt2 = cls(list(resumed.values()), lr=123.0)  # options come back from the state dict
    opt2.load_state_dict(snapshot)
    assert opt2.param_groups[0]["lr"] == kwargs["lr"]
    train(resumed, opt2, 10)
    for k in straight:
        np.testing.assert_array_equal(resumed[k].detach().numpy(), straight[k].detach().numpy(), err_msg=k)


def test_load_state_dict_from_torch_continues_like_torch():
    init = _initial(np.float32)
    X, y = _data(np.float32)
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
    t_opt = torch.optim.Adam(list(tp.values()), lr=0.01, betas=(0.8, 0.9))
    tX, ty = torch.tensor(X), torch.tensor(y)

    def t_steps(n):
        for _ in range(n):
            t_opt.zero_grad()
            _loss(tp, tX, ty, torch).backward()
            t_opt.step()

    t_steps(5)
    t_sd = t_opt.state_dict()
    converted = {
        "state": {i: {k: bw.tensor(v.numpy()) for k, v in s.items()} for i, s in t_sd["state"].items()},
        "param_groups": [dict(g) for g in t_sd["param_groups"]],
    }
    bp = {k: bw.tensor(v.detach().numpy().copy(), requires_grad=True) for k, v in tp.items()}
    b_opt = optim.Adam(list(bp.values()))
    b_opt.load_state_dict(converted)
    bX, by = bw.tensor(X), bw.tensor(y)
    for _ in range(10):
        b_opt.zero_grad()
        _loss(bp, bX, by, bw).backward()
        b_opt.step()
    t_steps(10)
    _assert_params_close(bp, tp, np.float32)


def test_load_state_dict_checks_sizes_and_shapes():
    a, b = bw.ones(2, requires_grad=True), bw.ones(3, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="group 0 has 1 parameter"):
        optim.Adam([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"2 parameter group\(s\) but the state dict has 1"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(
            {"state": {}, "param_groups": [sd["param_groups"][0]]}
        )
    c, d = bw.ones(5, requires_grad=True), bw.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(2,\) but the parameter has "
                                         r"shape \(5,\)"):
        optim.Adam([c, d]).load_state_dict(sd)


def test_load_state_dict_accepts_string_keys_lists_and_plain_steps():
    w = bw.ones(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    sd = opt.state_dict()
    # what a file format without int keys or tuples may give back
    mangled = {"state": {"0": {**sd["state"][0], "step": 1}},
               "param_groups": [{**sd["param_groups"][0], "betas": [0.9, 0.999]}]}
    opt2 = optim.Adam([w])
    opt2.load_state_dict(mangled)
    assert opt2.param_groups[0]["betas"] == (0.9, 0.999)
    assert isinstance(opt2.state[w]["step"], bw.Tensor) and float(opt2.state[w]["step"]) == 1.0
    assert opt2.state[w]["exp_avg"]._data is not sd["state"][0]["exp_avg"]._data  # copied


def test_repr_lists_the_groups():
    opt = optim.SGD([bw.ones(1, requires_grad=True)], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "lr: 0.1" in text


def test_no_warning_in_a_plain_training_step():
    w = bw.ones(2, requires_grad=True)
    opt = optim.Adam([w])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (w * w).sum().backward()
        opt.step()


# -- Parameters, lazy modules, tied weights -------------------------------------------


class LazyScale(bw.nn.Module):
    """y = x * weight, with weight's size taken from the first input."""

    def __init__(self):
        super().__init__()
        self.weight = bw.nn.Parameter.pending((None,))

    def infer_shape(self, x):
        self.weight.materialize((x.shape[-1],))

    def reset_parameters(self):
        with bw.no_grad():
            self.weight.fill_(1.0)

    def forward(self, x):
        return x * self.weight


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_built_before_the_first_forward_of_a_lazy_model(name):
    model = LazyScale()
    opt = getattr(optim, name)(model.parameters(), lr=0.1)
    assert model.weight.is_pending
    opt.zero_grad()
    opt.step()  # nothing to do yet: no gradients, no state
    assert opt.state_dict()["state"] == {}
    x = bw.tensor([[1.0, 2.0, 3.0]])
    for _ in range(3):
        opt.zero_grad()
        ((model(x) - 2.0) ** 2).sum().backward()
        opt.step()
    assert opt.param_groups[0]["params"][0] is model.weight
    assert model.weight.shape == (3,)
    assert not np.allclose(model.weight.detach().numpy(), 1.0)
    for key, value in opt.state[model.weight].items():
        if key != "step":
            assert value.shape == (3,), key


def test_state_dict_loads_into_a_lazy_model_that_is_not_materialised_yet():
    model = LazyScale()
    opt = optim.Adam(model.parameters(), lr=0.1)
    x = bw.tensor([[1.0, 2.0]])
    (model(x) ** 2).sum().backward()
    opt.step()
    saved = copy.deepcopy(opt.state_dict())
    fresh = LazyScale()
    opt2 = optim.Adam(fresh.parameters(), lr=0.1)
    opt2.load_state_dict(saved)  # the parameter is still pending: state is kept as saved
    assert fresh.weight.is_pending
    fresh.load_state_dict(model.state_dict())
    opt.zero_grad()
    (fresh(x) ** 2).sum().backward()
    (model(x) ** 2).sum().backward()
    opt.step()
    opt2.step()
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())


def test_tied_weights_in_a_module_are_updated_once():
    class Tied(bw.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = bw.nn.Parameter(bw.ones(2))
            self.b = self.a

        def forward(self, x):
            return (x * self.a + x * self.b).sum()

    model = Tied()
    params = list(model.parameters())
    assert len(params) == 1
    opt = optim.SGD(params, lr=0.25)
    model(bw.ones(2)).backward()  # d/da = 2 (both uses)
    opt.step()
    np.testing.assert_allclose(model.a.detach().numpy(), [0.5, 0.5])
    assert model.b is model.a


def test_a_failed_update_names_the_parameter_and_the_device_cause():
    from brickwork.autograd import _wrap

    a, b = bw.ones(2, requires_grad=True), bw.ones(3, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    opt.state[b]["exp_avg"] = _wrap(np.zeros(5, np.float32), b._device)  # corrupted state
    with pytest.raises(RuntimeError, match=r"Adam.step: updating parameter 1 \(shape \(3,\), "):
        opt.step()
    # state left behind on another device (simulated: a CUDA-tagged buffer on this machine)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.step()
    opt.state[a]["momentum_buffer"] = _wrap([0.0, 0.0], bw.device("cuda:0"))
    expected = "'momentum_buffer' of parameter 0 is on cuda:0 but the parameter is now on cpu"
    with pytest.raises(RuntimeError, match=expected):
        opt.step()


def test_checkpoint_through_bw_save_resumes_exactly(tmp_path):
    X, y = (bw.tensor(arr) for arr in _data(np.float32))
    init = _initial(np.float32)

    def setup():
        params = {k: bw.tensor(v, requires_grad=True) for k, v in init.items()}
        opt = optim.Adam(list(params.values()), lr=0.01, amsgrad=True)
        return params, opt, optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

    def train(params, opt, sched, steps):
        for _ in range(steps):
            opt.zero_grad()
            _loss(params, X, y, bw).backward()
            opt.step()
            sched.step()

    params, opt, sched = setup()
    train(params, opt, sched, 10)
    expected = {k: v.detach().numpy().copy() for k, v in params.items()}

    params, opt, sched = setup()
    train(params, opt, sched, 4)
    bw.save({"model": {k: v.detach() for k, v in params.items()}, "optim": opt.state_dict(),
             "sched": sched.state_dict()}, tmp_path / "ckpt.safetensors")
    ckpt = bw.load(tmp_path / "ckpt.safetensors")
    params2, opt2, sched2 = setup()
    with bw.no_grad():
        for k, v in params2.items():
            v.copy_(ckpt["model"][k])
    opt2.load_state_dict(ckpt["optim"])
    sched2.load_state_dict(ckpt["sched"])
    train(params2, opt2, sched2, 6)
    for k, v in params2.items():
        np.testing.assert_array_equal(v.detach().numpy(), expected[k], err_msg=k)
