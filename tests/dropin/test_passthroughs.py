"""torch.jit / torch.hub / torch.backends / torch.compile as served in drop-in mode (brickwork.torch.*).

These modules do not need drop-in mode to be installed, so they are tested in this process."""

from __future__ import annotations

import hashlib
import os

import pytest

import brickwork as bw
from brickwork import nn
from brickwork.torch import _extras, backends, hub, jit


def test_compile_returns_the_model_and_decorates():
    net = nn.Linear(2, 3)
    assert _extras.compile(net) is net
    assert _extras.compile(mode="reduce-overhead")(len) is len


def test_backends_flags():
    assert backends.cudnn.is_available() is False and backends.mps.is_available() is False
    before = backends.cudnn.benchmark
    backends.cudnn.benchmark = True
    try:
        assert backends.cudnn.benchmark is True
    finally:
        backends.cudnn.benchmark = before
    assert backends.cudnn.enabled is True and backends.cudnn.deterministic is False


@pytest.mark.parametrize("wrap", [jit.script, lambda m: jit.trace(m, bw.ones(1, 2))])
def test_jit_result_runs_and_saves_a_brickwork_model_file(tmp_path, wrap):
    bw.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    scripted = wrap(net)
    x = bw.randn(3, 2)
    assert bw.equal(scripted(x), net(x))
    assert list(scripted.state_dict()) == list(net.state_dict())
    path = tmp_path / "model.bw"
    scripted.save(str(path))
    again = jit.load(str(path))
    assert isinstance(again, nn.Sequential) and bw.equal(again(x), net(x))
    assert bw.load_model(str(path)) is not None


def _state_file(tmp_path, name="weights.safetensors"):
    state = {"w": bw.arange(6.0).reshape(2, 3), "b": bw.ones(3)}
    path = tmp_path / name
    bw.save(state, str(path))
    return state, path


def test_hub_dirs(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub.get_dir() == str(tmp_path / "th" / "hub")
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "torch" / "hub")
    hub.set_dir(str(tmp_path / "mine"))
    assert hub.get_dir() == str(tmp_path / "mine")


def test_load_state_dict_from_a_file_url_with_hash_check(tmp_path):
    state, src = _state_file(tmp_path)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    named = tmp_path / f"net-{digest[:8]}.safetensors"
    os.rename(src, named)
    cache = tmp_path / "cache"
    loaded = hub.load_state_dict_from_url(named.as_uri(), model_dir=str(cache), check_hash=True)
    assert set(loaded) == {"w", "b"} and bw.equal(loaded["w"], state["w"])
    assert (cache / named.name).exists() and os.listdir(cache) == [named.name]  # no temporary left


def test_wrong_hash_keeps_nothing(tmp_path):
    _, src = _state_file(tmp_path)
    named = tmp_path / "net-deadbeef.safetensors"
    os.rename(src, named)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match='invalid hash value.*expected "deadbeef"'):
        hub.load_state_dict_from_url(named.as_uri(), model_dir=str(cache), check_hash=True)
    assert os.listdir(cache) == []


def test_a_pre_placed_cache_file_is_used_without_download(tmp_path):
    state, src = _state_file(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    os.rename(src, cache / "resnet.safetensors")
    url = "https://example.invalid/models/resnet.safetensors"  # never contacted: the file is cached
    loaded = hub.load_state_dict_from_url(url, model_dir=str(cache))
    assert bw.equal(loaded["b"], state["b"])


def test_offline_error_names_url_and_place(tmp_path):
    missing = (tmp_path / "nowhere" / "w.safetensors").as_uri()
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError) as info:
        hub.load_state_dict_from_url(missing, model_dir=str(cache))
    assert missing in str(info.value) and str(cache / "w.safetensors") in str(info.value)
    assert os.listdir(cache) == []


def test_download_url_to_file(tmp_path):
    src = tmp_path / "blob.bin"
    src.write_bytes(b"x" * 3_000_000)
    dst = tmp_path / "copy.bin"
    prefix = hashlib.sha256(src.read_bytes()).hexdigest()[:6]
    hub.download_url_to_file(src.as_uri(), str(dst), hash_prefix=prefix)
    assert dst.read_bytes() == src.read_bytes()


def test_a_pickled_checkpoint_is_refused_clearly(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "old.pth").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(RuntimeError, match="cannot read pickled"):
        hub.load_state_dict_from_url("https://example.invalid/old.pth", model_dir=str(cache))
