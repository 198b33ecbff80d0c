"""The default process group: which backend, which rank, how many ranks.

``init_process_group`` picks a backend (``"mpi"`` through mpi4py, ``"nccl"``
through CuPy), takes the rank and world size from the MPI launcher, and, when
there are several ranks, makes an uncaught exception on any rank abort the
whole job (``MPI_Abort``) instead of leaving the others waiting forever in a
collective, and a rank whose program ends without ``destroy_process_group``
checks on its way out that the others are leaving too (else it aborts the
job). An opt-in ``timeout`` bounds how long any collective may wait.
"""

from __future__ import annotations

import atexit
import datetime
import enum
import os
import sys
import time
from typing import Any

__all__ = [
    "ReduceOp", "ProcessGroup", "Work", "init_process_group", "destroy_process_group", "is_initialized",
    "is_available", "get_rank", "get_world_size", "get_backend", "get_node_local_rank",
    "launched_by_mpi", "init_from_launcher", "DistributedError",
]

BACKENDS = ("mpi", "nccl")

# variables that MPI launchers set in every process they start (MPICH/Intel MPI hydra, Open MPI,
# PMIx launchers such as srun --mpi=pmix, MVAPICH2)
LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE")
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
                    "SLURM_LOCALID", "LOCAL_RANK")


class DistributedError(RuntimeError):
    """A collective was used wrongly (not initialised, ranks disagree on shapes, ...)."""


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce_scatter`` combine the ranks' values."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class ProcessGroup:
    """A set of ranks and the backend that moves data between them.

    Only the default group (all ranks) exists; collectives take ``group=None``
    or this object.
    """

    def __init__(self, backend: Any, check_shapes: bool) -> None:
        self.backend = backend
        self.check_shapes = check_shapes

    def rank(self) -> int:
        """This process's rank in the group (0 to ``size() - 1``)."""
        return self.backend.rank

    def size(self) -> int:
        """The number of ranks in the group."""
        return self.backend.size

    def name(self) -> str:
        """The backend's name: ``'mpi'`` or ``'nccl'``."""
        return self.backend.name

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend.name!r}, rank={self.rank()}, size={self.size()})"


class Work:
    """Handle of a collective started with ``async_op=True``: ``wait()``, ``is_completed()``.

    ``wait()`` blocks until the data has arrived (MPI) or is ordered on the
    current CUDA stream (NCCL), then runs the finishing steps (averaging,
    copying back into a non-contiguous tensor). Backends make one per call.
    With a timeout (``init_process_group(timeout=...)``) an MPI request is
    polled and ``wait()`` raises :class:`DistributedError` once it is over.
    """

    __slots__ = ("_request", "_finishers", "_done", "_timeout_s", "_what")

    def __init__(self, request: Any = None, timeout_s: float | None = None, what: str = "collective") -> None:
        self._request = request  # an MPI Request, or None when the call is already complete
        self._finishers: list[Any] = []
        self._done = False
        self._timeout_s = timeout_s
        self._what = what

    def then(self, finish: Any) -> Work:
        """Run ``finish()`` once the transfer is complete (in order of registration)."""
        self._finishers.append(finish)
        return self

    def is_completed(self) -> bool:
        """Non-blocking test; also drives MPI's progress engine."""
        if self._done:
            return True
        if self._request is not None and not self._request.Test():
            return False
        self._complete()
        return True

    def wait(self, timeout: Any = None) -> bool:
        """Block until complete; returns True. ``timeout`` (seconds or a timedelta) overrides the group's."""
        if not self._done:
            if self._request is not None:
                limit = self._timeout_s if timeout is None else seconds(timeout, "Work.wait")
                wait_for(self._request, limit, self._what)
            self._complete()
        return True

    def _complete(self) -> None:
        self._done = True
        self._request = None
        finishers, self._finishers = self._finishers, []
        for finish in finishers:
            finish()


_state: dict[str, Any] = {"group": None, "excepthook": None, "atexit": None}
TIMEOUT_VARIABLE = "BRICKWORK_DISTRIBUTED_TIMEOUT"


def seconds(timeout: Any, where: str) -> float | None:
    """A timeout given as seconds or a ``datetime.timedelta``, checked; None for no timeout."""
    if timeout is None:
        return None
    value = timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{where}: timeout must be a positive number of seconds or a timedelta, "
                         f"got {timeout!r}")
    return float(value)


