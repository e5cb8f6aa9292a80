"""A picture grid for docs/beyond.md: real photos through the handout CNN, the handout UNet and the
beyond-the-handout model, beside the grey input and the original.

    python scripts/photo_grid.py examples/colourize/*.jpg --out docs/photo_grid.jpg

Each row is one photo (shown 192 px high); the models run as the Colourize tab runs them (working
size 96, colour laid onto the photo's own full-resolution lightness), the new model with the
annealed mean at T = 0.38, the handout models with their own argmax (the handout's decoding).
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer.inference import prepare_photo  # noqa: E402
from colorizer.pipeline import DEFAULT_WORK_SIZE, Colourizer, Settings  # noqa: E402
from pixelwise.images import load_rgb  # noqa: E402

ROW_HEIGHT = 192
COLUMNS = ("grey input", "handout CNN", "handout UNet", "MobileNetV2-UNet (Lab)", "original")


def fit(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(rgb)
    return image.resize((round(image.width * ROW_HEIGHT / image.height), ROW_HEIGHT), Image.Resampling.LANCZOS)


def row_images(path: str, models: list, work_size: int) -> list[Image.Image]:
    rgb = load_rgb(path)
    photo = prepare_photo(rgb, None)
    outputs = [colourizer.run(photo, Settings(decoding, work_size=work_size)).colour for colourizer, decoding in models]
    grey = photo.grey_rgb
    return [fit(image) for image in [grey, *outputs, rgb]]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="+")
    parser.add_argument("--checkpoints", nargs=3, default=["checkpoints/cnn.pt", "checkpoints/unet.pt",
                                                           "checkpoints/colour_mobile_unet.pt"])
    parser.add_argument("--work-size", type=int, default=DEFAULT_WORK_SIZE)
    parser.add_argument("--out", default="docs/photo_grid.jpg")
    arguments = parser.parse_args(argv)
    decodings = ("mode", "mode", "annealed")
    models = [(Colourizer.load(path), decoding) for path, decoding in zip(arguments.checkpoints, decodings)]
    rows = [row_images(path, models, arguments.work_size) for path in arguments.photos]
    widths = [max(row[column].width for row in rows) for column in range(len(COLUMNS))]
    gap, header = 4, 22
    grid = Image.new("RGB", (sum(widths) + gap * (len(widths) - 1), header + len(rows) * (ROW_HEIGHT + gap)), "white")
    draw = ImageDraw.Draw(grid)
    x = 0
    for column, (title, width) in enumerate(zip(COLUMNS, widths)):
        draw.text((x + 4, 4), title, fill="black")
        for index, row in enumerate(rows):
            grid.paste(row[column], (x, header + index * (ROW_HEIGHT + gap)))
        x += width + gap
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    grid.save(arguments.out, quality=88)
    print(f"wrote {arguments.out} ({grid.width} x {grid.height})")


if __name__ == "__main__":
    main()
