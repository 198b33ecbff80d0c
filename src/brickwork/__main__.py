"""Command line: ``python -m brickwork demo``.

The demo fits a linear model with autograd (the training issue turns it into
the full Digits demo).
"""

from __future__ import annotations

import argparse
import sys

import brickwork as bw


def demo() -> int:
    bw.manual_seed(0)
    true_w = bw.tensor([2.0, -3.4])
    true_b = 4.2
    X = bw.randn(1000, 2)
    y = X @ true_w + true_b + 0.01 * bw.randn(1000)
    w = bw.zeros(2, requires_grad=True)
    b = bw.zeros(1, requires_grad=True)
    lr = 0.1
    for epoch in range(20):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with bw.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
            w.grad = None
            b.grad = None
        if epoch % 5 == 4:
            print(f"epoch {epoch + 1}: loss {loss.item():.6f}")
    print(f"w = {w.detach().tolist()}, b = {b.item():.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m brickwork", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="fit a small model offline")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo()
    return 1


if __name__ == "__main__":
    sys.exit(main())
