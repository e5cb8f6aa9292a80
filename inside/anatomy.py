"""Per-layer weights, outputs and connections, measured on a live module (a private copy) with forward hooks.

One row per torch *leaf* module (Conv2d, MaxPool2d, BatchNorm2d, ReLU, Upsample, ...), in the
order they run. Conventions (the same ones ``inside.formulas`` writes in closed form):

- outputs: elements of the layer's output for ONE image (C_out * H_out * W_out).
- weights: learnable numbers of that layer, ``sum(p.numel())`` of its own parameters: conv
  kernels AND biases, BatchNorm gamma and beta. BatchNorm's running mean and variance are not
  learned by gradient descent; they are listed separately as ``buffers`` (the integer counter
  ``num_batches_tracked`` is not a statistic and is left out).
- connections: multiply-accumulates of a convolution, H_out * W_out * k_h * k_w * C_in/groups * C_out.
  Bias additions are NOT counted (they would add H_out * W_out * C_out, i.e. the conv's outputs).
  Every other layer has 0 (pooling, BN, ReLU and upsampling have no weighted connections).
- The UNet's ``torch.cat`` skip concatenations are not modules, so they get no row: they copy
  existing tensors (no weights, no connections) and show up only as the larger C_in of the
  convolution that reads them. ``trace`` records them as steps of their own (for the pictures).
"""
import argparse
import copy
import json
from dataclasses import asdict, dataclass

import torch
from torch import nn

from colorizer.models import ModelConfig, build_model

COUNTED = ("weights", "buffers", "outputs", "connections")


@dataclass(frozen=True)
class LayerRow:
    name: str  # dotted module name, e.g. "downconv1.0"
    kind: str  # class name, e.g. "Conv2d"
    output_shape: tuple[int, ...]  # for one image: (C, H, W)
    outputs: int
    weights: int
    buffers: int
    connections: int


@dataclass(frozen=True)
class Anatomy:
    rows: list[LayerRow]
    input_shape: tuple[int, ...]  # (C, H, W) of the one image that was run

    def total(self, quantity: str, kinds: tuple[str, ...] | None = None) -> int:
        """Sum of one column, optionally only over layers of the given kinds."""
        return sum(getattr(row, quantity) for row in self.rows if kinds is None or row.kind in kinds)

    @property
    def totals(self) -> dict[str, int]:
        return {quantity: self.total(quantity) for quantity in COUNTED}

    def records(self) -> list[dict]:
        return [{**asdict(row), "output_shape": "x".join(map(str, row.output_shape))} for row in self.rows]


def conv_connections(conv: nn.Conv2d, output: torch.Tensor) -> int:
    """H_out * W_out * k_h * k_w * (C_in / groups) * C_out multiply-accumulates for one image."""
    height, width = output.shape[-2:]
    k_h, k_w = conv.kernel_size
    return height * width * k_h * k_w * (conv.in_channels // conv.groups) * conv.out_channels


def _row(name: str, module: nn.Module, output: torch.Tensor) -> LayerRow:
    floating_buffers = [b for b in module.buffers(recurse=False) if b.is_floating_point()]
    connections = conv_connections(module, output) if isinstance(module, nn.Conv2d) else 0
    return LayerRow(
        name=name, kind=type(module).__name__, output_shape=tuple(output.shape[1:]),
        outputs=output[0].numel(), weights=sum(p.numel() for p in module.parameters(recurse=False)),
        buffers=sum(b.numel() for b in floating_buffers), connections=connections,
    )


def input_channels(model: nn.Module) -> int:
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "in_channels"):
        return config.in_channels
    first_conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    return first_conv.in_channels


@dataclass
class Step:
    """One step of a forward pass, in the order it ran: a leaf module (with its table row) or a
    ``torch.cat`` skip concatenation (not a module: no row, no weights, no connections)."""
    name: str  # module name, or "concat → <the module that reads it>"
    kind: str  # class name, or "concat"
    output: torch.Tensor  # this step's output for the one image (1 x C x H x W)
    row: LayerRow | None = None  # the anatomy table's row for this module; None for a concatenation
    sources: tuple[str, ...] = ()  # a concatenation's inputs: the steps (or "input") they came from


