"""Learning-rate schedules against torch.optim.lr_scheduler over 50+ steps."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import brickwork as bw
from brickwork import optim
from brickwork.optim import lr_scheduler as bls

tls = torch.optim.lr_scheduler
STEPS = 60


def _pair(opt_name="SGD", groups=1, **opt_kwargs):
    opt_kwargs.setdefault("lr", 0.1)
    b_params = [bw.zeros(2, requires_grad=True) for _ in range(groups)]
    t_params = [torch.zeros(2, requires_grad=True) for _ in range(groups)]
    if groups == 1:
        b_opt = getattr(optim, opt_name)(b_params, **opt_kwargs)
        t_opt = getattr(torch.optim, opt_name)(t_params, **opt_kwargs)
    else:
        lrs = [opt_kwargs["lr"] * (i + 1) for i in range(groups)]
        b_opt = getattr(optim, opt_name)([{"params": [p], "lr": lr} for p, lr in zip(b_params, lrs)],
                                         **opt_kwargs)
        t_opt = getattr(torch.optim, opt_name)([{"params": [p], "lr": lr} for p, lr in zip(t_params, lrs)],
                                               **opt_kwargs)
    return b_opt, t_opt


def _sequence(opt, scheds, steps=STEPS, extra=None):
    """The learning rates (and momentum/betas) seen by each optimiser step."""
    seen = []
    for _ in range(steps):
        opt.step()
        seen.append([g["lr"] for g in opt.param_groups]
                    + [g.get("momentum", g.get("betas", (0,))[0]) for g in opt.param_groups])
        assert scheds[-1].get_last_lr() == [g["lr"] for g in opt.param_groups]
        for s in scheds:
            s.step()
    return np.array(seen, dtype=np.float64)


SCHEDULES = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 40], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 20}),
    ("CosineAnnealingLR", {"T_max": 15, "eta_min": 0.01}),
    ("LambdaLR", {"lr_lambda": lambda e: 1.0 / (1 + e) ** 0.5}),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS}),
    ("OneCycleLR", {"max_lr": 0.5, "epochs": 6, "steps_per_epoch": 10, "pct_start": 0.25,
                    "anneal_strategy": "linear"}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "three_phase": True, "div_factor": 10.0,
                    "final_div_factor": 100.0}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "cycle_momentum": False}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": STEPS, "base_momentum": 0.7, "max_momentum": 0.9,
                    "three_phase": True, "anneal_strategy": "linear"}),
    # optim breadth (issue 11)
    ("MultiplicativeLR", {"lr_lambda": lambda e: 0.95}),
    ("MultiplicativeLR", {"lr_lambda": lambda e: 1.0 - 0.01 * (e % 5)}),
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 12}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 30}),
    ("PolynomialLR", {}),
    ("PolynomialLR", {"total_iters": 40, "power": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "step_size_down": 5,
                  "mode": "triangular2"}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 5, "mode": "exp_range",
                  "gamma": 0.97, "base_momentum": 0.7, "max_momentum": 0.95}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "scale_fn": lambda x: 0.9**x,
                  "scale_mode": "iterations", "cycle_momentum": False}),
]


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize(("name", "kwargs"), SCHEDULES,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULES)])
def test_lr_sequence_matches_torch(name, kwargs, groups):
    b_opt, t_opt = _pair(groups=groups, momentum=0.9)
    b_seq = _sequence(b_opt, [getattr(bls, name)(b_opt, **kwargs)])
    t_seq = _sequence(t_opt, [getattr(tls, name)(t_opt, **kwargs)])
    np.testing.assert_allclose(b_seq, t_seq, rtol=1e-12, atol=1e-15)
    assert len(np.unique(b_seq[:, 0])) > 1  # the schedule really changes the rate


def test_one_cycle_cycles_adam_beta1_like_torch():
    b_opt, t_opt = _pair("Adam", lr=0.01)
    b_seq = _sequence(b_opt, [bls.OneCycleLR(b_opt, max_lr=0.1, total_steps=STEPS)])
    t_seq = _sequence(t_opt, [tls.OneCycleLR(t_opt, max_lr=0.1, total_steps=STEPS)])
    np.testing.assert_allclose(b_seq, t_seq, rtol=1e-12)
    assert b_opt.param_groups[0]["betas"][1] == 0.999


def test_one_cycle_refuses_too_many_steps_and_bad_arguments():
    opt, _ = _pair()
    sched = bls.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="total_steps is 3"):
        sched.step()
    with pytest.raises(ValueError, match="total_steps, or both epochs"):
        bls.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="anneal_strategy"):
        bls.OneCycleLR(opt, max_lr=1.0, total_steps=3, anneal_strategy="exp")
    no_momentum = optim.Adagrad([bw.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="Adagrad has neither"):
        bls.OneCycleLR(no_momentum, max_lr=1.0, total_steps=3)


def test_chained_schedulers_compose_like_torch():
    b_opt, t_opt = _pair()
    b = [bls.ExponentialLR(b_opt, gamma=0.97), bls.StepLR(b_opt, step_size=10, gamma=0.5),
         bls.CosineAnnealingLR(b_opt, T_max=25)]
    t = [tls.ExponentialLR(t_opt, gamma=0.97), tls.StepLR(t_opt, step_size=10, gamma=0.5),
         tls.CosineAnnealingLR(t_opt, T_max=25)]
    np.testing.assert_allclose(_sequence(b_opt, b), _sequence(t_opt, t), rtol=1e-10)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR"])
def test_step_with_epoch_uses_the_closed_form_like_torch(name):
    kwargs = {"StepLR": {"step_size": 4}, "MultiStepLR": {"milestones": [3, 9]},
              "ExponentialLR": {"gamma": 0.9}, "CosineAnnealingLR": {"T_max": 10}}[name]
    b_opt, t_opt = _pair()
    b_s, t_s = getattr(bls, name)(b_opt, **kwargs), getattr(tls, name)(t_opt, **kwargs)
    b_opt.step()
    t_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (5, 2, 11):
            b_s.step(epoch)
            t_s.step(epoch)
            assert b_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), [s for s in SCHEDULES if s[0] != "LambdaLR"][:8],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_state_dict_resumes_the_schedule(name, kwargs):
    opt, _ = _pair(momentum=0.9)
    sched = getattr(bls, name)(opt, **kwargs)
    full = _sequence(opt, [sched], steps=40)

    opt2, _ = _pair(momentum=0.9)
    sched2 = getattr(bls, name)(opt2, **kwargs)
    first = _sequence(opt2, [sched2], steps=15)
    saved_opt, saved_sched = copy.deepcopy(opt2.state_dict()), copy.deepcopy(sched2.state_dict())
    assert "optimizer" not in saved_sched

    opt3, _ = _pair(momentum=0.9)
    sched3 = getattr(bls, name)(opt3, **kwargs)
    opt3.load_state_dict(saved_opt)
    sched3.load_state_dict(saved_sched)
    rest = _sequence(opt3, [sched3], steps=25)
    np.testing.assert_allclose(np.concatenate([first, rest]), full, rtol=1e-12)


def test_lambda_lr_per_group_and_state_dict_of_callable_objects():
    class Warmup:
        def __init__(self):
            self.warmup = 5

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.warmup)

    b_opt, t_opt = _pair(groups=2)
    fns = [Warmup(), lambda e: 0.9**e]
    b_seq = _sequence(b_opt, [bls.LambdaLR(b_opt, fns)])
    t_seq = _sequence(t_opt, [tls.LambdaLR(t_opt, fns)])
    np.testing.assert_allclose(b_seq, t_seq, rtol=1e-12)
    sched = bls.LambdaLR(b_opt, fns)
    state = sched.state_dict()
    assert state["lr_lambdas"] == [{"warmup": 5}, None]
    fns[0].warmup = 99
    sched.load_state_dict(state)
    assert fns[0].warmup == 5
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        bls.LambdaLR(b_opt, [fns[0]])


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.9, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7, 0.8, 0.45,
           0.46, 0.47, 0.48, 0.49, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("kwargs", [
    {"patience": 2},
    {"patience": 0, "factor": 0.5},
    {"patience": 1, "cooldown": 2, "factor": 0.5},
    {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"mode": "max", "patience": 0, "threshold_mode": "abs", "min_lr": 0.02},
    {"patience": 0, "factor": 0.5, "min_lr": [0.03, 0.01]},
])
def test_reduce_on_plateau_matches_torch(kwargs):
    b_opt, t_opt = _pair(groups=2)
    b_s, t_s = bls.ReduceLROnPlateau(b_opt, **kwargs), tls.ReduceLROnPlateau(t_opt, **kwargs)
    seen_b, seen_t = [], []
    for m in METRICS:
        b_opt.step()
        t_opt.step()
        b_s.step(m)
        t_s.step(m)
        seen_b.append(b_s.get_last_lr())
        seen_t.append(t_s.get_last_lr())
    np.testing.assert_allclose(seen_b, seen_t, rtol=1e-12)
    assert len({tuple(x) for x in seen_b}) > 1


def test_reduce_on_plateau_takes_a_tensor_metric_and_checks_arguments():
    opt, _ = _pair()
    sched = bls.ReduceLROnPlateau(opt, patience=0)
    sched.step(bw.tensor(1.0))
    sched.step(bw.tensor(2.0))
    assert sched.get_last_lr() == [pytest.approx(0.01)]
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        bls.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be"):
        bls.ReduceLROnPlateau(opt, mode="up")


def test_initial_lr_and_resume_errors():
    opt, _ = _pair(lr=0.5)
    bls.StepLR(opt, step_size=2)
    assert opt.param_groups[0]["initial_lr"] == 0.5
    fresh, _ = _pair()
    with pytest.raises(KeyError, match="initial_lr"):
        bls.StepLR(fresh, step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        bls.StepLR(object(), step_size=2)


def test_warns_when_stepped_before_the_optimizer():
    opt, _ = _pair()
    sched = bls.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    opt2, _ = _pair()
    sched2 = bls.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


def test_cosine_value_at_t_max_is_eta_min():
    opt, _ = _pair(lr=1.0)
    sched = bls.CosineAnnealingLR(opt, T_max=10, eta_min=0.1)
    for _ in range(10):
        opt.step()
        sched.step()
    assert math.isclose(sched.get_last_lr()[0], 0.1, rel_tol=1e-12)


# -- optim breadth (issue 11) ---------------------------------------------------------------


def _sequential(lib, opt):
    return lib.SequentialLR(opt, [lib.LinearLR(opt, start_factor=0.1, total_iters=5),
                                  lib.ExponentialLR(opt, gamma=0.9),
                                  lib.CosineAnnealingLR(opt, T_max=10)], milestones=[5, 25])


@pytest.mark.parametrize("groups", [1, 2])
def test_sequential_lr_matches_torch(groups):
    b_opt, t_opt = _pair(groups=groups)
    b_seq = _sequence(b_opt, [_sequential(bls, b_opt)])
    t_seq = _sequence(t_opt, [_sequential(tls, t_opt)])
    np.testing.assert_allclose(b_seq, t_seq, rtol=1e-12, atol=1e-15)


def test_sequential_lr_state_dict_resumes():
    opt, _ = _pair()
    full = _sequence(opt, [_sequential(bls, opt)], steps=40)
    opt2, _ = _pair()
    sched2 = _sequential(bls, opt2)
    first = _sequence(opt2, [sched2], steps=12)
    saved_opt, saved_sched = copy.deepcopy(opt2.state_dict()), copy.deepcopy(sched2.state_dict())
    opt3, _ = _pair()
    sched3 = _sequential(bls, opt3)
    opt3.load_state_dict(saved_opt)
    sched3.load_state_dict(saved_sched)
    rest = _sequence(opt3, [sched3], steps=28)
    np.testing.assert_allclose(np.concatenate([first, rest]), full, rtol=1e-12)


def test_cyclic_lr_cycles_adam_beta1_like_torch():
    b_opt, t_opt = _pair("Adam", lr=0.01)
    kwargs = {"base_lr": 0.001, "max_lr": 0.01, "step_size_up": 6, "base_momentum": 0.8,
              "max_momentum": 0.95}
    b_seq = _sequence(b_opt, [bls.CyclicLR(b_opt, **kwargs)])
    t_seq = _sequence(t_opt, [tls.CyclicLR(t_opt, **kwargs)])
    np.testing.assert_allclose(b_seq, t_seq, rtol=1e-12)


def test_warm_restarts_with_fractional_epochs_match_torch():
    b_opt, t_opt = _pair()
    b_s = bls.CosineAnnealingWarmRestarts(b_opt, T_0=2, T_mult=2, eta_min=0.001)
    t_s = tls.CosineAnnealingWarmRestarts(t_opt, T_0=2, T_mult=2, eta_min=0.001)
    for epoch in range(9):
        for batch in range(4):
            b_opt.step()
            t_opt.step()
            b_s.step(epoch + batch / 4)
            t_s.step(epoch + batch / 4)
            assert b_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), [("ConstantLR", {"factor": 0.25, "total_iters": 6}),
                                              ("LinearLR", {"start_factor": 0.2, "total_iters": 8}),
                                              ("PolynomialLR", {"total_iters": 9, "power": 1.5})])
def test_new_schedulers_closed_form_matches_torch(name, kwargs):
    b_opt, t_opt = _pair()
    b_s, t_s = getattr(bls, name)(b_opt, **kwargs), getattr(tls, name)(t_opt, **kwargs)
    b_opt.step()
    t_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in (3, 1, 7, 20):
            b_s.step(epoch)
            t_s.step(epoch)
            assert b_s.get_last_lr() == pytest.approx(t_s.get_last_lr(), rel=1e-12)


@pytest.mark.parametrize(("name", "kwargs"), [s for s in SCHEDULES if s[0] in (
    "ConstantLR", "LinearLR", "PolynomialLR", "CosineAnnealingWarmRestarts", "CyclicLR")][:8],
    ids=lambda v: v if isinstance(v, str) else "")
def test_new_schedulers_state_dict_resumes(name, kwargs):
    test_state_dict_resumes_the_schedule(name, kwargs)


def test_new_schedulers_check_their_arguments():
    opt, _ = _pair()
    with pytest.raises(ValueError, match="ConstantLR: factor"):
        bls.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="LinearLR: start_factor"):
        bls.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="positive integer T_0"):
        bls.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="CyclicLR: mode"):
        bls.CyclicLR(opt, base_lr=0.1, max_lr=1.0, mode="square")
    with pytest.raises(ValueError, match="neither 'momentum' nor 'betas'"):
        bls.CyclicLR(optim.Adagrad([bw.zeros(1, requires_grad=True)]), base_lr=0.1, max_lr=1.0)
    with pytest.raises(ValueError, match="expected 1 milestone"):
        bls.SequentialLR(opt, [bls.ConstantLR(opt), bls.LinearLR(opt)], milestones=[2, 4])
    other, _ = _pair()
    with pytest.raises(ValueError, match="another optimizer"):
        bls.SequentialLR(opt, [bls.ConstantLR(opt), bls.LinearLR(other)], milestones=[2])
    with pytest.raises(ValueError, match="MultiplicativeLR: expected 1 lr_lambdas"):
        bls.MultiplicativeLR(opt, [lambda e: 1.0, lambda e: 1.0])
