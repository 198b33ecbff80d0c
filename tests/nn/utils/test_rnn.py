"""nn.utils.rnn against torch.nn.utils.rnn (padding, packing, unpacking, sorting, gradients) and
the recurrent layers run on PackedSequence inputs against PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as TR

import brickwork as bw
from brickwork import nn
from brickwork.nn.utils import rnn as R
from nn._catalogue_checks import copy_weights

rng = np.random.default_rng(53)
LENGTHS = (2, 5, 3, 5)


def _sequences(lengths=LENGTHS, features=(3,), dtype=np.float64):
    arrays = [rng.standard_normal((n, *features)).astype(dtype) for n in lengths]
    return ([bw.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _grads_equal(b_list, t_list):
    for b, t in zip(b_list, t_list):
        np.testing.assert_allclose(b.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("features", [(), (3,), (2, 3)], ids=str)
def test_pad_sequence_matches_torch(batch_first, side, features):
    b_seqs, t_seqs = _sequences(features=features)
    bo = R.pad_sequence(b_seqs, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    to = TR.pad_sequence(t_seqs, batch_first=batch_first, padding_value=-1.5, padding_side=side)
    np.testing.assert_array_equal(bo.detach().numpy(), to.detach().numpy())
    seed = rng.standard_normal(tuple(to.shape))
    (bo * bw.tensor(seed)).sum().backward()
    (to * torch.tensor(seed)).sum().backward()
    _grads_equal(b_seqs, t_seqs)


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_and_unpack_match_torch(enforce_sorted, batch_first):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    b_seqs, t_seqs = _sequences(lengths)
    b_pad = R.pad_sequence(b_seqs, batch_first=batch_first)
    t_pad = TR.pad_sequence(t_seqs, batch_first=batch_first)
    bp = R.pack_padded_sequence(b_pad, bw.tensor(list(lengths)), batch_first, enforce_sorted)
    tp = TR.pack_padded_sequence(t_pad, torch.tensor(list(lengths)), batch_first, enforce_sorted)
    np.testing.assert_array_equal(bp.data.detach().numpy(), tp.data.detach().numpy())
    assert bp.batch_sizes.tolist() == tp.batch_sizes.tolist()
    for name in ("sorted_indices", "unsorted_indices"):
        b_idx, t_idx = getattr(bp, name), getattr(tp, name)
        assert (b_idx is None) == (t_idx is None) and (b_idx is None or b_idx.tolist() == t_idx.tolist())
    b_back, b_len = R.pad_packed_sequence(bp, batch_first, padding_value=0.5, total_length=7)
    t_back, t_len = TR.pad_packed_sequence(tp, batch_first, padding_value=0.5, total_length=7)
    np.testing.assert_array_equal(b_back.detach().numpy(), t_back.detach().numpy())
    assert b_len.tolist() == t_len.tolist() and b_len.dtype == bw.int64
    seed = rng.standard_normal(tuple(t_back.shape))
    (b_back * bw.tensor(seed)).sum().backward()
    (t_back * torch.tensor(seed)).sum().backward()
    _grads_equal(b_seqs, t_seqs)


def test_pack_sequence_unpack_sequence_and_unpad_round_trip():
    b_seqs, _ = _sequences()
    packed = R.pack_sequence(b_seqs, enforce_sorted=False)
    for original, back in zip(b_seqs, R.unpack_sequence(packed)):
        np.testing.assert_array_equal(original.detach().numpy(), back.detach().numpy())
    padded = R.pad_sequence(b_seqs, batch_first=True)
    for original, back in zip(b_seqs, R.unpad_sequence(padded, list(LENGTHS), batch_first=True)):
        np.testing.assert_array_equal(original.detach().numpy(), back.detach().numpy())
    assert R.pack_sequence(b_seqs, enforce_sorted=False).to(bw.float32).data.dtype == bw.float32


def test_packing_errors_name_the_problem():
    x = bw.zeros(5, 3, 2)
    with pytest.raises(RuntimeError, match="not sorted in decreasing order"):
        R.pack_padded_sequence(x, [2, 5, 3])
    with pytest.raises(ValueError, match="expected 3 lengths"):
        R.pack_padded_sequence(x, [5, 2])
    with pytest.raises(RuntimeError, match=r"every length must be in \[1, 5\]"):
        R.pack_padded_sequence(x, [6, 2, 1])
    with pytest.raises(RuntimeError, match="sequence 1 has shape"):
        R.pad_sequence([bw.zeros(2, 3), bw.zeros(2, 4)])
    with pytest.raises(ValueError, match="padding_side"):
        R.pad_sequence([bw.zeros(2)], padding_side="middle")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True)],
                         ids=str)
@pytest.mark.parametrize("initial_state", [False, True])
def test_recurrent_layers_run_packed_sequences_like_pytorch(cls, kw, initial_state):
    t_rnn = getattr(torch.nn, cls)(3, 4, **kw).double()
    b_rnn = getattr(nn, cls)(3, 4, **kw).to(bw.float64)
    copy_weights(t_rnn, b_rnn)
    b_seqs, t_seqs = _sequences()
    b_packed = R.pack_sequence(b_seqs, enforce_sorted=False)
    t_packed = TR.pack_sequence(t_seqs, enforce_sorted=False)
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    b_hx = t_hx = None
    if initial_state:
        h0 = rng.standard_normal((layers, len(LENGTHS), 4))
        c0 = rng.standard_normal((layers, len(LENGTHS), 4))
        b_hx = (bw.tensor(h0), bw.tensor(c0)) if cls == "LSTM" else bw.tensor(h0)
        t_hx = (torch.tensor(h0), torch.tensor(c0)) if cls == "LSTM" else torch.tensor(h0)
    b_out, b_h = b_rnn(b_packed, b_hx)
    t_out, t_h = t_rnn(t_packed, t_hx)
    assert isinstance(b_out, R.PackedSequence)
    assert b_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    np.testing.assert_allclose(b_out.data.detach().numpy(), t_out.data.detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    b_states = b_h if cls == "LSTM" else (b_h,)
    t_states = t_h if cls == "LSTM" else (t_h,)
    for bs, ts in zip(b_states, t_states):
        np.testing.assert_allclose(bs.detach().numpy(), ts.detach().numpy(), rtol=1e-10, atol=1e-12)
    b_pad, _ = R.pad_packed_sequence(b_out)
    t_pad, _ = TR.pad_packed_sequence(t_out)
    (b_pad.sum() + sum(s.sum() for s in b_states)).backward()
    (t_pad.sum() + sum(s.sum() for s in t_states)).backward()
    _grads_equal(b_seqs, t_seqs)
    t_params = dict(t_rnn.named_parameters())
    for name, p in b_rnn.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol=1e-9, atol=1e-12)
