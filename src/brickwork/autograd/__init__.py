"""Reverse-mode automatic differentiation (``torch.autograd``).

The engine, :class:`Function` and the grad-mode switches live in
:mod:`brickwork.autograd._engine` (its docstring explains the graph, and
:mod:`brickwork._traced` how ``create_graph=True`` records the backward pass);
:mod:`brickwork.autograd.functional` has ``jacobian``, ``hessian``, ``vjp``,
``jvp``, ``hvp`` and ``vhp``.
"""

# (the private names too: the rest of brickwork imports them from here)
from brickwork.autograd._engine import (  # noqa: F401
    DeviceMismatchError,
    Function,
    PostAccumulateGradHook,
    _mode,
    _refresh_view,
    _wrap,
    backward,
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    iter_graph,
    no_grad,
    run_backward,
    set_grad_enabled,
)
from brickwork.autograd._engine import __all__ as _engine_all

__all__ = [*_engine_all, "functional"]

from brickwork.autograd import functional  # noqa: E402  (needs the names above)
