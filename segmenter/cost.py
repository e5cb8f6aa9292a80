"""What one fine-tuning step costs per mode, and against the number of layers trained (assignment
questions d and e).

    python -m segmenter.cost [--sizes 256 512] [--batch 2] [--repeats 2] [--json]
    python -m segmenter.cost --vs-layers [--sizes 256 512] [--points 12] [--json]

``--vs-layers``: one row per (image size, n) for training the last n "layers", a layer being one of the
flower DeepLabV3's 21 parameterised blocks counted from the classifier backwards: the 1x1 classifier
(n = 1, the ``last`` mode), the head's 3x3 conv + BatchNorm + ReLU, the ASPP module (n = 3, the ``head``
mode), then MobileNetV2's blocks features[17] down to features[0] (n = 21, ``full``).
Measured by pixelwise.layercost (its docstring says how each number is taken).

Per mode: trainable parameters; bytes of all parameters, of gradients (trainable only) and of AdamW state
(exp_avg + exp_avg_sq per trainable parameter); activation memory = bytes of the tensors autograd saves
for backward during one training step (via torch.autograd.graph.saved_tensors_hooks, deduplicated by
storage, parameters excluded: they are all alive together at the end of the forward pass, which is the
peak of saved activations); and the wall time of one step (frozen forward + trainable forward/backward
+ optimizer step), median over ``repeats`` after a warm-up, at batch ``batch`` and float32.
"""
import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.layercost import iter_layer_costs, saved_activation_bytes, spread
from pixelwise.layercost_report import add_layer_arguments, print_layer_costs
from pixelwise.seeding import own_generator

from .data import IGNORE
from .models import MODES, SegmenterConfig, build_flower_model, set_trainable
from .trainer import upsampled

FLOAT_BYTES = 4


@dataclass
class StepCost:
    mode: str
    size: int
    batch: int
    trainable_params: int
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    step_seconds: float


def measure_step(model, mode: str, size: int, batch: int = 2, repeats: int = 2, seed: int = 0) -> StepCost:
    frozen, trainable = set_trainable(model, mode)
    model.eval()
    trainable.train()
    params = [p for p in trainable.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=generator)
    target = torch.randint(0, 2, (batch, size, size), generator=generator)
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    memory = {}

    def step():
        with torch.no_grad():
            features = frozen(images)
        loss_holder = {}

        def forward():
            logits = upsampled(trainable(features), target.shape[-2:])
            loss_holder["loss"] = F.cross_entropy(logits, target, ignore_index=IGNORE)

        memory["activations"] = saved_activation_bytes(forward, parameter_storages)
        optimizer.zero_grad(set_to_none=True)
        loss_holder["loss"].backward()
        optimizer.step()

    step()  # warm-up (also allocates the optimizer state)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    trainable_count = sum(p.numel() for p in params)
    optimizer_bytes = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                          if torch.is_tensor(t) and t.ndim > 0)
    return StepCost(mode, size, batch, trainable_count, sum(p.numel() for p in model.parameters()) * FLOAT_BYTES,
                    trainable_count * FLOAT_BYTES, optimizer_bytes, memory["activations"], statistics.median(times))


def cost_table(sizes=(256, 512), batch: int = 2, repeats: int = 2, modes=MODES) -> list[StepCost]:
    """One StepCost per (mode, size). Uses random weights: costs do not depend on weight values."""
    rows = []
    for mode in modes:
        for size in sizes:
            with own_generator(0):  # not torch's shared generator, which a training in another thread uses
                model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
            rows.append(measure_step(model, mode, size, batch, repeats))
    return rows


def as_markdown(rows: list[StepCost]) -> str:
    mb = lambda n: f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"
    lines = ["| mode | image ×batch | trainable params | params | grads | AdamW state | saved activations | step s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.mode} | {r.size}² ×{r.batch} | {r.trainable_params:,} | {mb(r.param_bytes)} | {mb(r.grad_bytes)} "
                     f"| {mb(r.optimizer_bytes)} | {mb(r.activation_bytes)} | {r.step_seconds:.2f} |")
    return "\n".join(lines)


FLOWER_MODEL_NAME = "flower DeepLabV3"


def flower_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """The 21 parameterised blocks, input to output: features.0 … features.17, ASPP, 3x3 conv, classifier."""
    blocks = {f"features.{name}": module for name, module in model.backbone.named_children()}
    head = model.classifier  # DeepLabHead: ASPP, 3x3 conv, BatchNorm, ReLU, 1x1 conv
    blocks["ASPP"] = head[0]
    blocks["3x3 conv"] = nn.Sequential(head[1], head[2], head[3])
    blocks["classifier"] = head[4]
    return blocks


def random_flower_batch(size: int, batch: int, generator: torch.Generator):
    return (torch.randn(batch, 3, size, size, generator=generator),
            torch.randint(0, 2, (batch, size, size), generator=generator))


def flower_loss(output: dict, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(output["out"], target, ignore_index=IGNORE)  # "out" is already at input size


def iter_flower_layer_costs(sizes=(256, 512), batch: int = 2, repeats: int = 3, points: int | None = None,
                            device: str = "cpu"):
    """LayerCost rows of the flower DeepLabV3 (random weights: costs do not depend on their values)."""
    with own_generator(0):  # not torch's shared generator, which a training in another thread uses
        model = build_flower_model(SegmenterConfig(), pretrained_backbone=False).to(device)
    blocks = flower_blocks(model)
    return iter_layer_costs(model, blocks, random_flower_batch, flower_loss, sizes, spread(len(blocks), points),
                            batch, repeats, name=FLOWER_MODEL_NAME)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="one JSON line per row instead of a markdown table")
    parser.add_argument("--vs-layers", action="store_true", help="rows for every n of the last n blocks trained")
    parser.add_argument("--device", default="cpu")
    add_layer_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.vs_layers:
        rows = iter_flower_layer_costs(tuple(args.sizes), args.batch, max(args.repeats, 1), args.points, args.device)
        print_layer_costs(rows, args.json, args.progress)
        return
    rows = cost_table(tuple(args.sizes), args.batch, args.repeats)
    print("\n".join(json.dumps(asdict(r)) for r in rows) if args.json else as_markdown(rows))


if __name__ == "__main__":
    from pixelwise.process import quiet_profiler

    quiet_profiler()  # the peak-memory profiler's start/stop lines off
    main()
