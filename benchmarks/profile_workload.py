"""Profile brickwork's side of one benchmark workload with cProfile (where the time goes).

    python benchmarks/profile_workload.py lenet_modern_train [--steps 20] [--sort tottime] [--top 30]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workloads import WORKLOADS, build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=list(WORKLOADS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumtime...)")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    import brickwork

    step, _ = build(brickwork, WORKLOADS[args.workload], args.smoke)
    for _ in range(3):
        step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
