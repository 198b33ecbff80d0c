"""bw.save / bw.load against safetensors.numpy.save_file / load_file on the same arrays.

A state dict of ``--params`` float32 parameters in ``--tensors`` tensors
(default: 100 million in 40) is saved and loaded ``--repeat`` times by each,
alternating, and the median times and ratios are printed. bw.save does more
than save_file: it checks the whole object first, writes to a temporary file,
fsyncs it and renames it (atomic), and syncs the folder; bw.load checks the
header before reading. Also printed: ``bw.load(mmap=True)`` time and how much
resident memory each kind of load adds.

    python benchmarks/bench_io.py            # 100M parameters (~400 MB on disk, twice)
    python benchmarks/bench_io.py --smoke    # tiny sizes, a few seconds
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
import safetensors.numpy

import brickwork as bw


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", type=int, default=100_000_000)
    parser.add_argument("--tensors", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", default=None, help="folder for the files (default: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    args = parser.parse_args()
    if args.smoke:
        args.params, args.tensors, args.repeat = 1_000_000, 10, 2

    rng = np.random.default_rng(0)
    per = args.params // args.tensors
    cols = 1000 if per >= 1000 else 1
    arrays = {
        f"layers.{i}.weight": rng.standard_normal((per // cols, cols), dtype=np.float32)
        for i in range(args.tensors)
    }
    state_dict = {k: bw.from_numpy(v) for k, v in arrays.items()}
    total = sum(a.nbytes for a in arrays.values())
    folder = tempfile.mkdtemp(prefix="bench-io-", dir=args.dir)
    ref_path, bw_path = os.path.join(folder, "ref.safetensors"), os.path.join(folder, "bw.safetensors")
    count = sum(a.size for a in arrays.values())
    print(f"state dict: {count:,} float32 parameters in {args.tensors} tensors "
          f"({total / 1e6:.0f} MB); files in {folder}")
    try:
        save_ref, save_bw, load_ref, load_bw, load_mmap = [], [], [], [], []
        for i in range(args.repeat):
            # alternate which goes first, so background writeback of the previous file hits both
            saves = [(save_ref, lambda: safetensors.numpy.save_file(arrays, ref_path)),
                     (save_bw, lambda: bw.save(state_dict, bw_path))]
            loads = [(load_ref, lambda: safetensors.numpy.load_file(ref_path)),
                     (load_bw, lambda: bw.load(bw_path))]
            for times, fn in (saves if i % 2 == 0 else saves[::-1]) + (loads if i % 2 == 0 else loads[::-1]):
                times.append(timed(fn))
            load_mmap.append(timed(lambda: bw.load(bw_path, mmap=True)))
        back = bw.load(bw_path)
        assert all(np.array_equal(back[k].numpy(), arrays[k]) for k in arrays), "round trip changed values"
        del back
        gc.collect()
        before = rss_bytes()
        full = bw.load(bw_path)
        full_rss = rss_bytes() - before
        del full
        gc.collect()
        before = rss_bytes()
        mapped = bw.load(bw_path, mmap=True)
        mmap_rss = rss_bytes() - before
        del mapped
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    med = statistics.median
    for what, ref_name, ref, ours_name, ours in (
        ("save", "safetensors.numpy.save_file", save_ref, "bw.save", save_bw),
        ("load", "safetensors.numpy.load_file", load_ref, "bw.load", load_bw),
    ):
        print(f"{what}: {ref_name} {med(ref):.3f} s | {ours_name} {med(ours):.3f} s | "
              f"ratio {med(ours) / med(ref):.2f} (median), {min(ours) / min(ref):.2f} (best)")
    print(f"load: bw.load(mmap=True) {med(load_mmap) * 1e3:.2f} ms")
    print(f"resident memory added: bw.load {full_rss / 1e6:.0f} MB, "
          f"bw.load(mmap=True) {mmap_rss / 1e6:.1f} MB")
    print(f"(all times, {args.repeat} runs: save_file {[round(t, 3) for t in save_ref]}, "
          f"bw.save {[round(t, 3) for t in save_bw]}, load_file {[round(t, 3) for t in load_ref]}, "
          f"bw.load {[round(t, 3) for t in load_bw]})")


if __name__ == "__main__":
    main()