def wait_for(request: Any, timeout_s: float | None, what: str) -> None:
    """Wait for an MPI request; with a timeout, poll it and raise once the time is over."""
    if timeout_s is None:
        request.Wait()
        return
    deadline = time.monotonic() + timeout_s
    pause = 1e-5
    while not request.Test():  # Test() also drives MPI's progress
        if time.monotonic() > deadline:
            raise DistributedError(
                f"{what}: not complete after {timeout_s:g} s (the timeout given to "
                f"init_process_group or {TIMEOUT_VARIABLE}): another rank is not taking part (it "
                "hangs, computes for longer than that, waits in a different collective without "
                "checks, or has left). The process group cannot be used any more; left uncaught, "
                "this error aborts the job"
            )
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def is_available() -> bool:
    """True: brickwork always has the distributed package (backends load when used)."""
    return True


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and not undone)."""
    return _state["group"] is not None


def default_group(where: str) -> ProcessGroup:
    group = _state["group"]
    if group is None:
        raise DistributedError(
            f"{where}: the default process group is not initialised; call "
            "bw.distributed.init_process_group('mpi') first (and start the program with "
            "mpiexec -n N python ...)"
        )
    return group


def resolve_group(group: Any, where: str) -> ProcessGroup:
    pg = default_group(where)
    if group is not None and group is not pg:
        raise DistributedError(
            f"{where}: unknown process group {group!r}; brickwork has only the default group "
            "(pass group=None)"
        )
    return pg


def launched_by_mpi() -> bool:
    """True when this process was started by an MPI launcher (``mpiexec``/``mpirun``/``srun``).

    >>> import brickwork.distributed as dist
    >>> isinstance(dist.launched_by_mpi(), bool)
    True
    """
    return any(os.environ.get(name) for name in LAUNCHER_VARS)


def _mpi_module(where: str) -> Any:
    try:
        from mpi4py import MPI  # noqa: PLC0415 - MPI starts up when first imported, so only on demand
    except ImportError as exc:
        raise DistributedError(
            f"{where}: the 'mpi' backend needs mpi4py and an MPI library ({exc}); install them "
            "with pip install 'brickwork[mpi]' (mpi4py and the mpich wheel)"
        ) from exc
    return MPI


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: Any = None,
    world_size: int = -1,
    rank: int = -1,
    *,
    check_shapes: bool | None = None,
) -> None:
    """Join the job's default process group (``torch.distributed.init_process_group``).

    ``backend`` is ``"mpi"`` (CPU tensors; CUDA tensors are staged through
    the host) or ``"nccl"`` (CUDA tensors, one GPU per rank). Ranks and the
    world size come from the MPI launcher (``mpiexec -n 4 python train.py``);
    ``rank``/``world_size``, if given, must agree with it. A program started
    without a launcher is a world of one rank.

    ``check_shapes`` (default on; ``BRICKWORK_DISTRIBUTED_CHECKS=0`` turns it
    off) makes every collective, ``barrier`` included, first compare the
    call, shapes and dtypes of all ranks with one tiny all-gather, so a
    mismatch, or an invalid argument on one rank, raises a clear error on
    every rank instead of returning garbage or hanging.

    ``timeout`` (seconds or a ``timedelta``; default none, or the
    ``BRICKWORK_DISTRIBUTED_TIMEOUT`` environment variable in seconds) makes
    a collective that has not completed in that time raise
    :class:`DistributedError` (uncaught, it aborts the job). Without it MPI
    collectives wait as long as it takes. An uncaught exception on any rank
    aborts the whole job.

    >>> import brickwork.distributed as dist
    >>> dist.init_process_group("gloo")
    Traceback (most recent call last):
    ...
    ValueError: init_process_group: unknown backend 'gloo'; brickwork supports 'mpi' and 'nccl'
    """
    name = "mpi" if backend is None else str(backend).lower()
    if name not in BACKENDS:
        raise ValueError(
            f"init_process_group: unknown backend {backend!r}; brickwork supports 'mpi' and 'nccl'"
        )
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(
            f"init_process_group: init_method {init_method!r} is not supported; brickwork takes "
            "ranks from the MPI launcher: start the program with mpiexec -n N python ..."
        )
    if _state["group"] is not None:
        raise DistributedError(
            "init_process_group: trying to initialise the default process group twice "
            "(call destroy_process_group() first)"
        )
    if check_shapes is None:
        setting = os.environ.get("BRICKWORK_DISTRIBUTED_CHECKS", "1").lower()
        check_shapes = setting not in ("0", "false", "off")
    if timeout is None and os.environ.get(TIMEOUT_VARIABLE, "").strip():
        text = os.environ[TIMEOUT_VARIABLE].strip()
        try:
            timeout = float(text)
        except ValueError:
            raise ValueError(f"init_process_group: {TIMEOUT_VARIABLE}={text!r} is not a number of "
                             "seconds") from None
    timeout_s = seconds(timeout, "init_process_group")
    if name == "mpi":
        from brickwork.distributed.mpi_backend import MPIBackend  # noqa: PLC0415

        impl: Any = MPIBackend(_mpi_module("init_process_group"))
    else:
        from brickwork.distributed.nccl_backend import NCCLBackend  # noqa: PLC0415

        mpi = _mpi_module("init_process_group(backend='nccl')") if launched_by_mpi() else None
        impl = NCCLBackend(mpi, world_size)
    _check_given(impl, world_size, rank)
    impl.timeout_s = timeout_s
    pg = ProcessGroup(impl, bool(check_shapes))
    _state["group"] = pg
    if impl.size > 1:
        _install_abort_hook(impl)
        _install_exit_check(pg)


def _check_given(impl: Any, world_size: int, rank: int) -> None:
    if world_size not in (-1, None) and int(world_size) != impl.size:
        impl.shutdown()
        raise DistributedError(
            f"init_process_group: world_size={world_size} was given but the launcher started "
            f"{impl.size} process(es); start the program with mpiexec -n {world_size} ..."
        )
    if rank not in (-1, None) and int(rank) != impl.rank:
        impl.shutdown()
        raise DistributedError(
            f"init_process_group: rank={rank} was given but the launcher made this process rank "
            f"{impl.rank}"
        )


def _install_abort_hook(impl: Any) -> None:
    """An uncaught exception on one rank prints its traceback, then aborts every rank."""
    previous = sys.excepthook

    def abort_on_uncaught(exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            sys.stderr.write(f"[brickwork rank {impl.rank}/{impl.size}] uncaught exception; "
                             "aborting all ranks\n")
            previous(exc_type, exc, tb)
            sys.stderr.flush()
            sys.stdout.flush()
            time.sleep(0.3)  # let the launcher forward the traceback before it kills the job
        finally:
            impl.abort(1)

    sys.excepthook = abort_on_uncaught
    _state["excepthook"] = (abort_on_uncaught, previous)


def _install_exit_check(pg: ProcessGroup) -> None:
    """At the end of the program, a group not destroyed is left as destroy_process_group would."""

    def leave_at_exit() -> None:
        if _state["group"] is not pg:
            return  # destroyed (and perhaps another group made since)
        impl = pg.backend
        prefix = f"[brickwork rank {impl.rank}/{impl.size}]"
        try:
            if not pg.check_shapes:
                raise DistributedError(
                    "the program ended without destroy_process_group() and collective checks are "
                    "off, so whether other ranks wait in a collective cannot be told"
                )
            _leave(pg, "the end of the program")
        except DistributedError as exc:
            sys.stderr.write(f"{prefix} {exc}; aborting all ranks so that none waits forever\n")
            sys.stderr.flush()
            sys.stdout.flush()
            time.sleep(0.3)  # let the launcher forward the other ranks' errors before it kills the job
            impl.abort(1)
            return
        _forget(pg)

    atexit.register(leave_at_exit)
    _state["atexit"] = leave_at_exit


def _leave(pg: ProcessGroup, where: str) -> None:
    """Agree with every rank that all are leaving; raises on every rank if one is still in a collective."""
    if pg.check_shapes and pg.size() > 1:
        from brickwork.distributed.collectives import agree_to_leave  # noqa: PLC0415 - imports this module

        agree_to_leave(pg, where)


def _forget(pg: ProcessGroup) -> None:
    hooks = _state["excepthook"]
    if hooks is not None and sys.excepthook is hooks[0]:
        sys.excepthook = hooks[1]
    if _state["atexit"] is not None:
        atexit.unregister(_state["atexit"])
    _state["excepthook"] = _state["atexit"] = None
    _state["group"] = None
    pg.backend.shutdown()


def destroy_process_group(group: Any = None) -> None:
    """Leave the default process group (MPI itself stays up until the program exits).

    With several ranks and collective checks on, this is itself a collective:
    it returns once every rank is leaving, and raises on every rank if another
    is still in a collective (that rank's program would otherwise wait forever).
    """
    pg = resolve_group(group, "destroy_process_group")
    _leave(pg, "destroy_process_group")
    _forget(pg)


def get_rank(group: Any = None) -> int:
    """This process's rank, ``0 .. world_size - 1``."""
    return resolve_group(group, "get_rank").rank()


def get_world_size(group: Any = None) -> int:
    """How many processes take part."""
    return resolve_group(group, "get_world_size").size()


def get_backend(group: Any = None) -> str:
    """``"mpi"`` or ``"nccl"``."""
    return resolve_group(group, "get_backend").name()


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's index among the ranks on the same machine (pick its GPU with it).

    Read from the launcher's variables (MPICH, Open MPI, MVAPICH, Slurm, ``LOCAL_RANK``);
    without them, ``fallback_rank`` if given, else 0 for a single process.
    """
    for name in _LOCAL_RANK_VARS:
        value = os.environ.get(name)
        if value is not None and value.strip().isdigit():
            return int(value)
    if _state["group"] is not None:
        local = _state["group"].backend.local_rank()
        if local is not None:
            return local
    if fallback_rank is not None:
        return int(fallback_rank)
    if launched_by_mpi():
        raise DistributedError(
            "get_node_local_rank: the launcher did not say which local rank this process has; "
            "call init_process_group first or set LOCAL_RANK"
        )
    return 0


def init_from_launcher(backend: str | None = None) -> bool:
    """Join the process group when started by an MPI launcher; returns whether it did.

    The one call a training script needs to work both as ``python train.py``
    (one process; returns False) and as ``mpiexec -n 4 python train.py``
    (data parallel; returns True). ``backend`` defaults to ``"mpi"``, which
    works for tensors on any device; pass ``"nccl"`` when every rank trains on
    its own GPU.

    >>> import brickwork.distributed as dist
    >>> import os
    >>> dist.init_from_launcher() if not dist.launched_by_mpi() else False
    False
    """
    if _state["group"] is not None:
        return True
    if not launched_by_mpi():
        return False
    init_process_group(backend)
    return True
