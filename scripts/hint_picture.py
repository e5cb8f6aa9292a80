"""The README's before/after picture of one hint: a photo colourized with no hint, then with one click.

    python scripts/hint_picture.py examples/chelsea_cat.jpg 150 220 "#3070ff" --out docs/hint_one_click.jpg

The hint (x, y in the photo's own pixels, and a colour) is given the way the tab and the API take it;
the three panels are the hint model with no hint, with that one hint (marked), and the original.
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer.hints import checked_hints, mark_hints  # noqa: E402
from colorizer.inference import prepare_photo  # noqa: E402
from colorizer.pipeline import Colourizer, Settings  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("x", type=int)
    parser.add_argument("y", type=int)
    parser.add_argument("colour")
    parser.add_argument("--checkpoint", default="checkpoints/colour_hints.pt")
    parser.add_argument("--side", type=int, default=360, help="long side of each panel")
    parser.add_argument("--out", default="docs/hint_one_click.jpg")
    arguments = parser.parse_args(argv)
    colourizer = Colourizer.load(arguments.checkpoint)
    photo = prepare_photo(arguments.photo, arguments.side)
    hints = checked_hints([(arguments.x, arguments.y, arguments.colour)], photo.full_size)
    plain = colourizer.run(photo, Settings()).colour
    steered = mark_hints(colourizer.run(photo, Settings(), hints).colour, hints, photo.full_size)
    panels = [("no hint", plain), (f"one hint {arguments.colour}", steered), ("original", photo.rgb)]
    height, width = plain.shape[:2]
    canvas = Image.new("RGB", (3 * width + 16, height + 22), "white")
    draw = ImageDraw.Draw(canvas)
    for n, (title, image) in enumerate(panels):
        canvas.paste(Image.fromarray(np.asarray(image)), (n * (width + 8), 22))
        draw.text((n * (width + 8) + 4, 4), title, fill="black")
    canvas.save(arguments.out, quality=90)
    print(arguments.out)


if __name__ == "__main__":
    main()
