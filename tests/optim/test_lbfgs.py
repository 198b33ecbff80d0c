"""LBFGS against torch.optim.LBFGS, step by step: Rosenbrock, least squares and a small MLP.

Each problem is written once for both libraries (``lib`` is brickwork or torch). After every
``step(closure)`` the returned loss, the parameters, the closure's call count and the state's
counters must agree. Float64 runs are compared tightly; the iteration amplifies rounding (the
fixed-step Rosenbrock run most), so runs are kept short enough that both libraries stay on the same
path, and float32 is compared on the well-conditioned problems only.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import optim

RNG = np.random.default_rng(5)
X_REG = RNG.standard_normal((20, 3))
Y_REG = X_REG @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * RNG.standard_normal(20)
X_MLP = RNG.standard_normal((16, 3))
Y_MLP = np.sin(X_MLP.sum(1, keepdims=True))


def _rosenbrock_params():
    return {"xy": np.array([-1.5, 2.0])}


def _rosenbrock(lib, p):
    x, y = p["xy"][0], p["xy"][1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def _regression_params():
    return {"w": np.zeros(3), "b": np.zeros(()), "unused": np.ones(2)}


def _regression(lib, p, dtype):
    X, y = (lib.tensor(a.astype(dtype)).to(p["w"].device) for a in (X_REG, Y_REG))
    return ((X @ p["w"] + p["b"] - y) ** 2).mean()


def _mlp_params():
    rng = np.random.default_rng(7)
    return {"W1": rng.standard_normal((3, 5)) * 0.5, "b1": np.zeros(5),
            "W2": rng.standard_normal((5, 1)) * 0.5, "b2": np.zeros(1)}


def _mlp(lib, p, dtype):
    X, y = (lib.tensor(a.astype(dtype)).to(p["W1"].device) for a in (X_MLP, Y_MLP))
    hidden = lib.tanh(X @ p["W1"] + p["b1"])
    return ((hidden @ p["W2"] + p["b2"] - y) ** 2).mean()


PROBLEMS = {
    "rosenbrock": (_rosenbrock_params, lambda lib, p, dtype: _rosenbrock(lib, p)),
    "regression": (_regression_params, _regression),
    "mlp": (_mlp_params, _mlp),
}


def _run(lib, problem, kwargs, dtype, steps, device="cpu"):
    """Per step: (returned loss, parameters, closure calls, func_evals, n_iter); and the optimiser."""
    make, loss_fn = PROBLEMS[problem]
    extra = {"device": device} if lib is bw else {}
    params = {k: lib.tensor(v.astype(dtype), requires_grad=True, **extra) for k, v in make().items()}
    opt = lib.optim.LBFGS(list(params.values()), **kwargs)
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = loss_fn(lib, params, dtype)
        loss.backward()
        return loss

    history = []
    first = next(iter(params.values()))
    for _ in range(steps):
        loss = opt.step(closure)
        state = opt.state[first]
        history.append((float(loss.detach()), {k: _host(v) for k, v in params.items()}, calls[0],
                        state["func_evals"], state["n_iter"]))
    return history, opt, params


def _host(t):
    return t.detach().cpu().numpy().copy()


def _assert_same_path(b_hist, t_hist, rtol, atol):
    for step, (b, t) in enumerate(zip(b_hist, t_hist)):
        assert b[2:] == t[2:], f"step {step}: (closure calls, func_evals, n_iter) {b[2:]} vs torch {t[2:]}"
        np.testing.assert_allclose(b[0], t[0], rtol=rtol, atol=atol, err_msg=f"loss at step {step}")
        for k in t[1]:
            np.testing.assert_allclose(b[1][k], t[1][k], rtol=rtol, atol=atol, err_msg=f"{k} at step {step}")


# (problem, options, steps)
CASES = [
    ("rosenbrock", {}, 2),
    ("rosenbrock", {"line_search_fn": "strong_wolfe"}, 5),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 5, "max_eval": 6}, 5),
    ("rosenbrock", {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 3}, 5),
    ("rosenbrock", {"lr": 0.1, "history_size": 3, "max_iter": 7}, 2),
    ("rosenbrock", {"tolerance_change": 1e-3}, 2),
    ("regression", {"tolerance_change": 1e-3, "max_iter": 50}, 2),
    ("regression", {}, 3),
    ("regression", {"lr": 0.5, "history_size": 2}, 4),
    ("regression", {"line_search_fn": "strong_wolfe"}, 3),
    ("regression", {"max_iter": 4, "max_eval": 3}, 4),
    ("regression", {"tolerance_grad": 1e-2}, 3),
    ("mlp", {"max_iter": 5}, 4),
    ("mlp", {"line_search_fn": "strong_wolfe", "history_size": 5, "max_iter": 5}, 4),
    ("mlp", {"lr": 0.3, "max_iter": 10, "history_size": 3}, 4),
]


@pytest.mark.parametrize(("problem", "kwargs", "steps"), CASES, ids=[f"{p}-{k}" for p, k, _ in CASES])
def test_matches_torch_step_by_step_float64(problem, kwargs, steps, device):
    b_hist, b_opt, b_params = _run(bw, problem, kwargs, np.float64, steps, device)
    t_hist, _, _ = _run(torch, problem, kwargs, np.float64, steps)
    _assert_same_path(b_hist, t_hist, rtol=1e-9, atol=1e-11)
    assert all(p.dtype == bw.float64 and p.device == device for p in b_params.values())


@pytest.mark.parametrize(("problem", "kwargs"), [
    ("regression", {}), ("regression", {"line_search_fn": "strong_wolfe"}),
    ("mlp", {"history_size": 4, "max_iter": 5}),
])
def test_matches_torch_in_float32_and_stays_float32(problem, kwargs, device):
    b_hist, b_opt, b_params = _run(bw, problem, kwargs, np.float32, 2, device)
    t_hist, _, _ = _run(torch, problem, kwargs, np.float32, 2)
    _assert_same_path(b_hist, t_hist, rtol=2e-4, atol=2e-5)
    state = b_opt.state[next(iter(b_params.values()))]
    for key in ("d", "prev_flat_grad"):
        assert state[key].dtype == bw.float32 and state[key].device == device, key
    assert all(v.dtype == bw.float32 for v in state["old_dirs"] + state["old_stps"])
    assert all(p.dtype == bw.float32 for p in b_params.values())


def test_converges_on_rosenbrock_with_the_line_search():
    history, _, params = _run(bw, "rosenbrock", {"line_search_fn": "strong_wolfe"}, np.float64, 4)
    np.testing.assert_allclose(params["xy"].detach().numpy(), [1.0, 1.0], atol=1e-5)
    assert history[-1][0] < 1e-9


def test_a_step_at_the_optimum_evaluates_once_and_stops():
    w = bw.zeros(3, dtype=bw.float64, requires_grad=True)
    opt = optim.LBFGS([w])
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0
    assert calls == [1] and opt.state[w] == {"func_evals": 1, "n_iter": 0}


def test_state_has_torch_keys_and_values():
    kwargs = {"history_size": 3, "max_iter": 5}
    _, b_opt, b_params = _run(bw, "mlp", kwargs, np.float64, 2)
    _, t_opt, _ = _run(torch, "mlp", kwargs, np.float64, 2)
    b_sd, t_sd = b_opt.state_dict(), t_opt.state_dict()
    assert list(b_sd["state"]) == list(t_sd["state"]) == [0]
    b_state, t_state = b_sd["state"][0], t_sd["state"][0]
    assert set(b_state) == set(t_state)
    for key, t_value in t_state.items():
        b_value = b_state[key]
        if isinstance(t_value, list):
            assert len(b_value) == len(t_value), key
            pairs = list(zip(b_value, t_value))
        else:
            pairs = [(b_value, t_value)]
        for b_item, t_item in pairs:
            if isinstance(t_item, torch.Tensor):
                np.testing.assert_allclose(np.asarray(b_item.numpy()), t_item.numpy(), rtol=1e-9, err_msg=key)
            else:
                assert b_item == pytest.approx(t_item), key
    for b_group, t_group in zip(b_sd["param_groups"], t_sd["param_groups"]):
        assert {k: v for k, v in b_group.items()} == {k: v for k, v in t_group.items()}


def _resume_check(snapshot_fn):
    """Train 2 steps, snapshot the optimiser, train 2 more; a fresh optimiser loaded from the snapshot
    (through ``snapshot_fn``) must retrace the last 2 steps exactly."""
    kwargs = {"line_search_fn": "strong_wolfe", "history_size": 3, "max_iter": 4}
    make, loss_fn = PROBLEMS["mlp"]

    def setup(values):
        params = {k: bw.tensor(v, requires_grad=True) for k, v in values.items()}
        return params, optim.LBFGS(list(params.values()), **kwargs)

    def train(params, opt, steps):
        def closure():
            opt.zero_grad()
            loss = loss_fn(bw, params, np.float64)
            loss.backward()
            return loss

        return [float(opt.step(closure)) for _ in range(steps)]

    params, opt = setup(make())
    train(params, opt, 2)
    saved_params = {k: v.detach().numpy().copy() for k, v in params.items()}
    snapshot = snapshot_fn(opt.state_dict())
    straight = train(params, opt, 2)

    resumed_params, resumed = setup(saved_params)
    resumed.load_state_dict(snapshot)
    again = train(resumed_params, resumed, 2)
    assert again == straight
    for k in params:
        np.testing.assert_array_equal(resumed_params[k].detach().numpy(), params[k].detach().numpy(),
                                      err_msg=k)
    state = resumed.state[resumed_params["W1"]]
    assert state["n_iter"] == opt.state[params["W1"]]["n_iter"]


def test_state_dict_round_trip_resumes_exactly():
    _resume_check(copy.deepcopy)


def test_checkpoint_through_bw_save_resumes_exactly(tmp_path):
    def through_file(sd):
        bw.save(sd, tmp_path / "lbfgs.safetensors")
        return bw.load(tmp_path / "lbfgs.safetensors")

    _resume_check(through_file)


def test_load_state_dict_copies_the_history_lists():
    _, opt, params = _run(bw, "regression", {"history_size": 3}, np.float64, 2)
    sd = opt.state_dict()
    fresh = optim.LBFGS(list(params.values()), history_size=3)
    fresh.load_state_dict(sd)
    loaded = fresh.state[params["w"]]
    assert loaded["old_dirs"] is not sd["state"][0]["old_dirs"]
    assert loaded["old_dirs"][0]._data is not sd["state"][0]["old_dirs"][0]._data
    wrong = optim.LBFGS([bw.zeros(n, dtype=bw.float64, requires_grad=True) for n in (2, 1, 1)])
    with pytest.raises(ValueError, match="state 'd' has 6 elements but the parameters have 4 in all"):
        wrong.load_state_dict(sd)


def test_load_state_dict_from_torch_continues_like_torch():
    kwargs = {"history_size": 4}
    t_hist, t_opt, t_params = _run(torch, "regression", kwargs, np.float64, 2)

    def convert(value):
        if isinstance(value, list):
            return [convert(v) for v in value]
        return bw.tensor(value.numpy()) if isinstance(value, torch.Tensor) else value

    t_sd = t_opt.state_dict()
    converted = {"state": {i: {k: convert(v) for k, v in s.items()} for i, s in t_sd["state"].items()},
                 "param_groups": [dict(g) for g in t_sd["param_groups"]]}
    b_params = {k: bw.tensor(v.detach().numpy().copy(), requires_grad=True) for k, v in t_params.items()}
    b_opt = optim.LBFGS(list(b_params.values()))
    b_opt.load_state_dict(converted)
    make, loss_fn = PROBLEMS["regression"]

    def steps(lib, opt, params):
        def closure():
            opt.zero_grad()
            loss = loss_fn(lib, params, np.float64)
            loss.backward()
            return loss

        return [float(opt.step(closure).detach()) for _ in range(2)]

    np.testing.assert_allclose(steps(bw, b_opt, b_params), steps(torch, t_opt, t_params), rtol=1e-10)
    for k in t_params:
        np.testing.assert_allclose(b_params[k].detach().numpy(), t_params[k].detach().numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=k)


def test_closure_runs_with_grad_enabled_inside_no_grad():
    w = bw.tensor([3.0], dtype=bw.float64, requires_grad=True)
    opt = optim.LBFGS([w], max_iter=3)
    modes = []

    def closure():
        modes.append(bw.is_grad_enabled())
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    with bw.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 4.0 and modes and all(modes)
    assert w._version[0] > 0  # moves bump the version, so stale graphs refuse backward


def test_parameters_keep_their_identity():
    model = bw.nn.Linear(3, 1).double()
    weight, data = model.weight, model.weight._data
    opt = optim.LBFGS(model.parameters(), max_iter=5)
    x, y = bw.randn(8, 3, dtype=bw.float64), bw.randn(8, 1, dtype=bw.float64)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    before = float(closure())
    opt.step(closure)
    assert model.weight is weight and model.weight._data is data
    assert float(closure()) < before


def test_works_on_a_lazy_model():
    model = bw.nn.Sequential(bw.nn.LazyLinear(4), bw.nn.Tanh(), bw.nn.LazyLinear(1))
    opt = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    x, y = bw.randn(10, 3), bw.randn(10, 1)

    def closure():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    first = float(opt.step(closure))
    assert float(opt.step(closure)) < first
    assert opt.state[model[0].weight]["d"].shape == (4 * 3 + 4 + 4 + 1,)


def test_bad_arguments_and_calls_raise_clear_errors():
    w = bw.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [bw.ones(1, requires_grad=True)]}])
    opt = optim.LBFGS([w])
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [bw.ones(1, requires_grad=True)]})
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="learning rate"):
        optim.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="history_size"):
        optim.LBFGS([w], history_size=0)
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step()
    mixed = optim.LBFGS([w, bw.ones(2, dtype=bw.float64, requires_grad=True)])
    with pytest.raises(RuntimeError, match="one device with one dtype"):
        mixed.step(lambda: bw.zeros(()))


def test_default_max_eval_and_repr_follow_torch():
    w = bw.ones(2, requires_grad=True)
    assert optim.LBFGS([w], max_iter=8).param_groups[0]["max_eval"] == 10
    assert optim.LBFGS([w]).defaults == torch.optim.LBFGS([torch.ones(2, requires_grad=True)]).defaults
    assert "Parameter Group 0" in repr(optim.LBFGS([w]))


def test_works_with_a_learning_rate_scheduler():
    _, b_opt, _ = _run(bw, "regression", {"lr": 0.5}, np.float64, 1)
    sched = optim.lr_scheduler.StepLR(b_opt, step_size=1, gamma=0.5)
    sched.step()
    assert b_opt.param_groups[0]["lr"] == 0.25
