"""What fine-tuning the last n layers of the handout's colourization UNet costs, for every n (the
assignment's questions d and e on a small model whose six layers are all alike: conv, BatchNorm, ReLU).

    python -m colorizer.cost [--sizes 256 512] [--batch 2] [--repeats 3] [--json]

A layer is one of the UNet's six parameterised blocks counted from the output backwards: finalconv
(n = 1), upconv2, upconv1, rfconv, downconv2, downconv1 (n = 6, the whole model). Measured by
pixelwise.layercost (its docstring says how each number is taken).
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.layercost import iter_layer_costs, spread
from pixelwise.layercost_report import add_layer_arguments, print_layer_costs
from pixelwise.seeding import own_generator

from .models import UNet

UNET_MODEL_NAME = "colourization UNet"
UNET_BLOCKS = ("downconv1", "downconv2", "rfconv", "upconv1", "upconv2", "finalconv")  # input to output


def unet_blocks(model: UNet) -> dict[str, nn.Module]:
    return {name: getattr(model, name) for name in UNET_BLOCKS}


def random_grey_batch(size: int, batch: int, generator: torch.Generator, num_colours: int = 24):
    return (torch.randn(batch, 1, size, size, generator=generator),
            torch.randint(0, num_colours, (batch, size, size), generator=generator))


def colour_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits, target)


def iter_unet_layer_costs(sizes=(256, 512), batch: int = 2, repeats: int = 3, points: int | None = None,
                          device: str = "cpu"):
    """LayerCost rows of the handout's UNet (kernel 3, 32 filters, 24 colours; random weights)."""
    with own_generator(0):  # not torch's shared generator, which a training in another thread uses
        model = UNet().to(device)
    blocks = unet_blocks(model)
    return iter_layer_costs(model, blocks, random_grey_batch, colour_loss, sizes, spread(len(blocks), points),
                            batch, repeats, name=UNET_MODEL_NAME)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="one JSON line per row instead of a markdown table")
    add_layer_arguments(parser)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = iter_unet_layer_costs(tuple(args.sizes), args.batch, args.repeats, args.points, args.device)
    print_layer_costs(rows, args.json, args.progress)


if __name__ == "__main__":
    from pixelwise.process import quiet_profiler

    quiet_profiler()  # the peak-memory profiler's start/stop lines off
    main()
