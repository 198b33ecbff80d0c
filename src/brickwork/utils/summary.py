"""``summary(model, input_size)``: layers, output shapes and parameter counts in a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from brickwork.autograd import no_grad
from brickwork.tensor import Tensor

__all__ = ["summary", "ModelSummary"]


class ModelSummary:
    """The result of :func:`summary`: ``rows``, totals, tied-parameter notes; ``str()`` is the table.

    Each row is a dict with ``name`` (the module's path), ``type``,
    ``output_shape`` and ``params`` (parameters the module owns itself,
    tied ones counted at their first owner only).
    """

    def __init__(self, model_name: str, input_shapes: list[tuple[int, ...]], rows: list[dict[str, Any]],
                 total: int, trainable: int, tied: list[tuple[str, str]], unused: list[str],
                 param_bytes: int) -> None:
        self.model_name = model_name
        self.input_shapes = input_shapes
        self.rows = rows
        self.total_params = total
        self.trainable_params = trainable
        self.tied = tied
        self.unused = unused
        self.param_bytes = param_bytes

    def __str__(self) -> str:
        header = ("Layer (type)", "Output shape", "Param #")
        body = [(f"{r['name']} ({r['type']})", _shape_text(r["output_shape"]), f"{r['params']:,}")
                for r in self.rows]
        widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h)
                  for i, h in enumerate(header)]
        width = sum(widths) + 4
        rule, thick = "-" * width, "=" * width

        def line(cells: Sequence[str]) -> str:
            return f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]:>{widths[2]}}"

        inputs = ", ".join(_shape_text(s) for s in self.input_shapes)
        out = [f"{self.model_name} summary, input {inputs}", thick, line(header), rule]
        out += [line(row) for row in body]
        out += [thick,
                f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                f"Parameter memory: {self.param_bytes / 2**20:.2f} MiB"]
        for alias, owner in self.tied:
            out.append(f"Note: '{alias}' is tied to '{owner}' (the same Parameter), counted once")
        if self.unused:
            out.append("Note: not called in the forward pass: " + ", ".join(self.unused))
        out.append(rule)
        return "\n".join(out)

    __repr__ = __str__


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _shapes(out: Any) -> Any:
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (list, tuple)):
        return [_shapes(o) for o in out]
    if isinstance(out, dict):
        return [_shapes(o) for o in out.values()]
    return None


def summary(model: Any, input_size: Sequence[int] | Sequence[Sequence[int]] | None = None, *,
            input_data: Any = None, device: Any = None, dtype: Any = None) -> ModelSummary:
    """Run one forward pass and tabulate every called layer's output shape and parameters.

    ``input_size`` is the input's full shape, batch dimension included (e.g.
    ``(1, 1, 28, 28)``), or a list of shapes for several inputs; or pass
    ``input_data`` (a tensor or tuple of tensors). The forward pass runs
    without gradients, in eval mode (so batch-norm statistics do not move),
    on the model's device (or ``device``), and materialises lazy layers.
    Tied parameters are counted once, with a note. Print the result.

    >>> import brickwork as bw
    >>> net = bw.nn.Sequential(bw.nn.Linear(None, 8), bw.nn.ReLU(), bw.nn.Linear(8, 2))
    >>> print(summary(net, (1, 4)))  # doctest: +NORMALIZE_WHITESPACE
    Sequential summary, input [1, 4]
    ===================================
    Layer (type)  Output shape  Param #
    -----------------------------------
    0 (Linear)    [1, 8]             40
    1 (ReLU)      [1, 8]              0
    2 (Linear)    [1, 2]             18
    ===================================
    Total params: 58
    Trainable params: 58
    Non-trainable params: 0
    Parameter memory: 0.00 MiB
    -----------------------------------
    """
    from brickwork.creation import zeros

    if device is None:
        first = next(iter(model.parameters()), None)
        device = first._device if first is not None else "cpu"
    if input_data is None:
        if input_size is None:
            raise ValueError("summary: give input_size (the input's shape, batch included) or input_data")
        shapes = [tuple(input_size)] if all(isinstance(s, int) for s in input_size) \
            else [tuple(s) for s in input_size]  # type: ignore[union-attr]
        inputs = tuple(zeros(s, dtype=dtype, device=device) for s in shapes)
    else:
        inputs = (input_data,) if isinstance(input_data, Tensor) else tuple(input_data)
        shapes = [tuple(t.shape) for t in inputs]

    calls: list[tuple[str, Any]] = []
    outputs: dict[int, Any] = {}
    handles = []
    # a module registered under several names (used twice) takes its names in turn, call by call
    names: dict[int, list[str]] = {}
    for name, m in model.named_modules(remove_duplicate=False):
        names.setdefault(id(m), []).append(name)
    times_called: dict[int, int] = {}

    def before(module: Any, args: Any) -> None:
        k = times_called.get(id(module), 0)
        times_called[id(module)] = k + 1
        own_names = names.get(id(module), ["?"])
        calls.append((own_names[min(k, len(own_names) - 1)], module))

    def after(module: Any, args: Any, out: Any) -> None:
        outputs[_last_call(calls, module)] = _shapes(out)

    for _, module in model.named_modules():  # one hook pair per module, however often it is registered
        if module is model:
            continue
        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            result = model(*inputs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)

    owner: dict[int, str] = {}
    tied: list[tuple[str, str]] = []
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in owner:
            tied.append((name, owner[id(p)]))
        else:
            owner[id(p)] = name
    counted: set[int] = set()
    rows = []
    called = set()
    for i, (name, module) in enumerate(calls):
        called.add(id(module))
        own_params = list(module.parameters(recurse=False))
        if any(True for _ in module.children()) and not own_params:
            continue  # containers: their layers have rows of their own
        own = 0  # a layer with children of its own (MultiheadAttention) keeps its direct parameters here
        for p in own_params:
            if id(p) not in counted:
                counted.add(id(p))
                own += p.numel()
        rows.append({"name": name or _type_name(module), "type": _type_name(module),
                     "output_shape": outputs.get(i), "params": own})
    if not rows:  # a model without sub-modules: one row for itself
        rows.append({"name": _type_name(model), "type": _type_name(model),
                     "output_shape": _shapes(result), "params": sum(p.numel() for p in model.parameters())})
    unused = [name for name, m in model.named_modules()
              if m is not model and id(m) not in called and not any(True for _ in m.children())]
    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    param_bytes = sum(p.numel() * p.element_size() for p in params)
    return ModelSummary(_type_name(model), shapes, rows, total, trainable, tied, unused, param_bytes)


def _type_name(module: Any) -> str:
    """The class name a user knows: brickwork's internal subclasses (MultiheadAttention's
    ``NonDynamicallyQuantizableLinear``) show as the public ``brickwork.nn`` class they extend."""
    import brickwork.nn as nn

    for cls in type(module).__mro__:
        if not cls.__module__.startswith("brickwork."):
            return cls.__name__  # the user's own class
        if getattr(nn, cls.__name__, None) is cls:
            return cls.__name__
    return type(module).__name__


def _last_call(calls: list[tuple[str, Any]], module: Any) -> int:
    for i in range(len(calls) - 1, -1, -1):
        if calls[i][1] is module:
            return i
    return -1
