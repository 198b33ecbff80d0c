"""Untrusted files: a corpus of malformed files, each rejected with FileFormatError, and a fuzzer."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import tempfile
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import brickwork as bw
from brickwork.io import FileFormatError

STRUCTURE = "brickwork.structure"
VERSION = "brickwork.version"


def make_file(header: dict, data: bytes = b"", pad: bool = True) -> bytes:
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def entry(dtype="F32", shape=(2,), begin=0, end=8):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": [begin, end]}


def brickwork_file(structure, tensors=None, data=b"", version="1") -> bytes:
    header = {"__metadata__": {VERSION: version, STRUCTURE: json.dumps(structure)}}
    header.update(tensors or {})
    return make_file(header, data)


GOOD_TENSOR = {"x": entry()}
GOOD_DATA = np.arange(2, dtype="<f4").tobytes()


def torch_zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": [1.0, 2.0]}))
    return buffer.getvalue()


# (name, file bytes, words the message must contain)
CORPUS = [
    ("empty file", b"", "truncated file: 0 byte"),
    ("shorter than the length field", b"\x10\x00\x00", "truncated file: 3 byte"),
    ("header longer than the file", struct.pack("<Q", 500) + b'{"a":1}', "only 7 bytes follow"),
    ("huge header length", struct.pack("<Q", 2**62) + b"{}", "exceeds the limit"),
    ("header not UTF-8", make_file({"a": "x"}).replace(b'"a"', b'"\xff"'), "not valid UTF-8"),
    ("header not JSON", struct.pack("<Q", 8) + b"{not js}", "not valid JSON"),
    ("header missing a colon", struct.pack("<Q", 8) + b'{"a"  1}', "not valid JSON"),
    ("header a JSON list", struct.pack("<Q", 2) + b"[]", "does not start with '{'"),
    ("truncated JSON", struct.pack("<Q", 6) + b'{"a":[', "not valid JSON"),
    ("NaN in JSON", make_file({"x": entry(shape=[2])}).replace(b"[2]", b"[NaN"), "not valid JSON"),
    (
        "duplicate tensor names",
        make_file({"x": entry(), "y": entry()}, GOOD_DATA).replace(b'"y"', b'"x"'),
        "duplicate key 'x'",
    ),
    ("entry not an object", make_file({"x": [1, 2]}), "expected an object"),
    (
        "missing field",
        make_file({"x": {"dtype": "F32", "shape": [2]}}, GOOD_DATA),
        "missing field(s) data_offsets",
    ),
    ("unexpected field", make_file({"x": {**entry(), "extra": 1}}, GOOD_DATA), "unexpected field(s) extra"),
    ("unknown dtype", make_file({"x": entry(dtype="F128")}, GOOD_DATA), "unknown dtype 'F128'"),
    (
        "dtype brickwork lacks",
        make_file({"x": entry(dtype="BF16", end=4)}, b"\0" * 4),
        "BF16 has no brickwork",
    ),
    ("dtype not a string", make_file({"x": entry(dtype=7)}, GOOD_DATA), "dtype must be a string"),
    ("negative dimension", make_file({"x": entry(shape=(-2,))}, GOOD_DATA), "negative dimension"),
    (
        "overflowing dimensions",
        make_file({"x": entry(shape=(2**40, 2**40))}, GOOD_DATA),
        "needs 4835703278458516698824704 bytes",
    ),
    (
        "shape not integers",
        make_file({"x": entry(shape=(2.0,))}, GOOD_DATA),
        "shape must be a list of integers",
    ),
    (
        "shape with booleans",
        make_file({"x": entry(shape=(True,), end=4)}, b"\0" * 4),
        "shape must be a list of integers",
    ),
    ("too many dimensions", make_file({"x": entry(shape=(1,) * 65, end=4)}, b"\0" * 4), "65 dimensions"),
    ("byte count not shape x dtype", make_file({"x": entry(shape=(3,), end=8)}, GOOD_DATA), "needs 12 bytes"),
    ("offsets reversed", make_file({"x": entry(begin=8, end=0)}, GOOD_DATA), "invalid data_offsets"),
    (
        "offsets not a pair",
        make_file({"x": {**entry(), "data_offsets": [0]}}, GOOD_DATA),
        "data_offsets must be",
    ),
    ("overlapping tensors", make_file({"x": entry(), "y": entry(begin=4, end=12)}, b"\0" * 12), "overlap"),
    (
        "gap between tensors",
        make_file({"x": entry(), "y": entry(begin=12, end=20)}, b"\0" * 20),
        "gap in the data",
    ),
    ("gap at the start", make_file({"x": entry(begin=4, end=12)}, b"\0" * 12), "at the start"),
    ("data truncated", make_file({"x": entry(end=8)}, b"\0" * 5), "tensors need 8 data bytes"),
    ("trailing bytes", make_file({"x": entry()}, GOOD_DATA + b"junk"), "4 trailing byte"),
    ("metadata not strings", make_file({"__metadata__": {"a": 1}}), "__metadata__ must map strings"),
    (
        "bool bytes other than 0/1",
        make_file({"x": entry(dtype="BOOL", end=2)}, b"\x01\x07"),
        "other than 0 and 1",
    ),
    ("pickle file", pickle.dumps({"weight": [1.0, 2.0]}, protocol=4), "pickle"),
    ("legacy torch pickle", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19." + b"\0" * 40, "pickle"),
    ("torch zip file", torch_zip_file(), "zip archive"),
    ("numpy npy file", b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}" + b"\0" * 64, "NumPy .npy"),
    (
        "future format version",
        brickwork_file({"tensor": "x"}, GOOD_TENSOR, GOOD_DATA, version="99"),
        "format version '99'",
    ),
    ("structure not JSON", make_file({"__metadata__": {VERSION: "1", STRUCTURE: "{oops"}}), "not valid JSON"),
    ("structure missing", make_file({"__metadata__": {VERSION: "1"}}), "no brickwork.structure"),
    (
        "structure refers to a missing tensor",
        brickwork_file({"list": [{"tensor": "nope"}]}),
        "refers to tensor 'nope', which is not in the file",
    ),
    (
        "tensor not used by the structure",
        brickwork_file({"list": []}, GOOD_TENSOR, GOOD_DATA),
        "not used by the brickwork structure",
    ),
    ("structure node with unknown tag", brickwork_file({"set": [1]}), "exactly one of the keys"),
    ("structure node with two tags", brickwork_file({"list": [], "tuple": []}), "exactly one of the keys"),
    ("list body not an array", brickwork_file({"list": 3}), "must hold a JSON array"),
    ("bad dict entry", brickwork_file({"dict": [["a"]]}), "dict entries must be [key, value]"),
    ("dict key not str or int", brickwork_file({"dict": [[1.5, 1]]}), "dict entries must be"),
    ("duplicate dict key", brickwork_file({"dict": [["a", 1], ["a", 2]]}), "duplicate dict key 'a'"),
    ("bad float tag", brickwork_file({"float": "1e400"}), "'float' must be"),
    ("float tag holding a list", brickwork_file({"float": []}), "'float' must be"),  # found by the fuzzer
    (
        "bad tensor field",
        brickwork_file({"tensor": "x", "evil": "__import__('os')"}, GOOD_TENSOR, GOOD_DATA),
        "unexpected tensor field 'evil'",
    ),
    (
        "tensor field of wrong type",
        brickwork_file({"tensor": "x", "requires_grad": "yes"}, GOOD_TENSOR, GOOD_DATA),
        "must be bool",
    ),
    (
        "integer tensor requiring grad",
        brickwork_file({"tensor": "x", "requires_grad": True}, {"x": entry(dtype="I32")}, GOOD_DATA),
        "requires_grad",
    ),
    (
        "invalid device",
        brickwork_file({"tensor": "x", "device": "tpu:0"}, GOOD_TENSOR, GOOD_DATA),
        "invalid device 'tpu:0'",
    ),
    # one validation for every route (path, mmap, file object): issue 12, item 10d
    (
        "zero-size tensor with huge dimensions",
        make_file({"x": entry(shape=(0, 10**30), begin=0, end=0)}),
        "too large for an array",
    ),
    (
        "zero-size tensor whose other sizes overflow",
        make_file({"x": entry(dtype="F64", shape=(2**40, 0, 2**30), begin=0, end=0)}),
        "too large for an array",
    ),
    ("lone surrogate in a tensor name", make_file({"x\ud800": entry()}, GOOD_DATA), "lone surrogate"),
    (
        "lone surrogate in a structure string",
        brickwork_file({"list": [{"tensor": "x"}, "a\udc80"]}, GOOD_TENSOR, GOOD_DATA),
        "lone surrogate",
    ),
    (
        "one tensor used twice with different attributes",
        brickwork_file({"list": [{"tensor": "x"}, {"tensor": "x", "requires_grad": True}]}, GOOD_TENSOR,
                       GOOD_DATA),
        "used again with other attributes",
    ),
    ("structure nested too deeply", brickwork_file(json.loads('{"list":[' * 300 + "]}" * 300)), "nested"),
    (
        "JSON nested beyond the parser",
        make_file({"__metadata__": {VERSION: "1", STRUCTURE: "[" * 100000}}),
        "nested too deeply",
    ),
]


@pytest.mark.parametrize("name, data, words", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_file_is_rejected_with_a_specific_message(name, data, words, tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    for source in (path, io.BytesIO(data)):
        with pytest.raises(FileFormatError) as info:
            bw.load(source)
        assert words in str(info.value), str(info.value)
    for mmap in (True, "lazy"):
        with pytest.raises(FileFormatError) as info:
            bw.load(path, mmap=mmap)
        assert words in str(info.value), str(info.value)


def test_corpus_covers_many_kinds():
    assert len(CORPUS) >= 15


def test_file_format_error_is_a_value_error():
    assert issubclass(FileFormatError, ValueError)
    assert bw.io.FileFormatError is FileFormatError


def test_message_names_the_file(tmp_path):
    path = tmp_path / "named.safetensors"
    path.write_bytes(b"")
    with pytest.raises(FileFormatError, match="named.safetensors"):
        bw.load(path)


def test_header_length_128_is_not_mistaken_for_pickle(tmp_path):
    # first byte 0x80 and second byte 0x02 are also a valid header length (640)
    header = {"x": entry()}
    text = json.dumps(header).encode().ljust(640)
    data = struct.pack("<Q", 640) + text + GOOD_DATA
    assert data[:2] == b"\x80\x02"
    assert bw.load(io.BytesIO(data))["x"].tolist() == [0.0, 1.0]


def test_loading_never_allocates_more_than_the_file(tmp_path):
    # a header claiming 10**12 bytes of data in a tiny file fails before allocating anything
    data = make_file({"x": entry(shape=(250_000_000_000,), end=10**12)}, b"")
    with pytest.raises(FileFormatError, match="truncated file"):
        bw.load(io.BytesIO(data))

    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(b)

    with pytest.raises(FileFormatError, match="truncated file"):
        bw.load(io.BufferedReader(Unseekable()))


# -- fuzzing -----------------------------------------------------------------------------


def _valid_files() -> list[bytes]:
    out = []
    for obj in (
        {"w": bw.arange(6.0).reshape(2, 3), "b": bw.tensor([True, False])},
        [bw.tensor(3), ("s", None, 1.5), {"k": [bw.zeros(0, 2)]}],
    ):
        buffer = io.BytesIO()
        bw.save(obj, buffer)
        out.append(buffer.getvalue())
    return out


VALID = _valid_files()


_FUZZ_DIR = tempfile.mkdtemp(prefix="bw-io-fuzz-")


def _load_or_reject(data: bytes) -> None:
    """Every way of loading either succeeds or raises FileFormatError (nothing else)."""
    path = os.path.join(_FUZZ_DIR, f"{os.getpid()}.safetensors")
    with open(path, "wb") as fh:
        fh.write(data)
    for source, mmap in ((io.BytesIO(data), False), (path, False), (path, True), (path, "lazy")):
        try:
            bw.load(source, mmap=mmap)
        except FileFormatError:
            pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.integers(0, 10**6),
    st.booleans(),
)
def test_fuzz_mutated_files(base, flips, cut, truncate):
    data = bytearray(base)
    for position, value in flips:
        data[position % len(data)] = value
    if truncate:
        data = data[: cut % (len(data) + 1)]
    _load_or_reject(bytes(data))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "tensor",
                    "list",
                    "tuple",
                    "dict",
                    "float",
                    "dtype",
                    "shape",
                    "data_offsets",
                    "x",
                    "__metadata__",
                    "requires_grad",
                    "device",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values, json_values, st.binary(max_size=64))
def test_fuzz_random_headers_and_structures(header, structure, data):
    _load_or_reject(make_file(header if isinstance(header, dict) else {"x": header}, data))
    tensors = {"x": entry()}
    _load_or_reject(brickwork_file(structure, tensors, GOOD_DATA))
