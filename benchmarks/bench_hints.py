"""How long a hint takes to show: a 1-megapixel upload colourized again with one more hint, at full
resolution, by the hint model alone (point and object reach) and by the Colourize tab's whole upload path
(three models).

    python -m benchmarks.bench_hints --repeats 7

Prints the median of the repeats (each run adds one more hint, as a person clicking does) against the
same call with no hint, in one process, and the CPU it ran on. With ``--reference-checkpoint`` (issue 32) also
a reference photo's palette applied and the photo redrawn at full resolution: the reference model alone (full
strength, and half strength: two passes) and the tab's path with the reference.
"""
import argparse
import os
import statistics
import subprocess
import time

import numpy as np
from PIL import Image

from colorizer.inference import prepare_photo
from colorizer.pipeline import Colourizer, Settings


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        name = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
        return f"{name}, bf16 {'yes' if 'avx512_bf16' in out else 'no'}"
    except Exception:
        return "unknown CPU"


def timed(call, repeats: int) -> float:
    times = []
    for n in range(repeats):
        start = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="checkpoints/colour_hints.pt")
    parser.add_argument("--photo", default="examples/chelsea_cat.jpg")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--reference-checkpoint", default=None, help="e.g. checkpoints/colour_reference.pt")
    parser.add_argument("--reference-photo", default="examples/coffee.jpg")
    arguments = parser.parse_args(argv)
    image = Image.open(arguments.photo).convert("RGB")
    scale = (arguments.megapixels * 1e6 / (image.width * image.height)) ** 0.5
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    path = "/tmp/bench_hints_photo.png"
    image.save(path)
    colourizer = Colourizer.load(arguments.checkpoint)
    rng = np.random.default_rng(0)
    clicks = [(int(rng.integers(image.width)), int(rng.integers(image.height)), "#%06x" % int(rng.integers(1 << 24)))
              for _ in range(arguments.repeats)]
    from ui.colourize_tab import colourize_upload_panels, default_checkpoints  # the tab's own path, no server

    photo = prepare_photo(path, None)
    colourizer.run(photo, Settings(), clicks[:1])  # warm-up
    model_none = timed(lambda n: colourizer.run(prepare_photo(path, None), Settings()), arguments.repeats)
    model_hint = timed(lambda n: colourizer.run(prepare_photo(path, None), Settings(), clicks[:n + 1]), arguments.repeats)
    objects = [{"x": x, "y": y, "colour": c, "reach": "object"} for x, y, c in clicks]  # region finding included
    model_object = timed(lambda n: colourizer.run(prepare_photo(path, None), Settings(), objects[:n + 1]),
                         arguments.repeats)
    chosen = default_checkpoints()
    tab_hint = timed(lambda n: colourize_upload_panels(path, chosen, hints=[{"x": x, "y": y, "colour": c}
                                                                              for x, y, c in clicks[:n + 1]]),
                     arguments.repeats)
    print(f"{image.width}x{image.height} ({image.width * image.height / 1e6:.2f} MP), {cpu_name()}, "
          f"median of {arguments.repeats}")
    print(f"hint model alone, no hint:            {model_none:.3f} s")
    print(f"hint model alone, with hints:         {model_hint:.3f} s")
    print(f"hint model alone, object-reach hints: {model_object:.3f} s  (regions found, two model runs)")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    print(f"Colourize tab upload path (3 models): {tab_hint:.3f} s  (decode, three models, hint markers)")
    if arguments.reference_checkpoint:
        time_reference(arguments, path, chosen)


def time_reference(arguments, path: str, chosen: dict) -> None:
    """A reference applied and the 1-MP photo redrawn at full resolution (the reference read as the tab reads it)."""
    from pathlib import Path

    from ui.colourize_tab import colourize_upload_panels, reference_photo

    colourizer = Colourizer.load(arguments.reference_checkpoint)
    reference = reference_photo(arguments.reference_photo).photo
    colourizer.run(prepare_photo(path, None), Settings(), reference=reference)  # warm-up
    alone = {strength: timed(lambda n: colourizer.run(prepare_photo(path, None), Settings(), reference=reference,
                                                      reference_strength=strength), arguments.repeats)
             for strength in (0.5, 1.0)}
    chosen = chosen | {"beyond": Path(arguments.reference_checkpoint).name}
    tab = timed(lambda n: colourize_upload_panels(path, chosen, reference=arguments.reference_photo), arguments.repeats)
    print(f"reference model alone, reference at full strength: {alone[1.0]:.3f} s")
    print(f"reference model alone, reference at half strength: {alone[0.5]:.3f} s  (two passes, logits blended)")
    print(f"Colourize tab upload path with a reference:        {tab:.3f} s  (decode both, three models)")


if __name__ == "__main__":
    main()
