"""``python -m brickwork.torch script.py [args]``: run a PyTorch script with brickwork as torch."""

from __future__ import annotations

import os
import runpy
import sys
import traceback

import brickwork.torch


def main(argv: list[str] | None = None) -> int:
    """Run ``argv[0]`` as ``__main__`` in drop-in mode; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m brickwork.torch script.py [args ...]", file=sys.stderr)
        return 2 if not argv else 0
    script = argv[0]
    if not os.path.isfile(script):
        print(f"python -m brickwork.torch: can't open file {script!r}: no such file", file=sys.stderr)
        return 2
    brickwork.torch.install()
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        raise
    except BaseException as err:
        # Print the traceback as python would: from the script's frames, not runpy's.
        tb = err.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != os.path.abspath(script) \
                and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        traceback.print_exception(type(err), err, tb or err.__traceback__)
        return 130 if isinstance(err, KeyboardInterrupt) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
