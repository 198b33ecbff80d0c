"""DataLoader order, batching, collation, samplers, and the dataset helpers."""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import brickwork as bw
from brickwork import data


def _dataset(n=10):
    return data.TensorDataset(bw.arange(n * 2, dtype=bw.float32).reshape(n, 2), bw.arange(n))


def _labels(loader):
    return [y.tolist() for _, y in loader]


class CountingTensorDataset(data.TensorDataset):
    """Counts per-sample and per-batch fetches."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.items = 0
        self.batches = 0

    def __getitem__(self, i):
        self.items += 1
        return super().__getitem__(i)

    def __getbatch__(self, indices):
        self.batches += 1
        return super().__getbatch__(indices)


# -- order and batching ---------------------------------------------------------


def test_sequential_batches_len_and_drop_last():
    ds = _dataset(10)
    loader = data.DataLoader(ds, batch_size=4)
    assert len(loader) == 3
    assert _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert isinstance(x, bw.Tensor) and x.shape == (4, 2) and x.dtype == bw.float32
    assert y.dtype == bw.int64
    np.testing.assert_array_equal(x.numpy(), np.arange(8).reshape(4, 2))
    dropped = data.DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and _labels(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(data.DataLoader(ds)) == 10


def test_same_batches_as_torch_dataloader():
    arr = np.arange(14, dtype=np.float32).reshape(7, 2)
    b = data.DataLoader(data.TensorDataset(bw.tensor(arr), bw.arange(7)), batch_size=3)
    t = tud.DataLoader(tud.TensorDataset(torch.tensor(arr), torch.arange(7)), batch_size=3)
    assert len(b) == len(t)
    for (bx, by), (tx, ty) in zip(b, t):
        np.testing.assert_array_equal(bx.numpy(), tx.numpy())
        np.testing.assert_array_equal(by.numpy(), ty.numpy())


def test_shuffle_visits_everything_once_with_a_new_order_each_epoch():
    loader = data.DataLoader(_dataset(50), batch_size=8, shuffle=True)
    first = sum(_labels(loader), [])
    second = sum(_labels(loader), [])
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != list(range(50)) and first != second


def test_manual_seed_makes_the_shuffle_reproducible():
    loader = data.DataLoader(_dataset(30), batch_size=7, shuffle=True)
    bw.manual_seed(123)
    a = _labels(loader)
    bw.manual_seed(123)
    b = _labels(loader)
    bw.manual_seed(124)
    c = _labels(loader)
    assert a == b and a != c


def test_a_generator_gives_its_own_reproducible_stream_and_leaves_the_global_one_alone():
    ds = _dataset(30)
    g1, g2 = bw.Generator().manual_seed(7), bw.Generator().manual_seed(7)
    state = bw.get_rng_state()
    a = _labels(data.DataLoader(ds, batch_size=5, shuffle=True, generator=g1))
    b = _labels(data.DataLoader(ds, batch_size=5, shuffle=True, generator=g2))
    assert a == b and sorted(sum(a, [])) == list(range(30))
    assert bw.get_rng_state()["bit_generator"] == state["bit_generator"]


def test_batching_is_vectorised_for_array_backed_datasets():
    ds = CountingTensorDataset(bw.randn(100, 3), bw.arange(100))
    loader = data.DataLoader(ds, batch_size=16, shuffle=True)
    batches = list(loader)
    assert ds.items == 0 and ds.batches == len(loader) == 7
    assert sorted(sum((y.tolist() for _, y in batches), [])) == list(range(100))
    # the rows still belong together
    for x, y in batches:
        np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[y.numpy()])


def test_custom_collate_fn_gets_the_list_of_samples():
    ds = CountingTensorDataset(bw.randn(6, 2), bw.arange(6))
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return [int(y) for _, y in samples]

    assert list(data.DataLoader(ds, batch_size=4, collate_fn=collate)) == [[0, 1, 2, 3], [4, 5]]
    assert seen == [4, 2] and ds.items == 6 and ds.batches == 0


def test_pytorch_getitems_protocol_is_honoured():
    class Items(data.Dataset):
        calls = 0

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("per-sample access")

        def __getitems__(self, indices):
            Items.calls += 1
            return [(i, float(i) / 2) for i in indices]

    batches = list(data.DataLoader(Items(), batch_size=2))
    assert Items.calls == 3
    assert batches[0][0].tolist() == [0, 1] and batches[0][1].dtype == bw.float32


def test_samplers_and_batch_samplers_plug_in():
    ds = _dataset(10)
    reverse = list(range(9, -1, -1))
    assert _labels(data.DataLoader(ds, batch_size=4, sampler=reverse)) == [[9, 8, 7, 6], [5, 4, 3, 2], [1, 0]]

    class EveryOther(data.Sampler):
        def __iter__(self):
            return iter(range(0, 10, 2))

        def __len__(self):
            return 5

    loader = data.DataLoader(ds, batch_size=2, sampler=EveryOther())
    assert len(loader) == 3 and _labels(loader) == [[0, 2], [4, 6], [8]]
    batches = [[1, 3], [5], [7, 9, 0]]
    loader = data.DataLoader(ds, batch_sampler=batches)
    assert len(loader) == 3 and _labels(loader) == batches
    bs = data.BatchSampler(data.SequentialSampler(ds), batch_size=3, drop_last=True)
    assert list(bs) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]] and len(bs) == 3
    assert _labels(data.DataLoader(ds, batch_sampler=bs)) == list(bs)


def test_random_samplers():
    g = bw.Generator().manual_seed(0)
    s = data.RandomSampler(range(5), replacement=True, num_samples=12, generator=g)
    drawn = list(s)
    assert len(drawn) == len(s) == 12 and set(drawn) <= set(range(5))
    longer = list(data.RandomSampler(range(4), num_samples=10, generator=g))
    assert sorted(longer[:4]) == [0, 1, 2, 3] and sorted(longer[4:8]) == [0, 1, 2, 3]
    sub = list(data.SubsetRandomSampler([3, 5, 7], generator=g))
    assert sorted(sub) == [3, 5, 7]
    with pytest.raises(ValueError, match="num_samples"):
        data.RandomSampler(range(3), num_samples=-1)


def test_batch_size_none_yields_single_samples():
    ds = data.TensorDataset(bw.arange(3.0), bw.arange(3))
    items = list(data.DataLoader(ds, batch_size=None))
    assert len(items) == 3 and items[1][0].shape == () and int(items[1][1]) == 1


def test_iterable_dataset_is_batched():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter([{"x": float(i), "id": i} for i in range(5)])

    batches = list(data.DataLoader(Stream(), batch_size=2))
    assert [b["id"].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    dropped = data.DataLoader(Stream(), batch_size=2, drop_last=True)
    assert [b["id"].tolist() for b in dropped] == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match="IterableDataset"):
        data.DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError, match="IterableDataset"):
        Stream()[0]


def test_argument_errors():
    ds = _dataset(4)
    with pytest.raises(ValueError, match="mutually exclusive"):
        data.DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        data.DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="positive integer"):
        data.DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match="bw.Generator"):
        data.DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))
    # PyTorch's multiprocessing options are accepted (loading runs in-process)
    assert len(data.DataLoader(ds, batch_size=2, num_workers=4, pin_memory=True)) == 2


# -- collation --------------------------------------------------------------------


Point = collections.namedtuple("Point", ["x", "y"])


def test_default_collate_structures_and_dtypes():
    c = data.default_collate
    ints = c([1, 2, 3])
    assert ints.dtype == bw.int64 and ints.tolist() == [1, 2, 3]
    assert c([0.5, 1.5]).dtype == bw.float32  # brickwork's default float
    assert c([True, False]).dtype == bw.bool
    assert c(["a", "b"]) == ["a", "b"]
    arrays = c([np.zeros((2, 2), np.float64), np.ones((2, 2), np.float64)])
    assert arrays.shape == (2, 2, 2) and arrays.dtype == bw.float64  # NumPy arrays keep their dtype
    scalars = c([np.float32(1), np.float32(2)])
    assert scalars.dtype == bw.float32
    nested = c([{"a": (1, bw.ones(2)), "b": "x"}, {"a": (2, bw.zeros(2)), "b": "y"}])
    assert nested["a"][0].tolist() == [1, 2] and nested["a"][1].shape == (2, 2) and nested["b"] == ["x", "y"]
    points = c([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(points, Point) and points.x.tolist() == [1, 3]
    assert isinstance(c([(1, 2), (3, 4)]), list)  # tuples become lists, as in PyTorch
    with pytest.raises(RuntimeError, match="equal size"):
        c([[1, 2], [3]])
    with pytest.raises(TypeError, match="found object"):
        c([object()])


def test_default_collate_matches_torch_on_common_structures():
    samples = [(np.arange(3, dtype=np.float32) + i, i, {"w": np.float32(i)}) for i in range(4)]
    b = data.default_collate(samples)
    t = tud.default_collate(samples)
    np.testing.assert_array_equal(b[0].numpy(), t[0].numpy())
    np.testing.assert_array_equal(b[1].numpy(), t[1].numpy())
    np.testing.assert_array_equal(b[2]["w"].numpy(), t[2]["w"].numpy())


# -- datasets ---------------------------------------------------------------------


def test_tensor_dataset_items_and_errors():
    ds = _dataset(5)
    x, y = ds[2]
    assert x.tolist() == [4.0, 5.0] and int(y) == 2 and len(ds) == 5
    with pytest.raises(ValueError, match="argument 0 has 3 rows but argument 1 has 2"):
        data.TensorDataset(bw.zeros(3), bw.zeros(2))
    with pytest.raises(TypeError, match="not a Tensor"):
        data.TensorDataset(np.zeros(3))


def test_subset_and_concat_vectorised_equal_per_sample():
    a = CountingTensorDataset(bw.arange(10.0), bw.arange(10))
    b = CountingTensorDataset(bw.arange(100.0, 105.0), bw.arange(100, 105))
    sub = data.Subset(a, [9, 7, 5, 3, 1])
    assert int(sub[0][1]) == 9 and len(sub) == 5
    both = sub + b
    assert len(both) == 10 and int(both[-1][1]) == 104 and int(both[5][1]) == 100
    a.items = b.items = 0
    bw.manual_seed(3)
    fast = _labels(data.DataLoader(both, batch_size=4, shuffle=True))
    assert a.items == 0 and b.items == 0  # vectorised all the way down
    bw.manual_seed(3)
    slow = _labels(data.DataLoader(both, batch_size=4, shuffle=True,
                                   collate_fn=lambda samples: data.default_collate(samples)))
    assert sorted(sum(fast, [])) == [1, 3, 5, 7, 9, 100, 101, 102, 103, 104]
    # a collate_fn of one's own goes per sample, and gives the same batches
    assert fast == slow and a.items > 0


def test_concat_of_a_per_sample_dataset():
    class Plain(data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"v": float(i)}

    both = data.ConcatDataset([Plain(), Plain()])
    out = list(data.DataLoader(both, batch_size=6))
    assert out[0]["v"].tolist() == [0.0, 1.0, 2.0, 0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="empty"):
        data.ConcatDataset([])


def test_random_split():
    ds = _dataset(10)
    g = bw.Generator().manual_seed(0)
    parts = data.random_split(ds, [3, 7], generator=g)
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(int(p[i][1]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    again = data.random_split(ds, [3, 7], generator=bw.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    fractions = data.random_split(range(11), [0.5, 0.3, 0.2], generator=g)
    t = tud.random_split(range(11), [0.5, 0.3, 0.2])
    assert [len(p) for p in fractions] == [len(p) for p in t]
    with pytest.raises(ValueError, match="sum to 5 but the dataset has 10"):
        data.random_split(ds, [2, 3])
