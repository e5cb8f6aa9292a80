"""Every layer's output for one real image, as pictures, labelled with the anatomy table's numbers.

The pictures and the numbers come from one forward pass with the same hooks (``inside.anatomy.trace``):
each leaf module's output becomes a grid of its channels (the most active first), captioned with the
shape, weights and connections of that module's table row; each skip concatenation is a step of its own.

    python -m inside.layers checkpoints/unet.pt --out /tmp/layers   # one PNG per step
"""
import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from colorizer.inference import model_input
from pixelwise.pictures import heat_colours

from .anatomy import Step, trace

DEFAULT_CHANNELS = 8
CELL_PX = 64  # each channel is enlarged (pixels kept) to at least this side
GRID_COLUMNS = 4  # 8 channels in two rows: thumbnails near 2:1

WHAT_IT_DOES = {  # one plain line per kind of step
    "Conv2d": "convolution: each output channel is a weighted sum of k×k neighbourhoods of every input channel",
    "MaxPool2d": "max-pooling: keeps the largest of each 2×2 block, so height and width halve",
    "BatchNorm2d": "batch norm: rescales each channel with its running mean and variance, then γ and β",
    "ReLU": "ReLU: negative values become 0",
    "Upsample": "upsampling: repeats each pixel 2×2, so height and width double",
    "concat": "concatenation: stacks the skip connection's channels onto the decoder's (no weights)",
}


@dataclass
class LayerPicture:
    step: Step
    block: str  # the block the step belongs to ("downconv1"), or the step itself for a concatenation
    channels: list[int]  # which channels the picture shows, in order
    picture: np.ndarray  # H x W x 3 uint8 grid of those channels

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.step.output.shape[1:])

    def caption(self) -> str:
        shape = "×".join(map(str, self.shape))
        shown = f"{len(self.channels)} of {self.shape[0]} channels"
        if self.step.row is None:
            return f"{self.step.name} · {shape} · {' + '.join(self.step.sources)} · no weights · {shown}"
        row = self.step.row
        return f"{row.name} · {row.kind} · {shape} · {row.weights:,} weights · {row.connections:,} connections · {shown}"

    def as_dict(self) -> dict:
        row = self.step.row
        return {"name": self.step.name, "kind": self.step.kind, "block": self.block, "shape": list(self.shape),
                "weights": row.weights if row else 0, "connections": row.connections if row else 0,
                "outputs": row.outputs if row else int(np.prod(self.shape)), "channels_shown": self.channels,
                "sources": list(self.step.sources), "what": WHAT_IT_DOES.get(self.step.kind, self.step.kind)}


def block_of(step: Step) -> str:
    return step.name if step.kind == "concat" else step.name.rsplit(".", 1)[0]


def describe_block(steps: list[Step], num_classes: int, last: bool) -> str:
    """A plain-language line for one block, from the kinds of steps in it."""
    kinds = {step.kind for step in steps}
    if "concat" in kinds:
        return f"concatenate: {' + '.join(steps[0].sources)} side by side (the skip connection)"
    channels = steps[-1].output.shape[1]
    if "MaxPool2d" in kinds:
        return f"downsample: convolve to {channels} channels, keep the largest of each 2×2, normalise, ReLU"
    if "Upsample" in kinds:
        return f"upsample: convolve to {channels} channels, double height and width, normalise, ReLU"
    if last and channels == num_classes:
        return f"classify: one score (logit) per colour class per pixel, {num_classes} classes"
    return f"refine: convolve to {channels} channels at the same resolution, normalise, ReLU"


def blocks(pictures: list["LayerPicture"], num_classes: int) -> list[tuple[str, str]]:
    """(block name, plain-language line) in the order the blocks ran."""
    grouped: dict[str, list[Step]] = {}
    for picture in pictures:
        grouped.setdefault(picture.block, []).append(picture.step)
    names = list(grouped)
    return [(name, describe_block(grouped[name], num_classes, name == names[-1])) for name in names]


def most_active(output: torch.Tensor, count: int | None) -> list[int]:
    """Channel indices by mean |activation|, largest first (all of them when ``count`` is None)."""
    activity = output[0].abs().mean(dim=(1, 2))
    order = torch.argsort(activity, descending=True, stable=True).tolist()
    return order if count is None else order[:count]


