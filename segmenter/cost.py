"""What one fine-tuning step costs per mode, and against the number of layers trained (assignment
questions d and e).

    python -m segmenter.cost [--sizes 256 512] [--batch 2] [--repeats 2] [--json]
    python -m segmenter.cost --vs-layers [--sizes 256 512] [--points 12] [--json]

``--vs-layers``: one row per (image size, n) for training the last n "layers", a layer being one of the
flower DeepLabV3's 21 parameterised blocks counted from the classifier backwards: the 1x1 classifier
(n = 1, the ``last`` mode), the head's 3x3 conv + BatchNorm + ReLU, the ASPP module (n = 3, the ``head``
mode), then MobileNetV2's blocks features[17] down to features[0] (n = 21, ``full``).
Measured by pixelwise.layercost (its docstring says how each number is taken).

Without ``--vs-layers``, the same measure for the three modes only (n = 1, 3 and 21, MODE_BLOCKS): trainable
parameters; bytes of all parameters, of gradients and of AdamW state; the activations autograd saves; the
time of one step (forward, backward, optimizer step), median over ``repeats`` after a warm-up, float32.
"""
import argparse
import json
from dataclasses import asdict

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.layercost import LayerCost, iter_layer_costs, spread
from pixelwise.layercost_report import add_layer_arguments, print_layer_costs, step_seconds
from pixelwise.seeding import own_generator

from .data import IGNORE
from .models import MODES, SegmenterConfig, build_flower_model

FLOWER_MODEL_NAME = "flower DeepLabV3"
# The fine-tuning modes are the last n of flower_blocks: the classifier, the whole DeepLabHead, every block.
MODE_BLOCKS = {"last": 1, "head": 3, "full": 21}


def cost_table(sizes=(256, 512), batch: int = 2, repeats: int = 2, modes=MODES) -> list[LayerCost]:
    """pixelwise.layercost's row for each (size, mode), mode by mode. Random weights: costs do not depend on them."""
    rows = iter_flower_layer_costs(sizes, batch, repeats, ns=[MODE_BLOCKS[mode] for mode in modes])
    return sorted(rows, key=lambda row: (row.n, row.size))


def as_markdown(rows: list[LayerCost]) -> str:
    mb = lambda n: f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"
    modes = {n: mode for mode, n in MODE_BLOCKS.items()}
    lines = ["| mode | image ×batch | trainable params | params | grads | AdamW state | saved activations | step s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {modes.get(r.n, f'n = {r.n}')} | {r.size}² ×{r.batch} | {r.trainable_params:,} "
                     f"| {mb(r.param_bytes)} | {mb(r.grad_bytes)} | {mb(r.optimizer_bytes)} | {mb(r.activation_bytes)} "
                     f"| {step_seconds(r):.2f} |")
    return "\n".join(lines)




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
                            device: str = "cpu", ns: list[int] | None = None):
    """LayerCost rows of the flower DeepLabV3 (random weights: costs do not depend on their values), for the
    n in ``ns`` (default: ``points`` of them spread over 1..21)."""
    with own_generator(0):  # not torch's shared generator, which a training in another thread uses
        model = build_flower_model(SegmenterConfig(), pretrained_backbone=False).to(device)
    blocks = flower_blocks(model)
    return iter_layer_costs(model, blocks, random_flower_batch, flower_loss, sizes, ns or spread(len(blocks), points),
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
