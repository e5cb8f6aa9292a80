"""Inference time of a 512 x 512 upload through each colourizer (the Colourize tab's own path), CPU.

Baseline: the handout UNet. Each model runs ``colourize_photo`` at the tab's default working size
(96) and at 256, all in this one process; medians of repeats; the ratio to the baseline is what to read.

    python -m benchmarks.bench_colour_models
"""
import argparse
import statistics
import time

import numpy as np
import torch

from colorizer.checkpoint import load_checkpoint
from colorizer.pipeline import DEFAULT_WORK_SIZE, colourize_photo


def median_seconds(function, repeats: int) -> float:
    function()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", default=["checkpoints/unet.pt", "checkpoints/cnn.pt",
                                                              "checkpoints/colour_mobile_unet.pt"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--size", type=int, default=512)
    arguments = parser.parse_args()
    photo = np.random.default_rng(0).integers(0, 256, (arguments.size, arguments.size, 3), dtype=np.uint8)
    print(f"{arguments.size} x {arguments.size} photo, median of {arguments.repeats} (colourize_photo runs the model on one torch thread)")
    print("| checkpoint | decoding | work size | seconds | x baseline |\n|---|---|---:|---:|---:|")
    baseline = {}
    for path in arguments.checkpoints:
        model, palette = load_checkpoint(path)
        decoding = "annealed" if getattr(model, "colour_space", "rgb") == "lab" else "mode"
        for work in (DEFAULT_WORK_SIZE, 256):
            seconds = median_seconds(lambda: colourize_photo(model, palette, photo, work, decoding), arguments.repeats)
            baseline.setdefault(work, seconds)
            print(f"| {path} | {decoding} | {work} | {seconds:.3f} | {seconds / baseline[work]:.2f} |")


if __name__ == "__main__":
    main()
