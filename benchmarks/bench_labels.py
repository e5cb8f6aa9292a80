"""Nearest-palette-colour labelling of a whole category: the handout's way vs PixelWise's.

Baseline: numpy distances from every pixel to every colour, 100 images at a time
(the assignment's starter code). PixelWise: distinct colours once, one small
distance matrix, one index (colorizer.palette.nearest_colour_labels).
Both run in this one process on the same images; the ratio is what to read.

    python -m benchmarks.bench_labels --data ../shared/data/cifar10
"""
import argparse
import time

import numpy as np
import torch

from colorizer import kmeans_palette, load_category, nearest_colour_labels


def handout_labels(rgb_uint8: np.ndarray, palette: np.ndarray, chunk: int = 100) -> np.ndarray:
    """N x H x W x 3 uint8 -> N x H x W labels, numpy broadcasting over chunks of images."""
    colours = palette.reshape(1, -1, 3, 1, 1)
    out = []
    for start in range(0, len(rgb_uint8), chunk):
        images = rgb_uint8[start:start + chunk].transpose(0, 3, 1, 2)[:, None].astype(np.float32) / 255.0
        out.append(((images - colours) ** 2).sum(axis=2).argmin(axis=1))
    return np.concatenate(out)


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    rgb = load_category("horse", arguments.data, "train")
    palette = kmeans_palette(rgb, 24, seed=0)
    ours = nearest_colour_labels(rgb, palette).numpy()
    baseline = handout_labels(rgb.numpy(), palette.numpy())
    agreement = float((ours == baseline).mean())
    t_base = best_of(lambda: handout_labels(rgb.numpy(), palette.numpy()), arguments.repeats)
    t_ours = best_of(lambda: nearest_colour_labels(rgb, palette), arguments.repeats)
    print(f"{len(rgb)} images, {torch.get_num_threads()} threads, best of {arguments.repeats}")
    print(f"handout numpy, chunks of 100 : {t_base:.3f} s")
    print(f"pixelwise distinct colours   : {t_ours:.3f} s")
    print(f"speed-up                     : {t_base / t_ours:.1f}x   (labels agree on {100 * agreement:.4f}% of pixels)")


if __name__ == "__main__":
    main()