class _CatRecorder(torch.overrides.TorchFunctionMode):
    """Sees every torch.cat during a forward pass: the UNet's skips are concatenations, not modules."""

    def __init__(self, steps: list[Step], producers: dict[int, str]):
        super().__init__()
        self.steps, self.producers = steps, producers

    def __torch_function__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        if func in (torch.cat, torch.concat) and output.dim() == 4:
            parts = args[0] if args else kwargs["tensors"]
            sources = tuple(self.producers.get(id(part), "?") for part in parts)
            self.steps.append(Step("concat", "concat", output, sources=sources))
            self.producers[id(output)] = "concat"
        return output


@torch.no_grad()
def trace(model: nn.Module, x: torch.Tensor) -> list[Step]:
    """Run one image x (1 x C x H x W) through ``model`` in eval mode (BatchNorm uses its running
    statistics, nothing is updated) with forward hooks: one Step per leaf module that ran, with its
    anatomy row and its output, and one per skip concatenation. The table and the pictures of the
    "Inside the models" tab both come from here. The hooks go on a private copy: the app's cached model
    is colourizing other people's images at the same moment, whose passes would fire them too."""
    model = copy.deepcopy(model)
    steps: list[Step] = []
    producers = {id(x): "input"}  # tensor id -> the step that made it (outputs stay alive in steps)

    def hook(module, _, output, name):
        steps.append(Step(name, type(module).__name__, output, _row(name, module, output)))
        producers[id(output)] = name

    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    handles = [m.register_forward_hook(lambda module, i, output, name=name: hook(module, i, output, name))
               for name, m in leaves]
    model.eval()
    try:
        with _CatRecorder(steps, producers):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    for step, following in zip(steps, steps[1:]):  # name each concatenation after the module that reads it
        if step.kind == "concat":
            step.name = f"concat → {following.name}"
    return steps


def anatomy(model: nn.Module, input_size: int | tuple[int, int] = 32) -> Anatomy:
    """Run one zero image of side ``input_size`` through ``model`` (``trace``) and return one row per
    leaf module that ran."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    parameter = next(model.parameters())
    x = torch.zeros(1, input_channels(model), height, width, device=parameter.device, dtype=parameter.dtype)
    return Anatomy([step.row for step in trace(model, x) if step.row is not None], tuple(x.shape[1:]))


def measure(arch: str, nf: int, nc: int, kernel: int = 3, side: int = 32, device: str = "meta") -> Anatomy:
    """Anatomy of a freshly built 'cnn' or 'unet'. On the 'meta' device no memory is allocated and no
    arithmetic is done (only shapes flow), so even S = 256 with NF = 128 answers at once."""
    with torch.device(device):
        model = build_model(arch, ModelConfig(kernel, nf, nc))
    return anatomy(model, side)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Per-layer weights, outputs and connections of the CNN or UNet.")
    parser.add_argument("--model", choices=["cnn", "unet"], default="cnn")
    parser.add_argument("--num-filters", type=int, default=32)
    parser.add_argument("--num-colours", type=int, default=24)
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    arguments = parser.parse_args(argv)
    result = measure(arguments.model, arguments.num_filters, arguments.num_colours, arguments.kernel, arguments.size)
    if arguments.json:
        print(json.dumps({"rows": result.records(), "totals": result.totals}, indent=1))
        return
    print(f"{'layer':<14}{'type':<13}{'output':>12}{'outputs':>10}{'weights':>10}{'buffers':>9}{'connections':>14}")
    for row in result.records():
        print(f"{row['name']:<14}{row['kind']:<13}{row['output_shape']:>12}{row['outputs']:>10}"
              f"{row['weights']:>10}{row['buffers']:>9}{row['connections']:>14}")
    totals = result.totals
    print(f"{'total':<39}{totals['outputs']:>10}{totals['weights']:>10}{totals['buffers']:>9}{totals['connections']:>14}")


if __name__ == "__main__":
    main()
