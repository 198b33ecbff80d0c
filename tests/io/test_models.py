"""bw.save_model / bw.load_model: architecture from a registry, weights, ties, lazy layers."""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy

import brickwork as bw
import brickwork.io.models as models
from brickwork import nn
from brickwork.io import FileFormatError, UnknownClassError


@bw.serializable
class Dense(nn.Module):
    """Arguments recorded automatically (no get_config)."""

    def __init__(self, in_features, out_features, *, scale=1.0, act="relu"):
        super().__init__()
        self.act = act
        if in_features is None:
            self.weight = nn.Parameter.pending((out_features, None))
        else:
            self.weight = nn.Parameter(bw.randn(out_features, in_features) * scale)
        self.bias = nn.Parameter(bw.zeros(out_features))
        self.register_buffer("calls", bw.tensor(0))

    def infer_shape(self, x):
        self.weight.materialize((self.weight.template[0], x.shape[-1]))

    def reset_parameters(self):
        with bw.no_grad():
            self.weight.copy_(bw.randn(*self.weight.shape))

    def forward(self, x):
        y = x @ self.weight.T + self.bias
        return y.relu() if self.act == "relu" else y


@bw.serializable(name="tests.Block")
class Block(nn.Module):
    """Defines get_config(); builds its own children; sizes in a tuple."""

    def __init__(self, sizes=(4, 8, 4)):
        super().__init__()
        self.sizes = tuple(sizes)
        self.layers = nn.ModuleList(Dense(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def get_config(self):
        return {"sizes": self.sizes}

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


@bw.serializable
class Varargs(nn.Module):
    def __init__(self, *widths, gain=float("inf")):
        super().__init__()
        self.widths, self.gain = widths, gain
        self.scale = nn.Parameter(bw.ones(sum(widths)))


def same_parameters(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert sa[k].dtype is sb[k].dtype
        np.testing.assert_array_equal(sa[k].numpy(), sb[k].numpy())


def test_sequential_of_registered_layers_round_trip(tmp_path):
    net = nn.Sequential(
        Dense(3, 5, scale=0.5, act="none"), Block((5, 6, 2)), nn.ModuleDict({"out": Dense(2, 1)})
    )
    path = tmp_path / "net.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert type(again) is nn.Sequential and repr(again) == repr(net)
    assert again[0].act == "none" and again[1].sizes == (5, 6, 2)
    same_parameters(net, again)
    x = bw.randn(4, 3)
    np.testing.assert_array_equal(again[1](again[0](x)).detach().numpy(), net[1](net[0](x)).detach().numpy())
    # the weights are a plain state-dict file for other tools
    assert set(safetensors.numpy.load_file(path)) == set(net.state_dict())
    assert set(bw.load(path)) == set(net.state_dict())


def test_architecture_json_is_documented_shape(tmp_path):
    net = nn.Sequential(OrderedDict(first=Dense(2, 3), second=Varargs(1, 2, gain=0.5)))
    path = tmp_path / "net.safetensors"
    bw.save_model(net, path)
    with safetensors.safe_open(path, framework="np") as f:
        description = json.loads(f.metadata()["brickwork.model"])
    spec = description["spec"]
    assert spec["class"] == "nn.Sequential" and spec["config"] == {}
    first = spec["children"]["first"]
    assert first["class"] == "Dense"
    assert first["config"] == {"in_features": 2, "out_features": 3}
    assert first["parameters"] == {"weight": True, "bias": True} and first["buffers"] == ["calls"]
    second = spec["children"]["second"]
    assert second["args"] == [1, 2] and second["config"] == {"gain": 0.5}
    assert description["ties"] == {} and description["device"] == "cpu" and description["training"] is True


def test_varargs_tuples_and_non_finite_floats_survive(tmp_path):
    model = Varargs(2, 3)
    path = tmp_path / "v.safetensors"
    bw.save_model(model, path)
    again = bw.load_model(path)
    assert again.widths == (2, 3) and math.isinf(again.gain)


def test_lazy_layer_saved_after_materialisation_reloads_materialised(tmp_path):
    net = nn.Sequential(Dense(None, 4), Dense(None, 2))
    x = bw.randn(3, 5)
    y = net(x)
    path = tmp_path / "lazy.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert not again[0].weight.is_pending and tuple(again[0].weight.shape) == (4, 5)
    same_parameters(net, again)
    np.testing.assert_allclose(again(x).detach().numpy(), y.detach().numpy())


def test_pending_model_cannot_be_saved(tmp_path):
    path = tmp_path / "pending.safetensors"
    with pytest.raises(RuntimeError, match="0.weight"):
        bw.save_model(nn.Sequential(Dense(None, 4)), path)
    assert not path.exists()


def test_ties_made_after_construction_are_restored(tmp_path):
    net = nn.Sequential(Dense(4, 4), Dense(4, 4))
    net[1].weight = net[0].weight
    shared = Dense(4, 4)
    outer = nn.ModuleDict({"net": net, "a": shared, "b": shared})
    path = tmp_path / "tied.safetensors"
    bw.save_model(outer, path)
    assert "net.1.weight" not in safetensors.numpy.load_file(path)  # stored once
    again = bw.load_model(path)
    assert again["net"][1].weight is again["net"][0].weight
    assert again["a"] is again["b"]
    same_parameters(outer, again)


def test_parameter_containers_and_bare_module(tmp_path):
    root = nn.Module()
    root.plist = nn.ParameterList([nn.Parameter(bw.randn(2)), nn.Parameter(bw.ones(3), requires_grad=False)])
    root.pdict = nn.ParameterDict({"alpha": nn.Parameter(bw.tensor(0.5))})
    root.register_buffer("steps", bw.tensor([1, 2, 3]))
    path = tmp_path / "p.safetensors"
    bw.save_model(root, path)
    again = bw.load_model(path)
    assert type(again) is nn.Module and len(again.plist) == 2
    assert again.plist[0].requires_grad and not again.plist[1].requires_grad
    assert again.pdict["alpha"].item() == 0.5 and again.steps.tolist() == [1, 2, 3]
    same_parameters(root, again)


def test_dtype_training_mode_and_device_are_kept(tmp_path):
    net = nn.Sequential(Dense(2, 3)).double().eval()
    path = tmp_path / "d.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert again[0].weight.dtype is bw.float64 and again[0].calls.dtype is bw.int64
    assert not again.training and not again[0].training
    same_parameters(net, again)
    assert bw.load_model(path, map_location="cpu")[0].weight.device == bw.device("cpu")


def test_unknown_class_names_it_and_says_how_to_register(tmp_path, monkeypatch):
    @bw.serializable
    class Secret(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(bw.ones(1))

    path = tmp_path / "u.safetensors"
    bw.save_model(nn.Sequential(Secret()), path)
    name = models._names[Secret]
    monkeypatch.delitem(models._registry, name)
    with pytest.raises(UnknownClassError, match=rf"'{name}'.*at 0.*@bw.serializable"):
        bw.load_model(path)


def test_unregistered_class_cannot_be_saved(tmp_path):
    class Plain(nn.Module):
        pass

    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"Plain of 0 \(Plain\) is not registered.*@bw.serializable"):
        bw.save_model(nn.Sequential(Plain()), path)
    with pytest.raises(TypeError, match="bw.save"):
        bw.save_model({"not": "a module"}, path)
    assert not path.exists()


def test_arguments_that_are_not_json_able_need_get_config(tmp_path):
    @bw.serializable
    class TakesModule(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"TakesModule.*get_config\(\)"):
        bw.save_model(TakesModule(Dense(1, 1)), path)
    assert not path.exists()


def test_registration_rules():
    with pytest.raises(TypeError, match="Module subclass"):
        bw.serializable(int)

    class Other(nn.Module):
        pass

    with pytest.raises(ValueError, match="'Dense' is already registered"):
        bw.serializable(Other, name="Dense")
    with pytest.raises(ValueError, match="already registered"):
        bw.serializable(Other, name="nn.Sequential")
    bw.serializable(Other, name="tests.Other")
    assert models.registered_classes()["tests.Other"] is Other
    assert models.registered_classes()["Dense"] is Dense
    assert models.registered_classes()["nn.Sequential"] is nn.Sequential


def test_re_registering_a_redefined_class_replaces_it():
    def define():
        @bw.serializable
        class Redefined(nn.Module):
            pass

        return Redefined

    first, second = define(), define()
    assert first is not second
    assert models.registered_classes()[models._names[second]] is second


def test_file_without_architecture(tmp_path):
    path = tmp_path / "sd.safetensors"
    bw.save(nn.Sequential(Dense(1, 1)).state_dict(), path)
    with pytest.raises(FileFormatError, match="not written by bw.save_model.*load_state_dict"):
        bw.load_model(path)


def _rewrite_architecture(path, change):
    with safetensors.safe_open(path, framework="np") as f:
        metadata = dict(f.metadata())
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    description = json.loads(metadata["brickwork.model"])
    change(description)
    metadata["brickwork.model"] = json.dumps(description)
    safetensors.numpy.save_file(arrays, path, metadata=metadata)


@pytest.mark.parametrize(
    "change, error, words",
    [
        (lambda d: d["spec"].update({"class": 3}), FileFormatError, "invalid 'class'"),
        (lambda d: d["spec"].update({"evil": "os.system"}), FileFormatError, "unexpected field"),
        (
            lambda d: d["spec"]["children"]["0"].update(
                {"config": {"in_features": 2, "out_features": {"set": 1}}}
            ),
            FileFormatError,
            "malformed constructor argument",
        ),
        (
            lambda d: d["spec"]["children"]["0"]["config"].update({"in_features": 7}),
            FileFormatError,
            r"at 0: parameter 'weight' has shape \(3, 7\) from the constructor arguments, but the file "
            r"stores '0.weight' with shape \(3, 2\)",
        ),
        (
            lambda d: d["spec"]["children"]["0"]["config"].update({"bogus": 1}),
            FileFormatError,
            "at 0: rebuilding it as Dense.*unexpected keyword argument 'bogus'",
        ),
        (lambda d: d["spec"].update({"class": "builtins.eval"}), UnknownClassError, "builtins.eval"),
        (lambda d: d.update({"ties": {"0.weight": "nope"}}), FileFormatError, "tie"),
        (lambda d: d.pop("spec"), FileFormatError, "with a 'spec'"),
    ],
)
def test_malformed_architecture_is_rejected(change, error, words, tmp_path):
    path = tmp_path / "m.safetensors"
    bw.save_model(nn.Sequential(Dense(2, 3)), path)
    _rewrite_architecture(path, change)
    with pytest.raises(error, match=words):
        bw.load_model(path)


def test_gpu_model_round_trip(tmp_path, device):
    if device.type != "cuda":
        pytest.skip("needs a GPU (run with --device cuda)")
    net = nn.Sequential(Dense(3, 2)).to(device)
    path = tmp_path / "g.safetensors"
    bw.save_model(net, path)
    again = bw.load_model(path)
    assert again[0].weight.device == device
    np.testing.assert_array_equal(
        again[0].weight.detach().cpu().numpy(), net[0].weight.detach().cpu().numpy()
    )
    assert bw.load_model(path, map_location="cpu")[0].weight.device == bw.device("cpu")


@bw.serializable
class WithOptional(nn.Module):
    def __init__(self, n, extra=None):
        super().__init__()
        self.body = Dense(n, n)
        self.extra = extra  # None stays a plain attribute until a module is assigned

    def get_config(self):
        return {"n": self.body.weight.shape[0]}


def test_child_added_after_construction_replaces_a_none_attribute(tmp_path):
    model = WithOptional(2)
    model.extra = Dense(2, 3)
    path = tmp_path / "o.safetensors"
    bw.save_model(model, path)
    again = bw.load_model(path)
    assert isinstance(again.extra, Dense) and list(again._modules) == ["body", "extra"]
    same_parameters(model, again)


def test_member_names_from_the_file_are_checked(tmp_path):
    path = tmp_path / "n.safetensors"
    bw.save_model(nn.Sequential(Dense(2, 3)), path)
    _rewrite_architecture(path, lambda d: d["spec"].update(children={"a.b": d["spec"]["children"]["0"]}))
    with pytest.raises(FileFormatError, match="invalid member name 'a.b'"):
        bw.load_model(path)


def test_get_config_errors_name_the_module(tmp_path):
    @bw.serializable
    class Refuses(nn.Module):
        def get_config(self):
            raise TypeError("holds a custom callable")

    path = tmp_path / "r.safetensors"
    with pytest.raises(TypeError, match=r"bw.save_model: 1 \(Refuses\): holds a custom callable"):
        bw.save_model(nn.Sequential(Dense(1, 1), Refuses()), path)
    assert not path.exists()


# -- hostile architectures (issue 12, items 1-5) -------------------------------------------------


def write_model_file(path, spec, weights=None, ties=None):
    """A model file with a hand-written architecture (what a hostile or careless writer can make)."""
    description = {"spec": spec, "ties": ties or {}, "device": "cpu", "training": True}
    bw.io.files.write_object(weights or {}, path, {"brickwork.model": json.dumps(description)}, "test")


def shared_chain(levels):
    """Sequentials nested ``levels`` deep, each with child a (the next level) and b (same_as a)."""
    spec = {"class": "nn.Sequential"}
    for level in reversed(range(levels)):
        a_path = ".".join(["a"] * (level + 1))
        spec = {"class": "nn.Sequential", "children": {"a": spec, "b": {"same_as": a_path}}}
    return spec


SHARED_CHAIN_SCRIPT = """
import json, sys, time
import brickwork as bw
sys.path.insert(0, sys.argv[3])
from test_models import shared_chain, write_model_file
write_model_file(sys.argv[1], shared_chain(int(sys.argv[2])))
start = time.perf_counter()
try:
    bw.load_model(sys.argv[1])
    print("loaded")
except bw.io.FileFormatError as exc:
    print(round(time.perf_counter() - start, 3), exc)
"""


@pytest.mark.parametrize("levels", [18, 40])
def test_shared_modules_are_walked_once_and_bounded(levels, tmp_path):
    # 2**levels module paths from a file of a few KB: refused, in time linear in the file
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", SHARED_CHAIN_SCRIPT, str(tmp_path / "chain.safetensors"), str(levels),
         str(__import__("pathlib").Path(__file__).parent)],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seconds, message = result.stdout.split(" ", 1)
    assert "more than 100000 module paths" in message, result.stdout
    assert float(seconds) < 2.0, result.stdout


def test_moderate_sharing_still_loads(tmp_path):
    path = tmp_path / "chain.safetensors"
    write_model_file(path, shared_chain(10))  # 2**11 - 1 module paths, 11 modules
    model = bw.load_model(path)
    assert model.a.b is model.a.a and len(list(model.named_modules())) == 11


@pytest.mark.parametrize("spec, ring", [
    ({"class": "nn.Sequential", "children": {"0": {"same_as": ""}}}, "<root> -> 0"),
    ({"class": "nn.Sequential", "children": {"a": {"class": "nn.Sequential", "children": {
        "b": {"class": "nn.Sequential", "children": {"y": {"same_as": "a"}}}}}}}, "a -> a.b -> a.b.y"),
])
def test_cycles_are_a_file_format_error_naming_the_cycle(spec, ring, tmp_path):
    path = tmp_path / "cycle.safetensors"
    write_model_file(path, spec)
    with pytest.raises(FileFormatError, match=f"a cycle: {ring}"):
        bw.load_model(path)


@pytest.mark.parametrize("alias, words", [
    ("__class__", "'__class__' is an attribute of Sequential, not a parameter or buffer"),
    ("forward", "'forward' is an attribute of Sequential, not a parameter or buffer"),
    ("0.training", "'training' is an attribute of Dense, not a parameter or buffer"),
    ("", "invalid name"),
    ("0..weight", "invalid name"),
])
def test_tie_names_are_validated(alias, words, tmp_path):
    path = tmp_path / "t.safetensors"
    bw.save_model(nn.Sequential(Dense(2, 3)), path)
    _rewrite_architecture(path, lambda d: d.update(ties={alias: "0.weight"}))
    with pytest.raises(FileFormatError, match=re.escape(words)):
        bw.load_model(path)


@pytest.mark.parametrize("spec, where", [
    ({"class": "nn.Linear", "config": {"in_features": 10**6, "out_features": 10**6}}, "<root>"),
    ({"class": "nn.Linear", "config": {"in_features": 9000, "out_features": 9000}}, "<root>"),  # 324 MB
    ({"class": "nn.Sequential", "children": {"0": {"class": "Dense", "config": {
        "in_features": 10**6, "out_features": 10**6}}}}, "0"),
    ({"class": "tests.Block", "config": {"sizes": {"tuple": [10**6, 10**6]}}}, "<root>"),
    ({"class": "nn.Embedding", "config": {"num_embeddings": 10**5, "embedding_dim": 10**5}}, "<root>"),
])
def test_constructor_sizes_past_the_file_are_refused_before_allocating(spec, where, tmp_path):
    path = tmp_path / "small.safetensors"
    write_model_file(path, spec)
    assert path.stat().st_size < 1000
    with pytest.raises(FileFormatError, match=rf"architecture at {where}: rebuilding it as .* would "
                                              "allocate more than the file's tensors hold"):
        bw.load_model(path)
    bw._budget.charge((2**40,), "after")  # the budget ended with the load


def test_constructor_shapes_are_checked_against_the_file(tmp_path):
    path = tmp_path / "lin.safetensors"
    bw.save_model(nn.Sequential(nn.Linear(2, 3)), path)
    _rewrite_architecture(path, lambda d: d["spec"]["children"]["0"]["config"].update(in_features=300))
    with pytest.raises(FileFormatError, match=r"at 0: parameter 'weight' has shape \(3, 300\) from the "
                                              r"constructor arguments, but the file stores '0.weight' with "
                                              r"shape \(3, 2\)"):
        bw.load_model(path)


@pytest.mark.parametrize("config, kind", [
    ({"in_features": "two", "out_features": 3}, "TypeError"),
    ({"in_features": [2], "out_features": 3}, "TypeError"),
    ({"in_features": 2, "out_features": 3, "bias": True, "extra": 1}, "TypeError"),
])
def test_wrongly_typed_constructor_arguments_are_file_format_errors(config, kind, tmp_path):
    path = tmp_path / "lin.safetensors"
    bw.save_model(nn.Sequential(nn.Linear(2, 3)), path)
    _rewrite_architecture(path, lambda d: d["spec"]["children"]["0"].update(config=config))
    with pytest.raises(FileFormatError, match=f"at 0: rebuilding it as nn.Linear.* failed: {kind}"):
        bw.load_model(path)