def channel_grid(output: torch.Tensor, channels: list[int], columns: int = GRID_COLUMNS, gap: int = 2) -> np.ndarray:
    """1 x C x H x W -> the chosen channels side by side (rows of ``columns``), each scaled to its own
    min..max (viridis: dark = low) and enlarged with crisp pixels, its index in the corner."""
    maps = output[0, channels].float().cpu()
    low = maps.amin(dim=(1, 2), keepdim=True)
    span = (maps.amax(dim=(1, 2), keepdim=True) - low).clamp(min=1e-12)
    pictures = heat_colours(((maps - low) / span).numpy(), 1.0)
    height, width = maps.shape[1:]
    factor = max(1, -(-CELL_PX // max(height, width)))
    cell_h, cell_w = height * factor, width * factor
    rows = -(-len(channels) // columns)
    cols = min(columns, len(channels))
    canvas = Image.new("RGB", (cols * (cell_w + gap) - gap, rows * (cell_h + gap) - gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for n, (channel, picture) in enumerate(zip(channels, pictures)):
        x, y = (n % columns) * (cell_w + gap), (n // columns) * (cell_h + gap)
        canvas.paste(Image.fromarray(picture).resize((cell_w, cell_h), Image.Resampling.NEAREST), (x, y))
        draw.text((x + 2, y + 1), str(channel), fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    return np.asarray(canvas)


def model_sized(model: nn.Module, rgb: np.ndarray, long_side: int) -> np.ndarray:
    """Shrink (never enlarge) so the long side is at most ``long_side`` and both sides are multiples
    of the model's poolings, as the model needs."""
    multiple = getattr(model, "size_multiple", 4)
    height, width = rgb.shape[:2]
    scale = min(1.0, long_side / max(height, width))
    size = tuple(max(multiple, int(round(side * scale / multiple)) * multiple) for side in (width, height))
    return rgb if size == (width, height) else np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


def layer_pictures(model: nn.Module, rgb: np.ndarray, channels: int | None = DEFAULT_CHANNELS,
                   long_side: int = 64) -> list[LayerPicture]:
    """Every step of ``model`` on one H x W x 3 uint8 image (the model's own input: grey or L), as
    channel grids: the ``channels`` most active of each output (None: all)."""
    rgb = model_sized(model, np.ascontiguousarray(rgb), long_side)
    parameter = next(model.parameters())
    x = torch.from_numpy(model_input(model, rgb)).to(parameter)[None, None]
    pictures = []
    for step in trace(model, x):
        chosen = most_active(step.output, channels)
        pictures.append(LayerPicture(step, block_of(step), chosen, channel_grid(step.output, chosen)))
    return pictures


def main(argv: list[str] | None = None) -> None:
    from colorizer.checkpoint import load_checkpoint
    from pixelwise.images import load_rgb

    parser = argparse.ArgumentParser(description="Save every layer's output of a colourizer for one image.")
    parser.add_argument("checkpoint")
    parser.add_argument("--image", help="any image file (default: a grey ramp)")
    parser.add_argument("--channels", type=int, default=DEFAULT_CHANNELS, help="0 = all channels")
    parser.add_argument("--out", default="layers")
    arguments = parser.parse_args(argv)
    model, _ = load_checkpoint(arguments.checkpoint)
    rgb = load_rgb(arguments.image) if arguments.image else np.repeat(np.linspace(0, 255, 32, dtype=np.uint8)[None, :, None], 32, 0).repeat(3, 2)
    out = Path(arguments.out)
    out.mkdir(parents=True, exist_ok=True)
    pictures = layer_pictures(model, rgb, arguments.channels or None)
    for n, picture in enumerate(pictures):
        Image.fromarray(picture.picture).save(out / f"{n:02d}_{picture.step.name.replace(' → ', '_to_')}.png")
        print(picture.caption())
    for name, line in blocks(pictures, model.config.num_colours):
        print(f"{name}: {line}")


if __name__ == "__main__":
    main()
