"""One upload through every colourizer (and the segmenter): the old full-resolution path vs the lean one.

Baseline (``old_*`` below, the code before issue 12): decode to a full-size RGB array, per model a
float grey and Lab conversion of the whole photo, a full-size colour and class map, every shown
image encoded as PNG (what the Colourize tab sent). Lean (colorizer.inference): decode once (JPEG
DCT-scaled when much larger than shown), grey / Y / Lab L once per upload, chroma upsampled once
per model in strips, shown images capped at DISPLAY_LONG_SIDE and sent as JPEG; the full-size PNG
is a separate download, timed on its own. Times: median of ``--repeats`` in this process, both
paths on the same file. Memory: each path again in a fresh child process (after a warm-up on a
small photo): peak RSS during the request minus RSS before it, and RSS after it (gc + malloc_trim)
minus RSS before it.

    python -m benchmarks.bench_upload --checkpoints checkpoints/cnn.pt checkpoints/unet.pt checkpoints/colour_mobile_unet.pt
"""
import argparse
import ctypes
import gc
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from colorizer import lab
from colorizer.inference import (DISPLAY_LONG_SIDE, classes_to_rgb, decode_rgb, grey_of, grey_to_rgb, is_lab,
                                 long_side_size, model_input, predict_logits, prepare_photo)
from colorizer.pipeline import Colourizer, Settings
from pixelwise.images import has_colour, load_rgb


def synthetic_photo(width: int, height: int, path: Path, seed: int = 0) -> Path:
    """A photo-like JPEG (smooth colour fields, texture, grain; quality 90), written in bands."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height))
    for top in range(0, height, 500):
        y, x = np.mgrid[top:min(height, top + 500), 0:width].astype(np.float32)
        rgb = np.stack([127 + 90 * np.sin(x / 310 + y / 530), 120 + 80 * np.cos(x / 170 - y / 900),
                        110 + 70 * np.sin(y / 95) * np.cos(x / 400)], axis=2)
        rgb += rng.normal(0, 10, rgb.shape).astype(np.float32)
        image.paste(Image.fromarray(rgb.clip(0, 255).astype(np.uint8)), (0, top))
    image.save(path, quality=90)
    return path


MODE = Settings(decoding="mode")  # what these timings were first measured with (issue 12)


def png_bytes(rgb: np.ndarray) -> int:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.tell()


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> int:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.tell()


def old_colourize_photo(model, palette, rgb, long_side=96):
    """colorizer.inference.colourize_photo before issue 12 (mode decoding)."""
    height, width = rgb.shape[:2]
    grey = (grey_of(rgb) * 255).round().astype(np.uint8)
    work = long_side_size(width, height, long_side)
    small = np.asarray(Image.fromarray(rgb).resize(work, Image.Resampling.BILINEAR))
    model_grey = model_input(model, small)
    logits = predict_logits(model, model_grey)
    small_colour = decode_rgb(model, palette, logits, model_grey, "mode")
    class_map = np.asarray(Image.fromarray(classes_to_rgb(logits.argmax(dim=0).numpy(), palette))
                           .resize((width, height), Image.Resampling.NEAREST))
    if is_lab(model):
        ab = lab.decode_colours(logits[None], model.ab_centres, "mode")
        ab = F.interpolate(ab, size=(height, width), mode="bilinear", align_corners=False)[0]
        lightness = lab.rgb_to_lab(torch.from_numpy(rgb))[..., :1]
        colour = lab.lab_to_uint8(torch.cat([lightness, ab.permute(1, 2, 0)], dim=-1)).numpy()
    else:
        chroma = Image.fromarray(small_colour).resize((width, height), Image.Resampling.BICUBIC).convert("YCbCr")
        _, cb, cr = chroma.split()
        luminance = Image.fromarray(rgb).convert("YCbCr").split()[0]
        colour = np.asarray(Image.merge("YCbCr", (luminance, cb, cr)).convert("RGB"))
    return grey_to_rgb(grey), colour, class_map


def old_request(path, models) -> int:
    """The Colourize tab before issue 12: full-size everything, shown images as PNG."""
    rgb = load_rgb(path)
    shown = [grey_to_rgb(grey_of(rgb)), rgb if has_colour(rgb) else None]
    last = None
    for colourizer in models:
        grey, colour, _ = old_colourize_photo(colourizer.model, colourizer.palette, rgb)
        shown.append(colour)
        last = (grey, colour)
    shown += list(last)  # the before/after slider
    return sum(png_bytes(image) for image in shown if image is not None)


def lean_request(path, models) -> int:
    """The Colourize tab now: one prepared photo, every model on it, shown images as JPEG."""
    photo = prepare_photo(path, DISPLAY_LONG_SIDE)
    shown = [None, photo.rgb if photo.has_colour else None]
    last = None
    for colourizer in models:
        result = colourizer.run(photo, MODE)
        shown[0] = result.grey
        shown.append(result.colour)
        last = (result.grey, result.colour)
    shown += list(last)
    return sum(jpeg_bytes(image) for image in shown if image is not None)


def lean_downloads(path, models, folder) -> int:
    """Full-size PNG of every model's result, as the "Full-size PNGs" button makes them."""
    shown = prepare_photo(path, DISPLAY_LONG_SIDE)
    logits = [colourizer.logits(shown, MODE)[0] for colourizer in models]
    full = prepare_photo(path, None)
    full.keep_only(*{colourizer.lightness_plane for colourizer in models})
    total = 0
    for index, (colourizer, model_logits) in enumerate(zip(models, logits)):
        total += colourizer.save_png(model_logits, full, Path(folder) / f"{index}.png", MODE).stat().st_size
    return total


def segment_request(path, old: bool) -> None:
    from segmenter.inference import load_segmenter, mask_image, overlay, segment
    model = load_segmenter("flower")
    rgb = load_rgb(path) if old else prepare_photo(path, DISPLAY_LONG_SIDE).rgb
    result = segment(model, rgb, "flower")
    encode = png_bytes if old else jpeg_bytes
    encode(overlay(rgb, result, 0.5)), encode(mask_image(result))


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def peak_rss() -> int:
    """VmHWM: the most resident memory since start or the last reset through clear_refs."""
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def trimmed_rss() -> int:
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so RSS shows what is still held
    return rss_bytes()


def run(kind: str, path, models, folder) -> None:
    if kind == "old":
        old_request(path, models)
    elif kind == "lean":
        lean_request(path, models)
    elif kind == "download":
        lean_downloads(path, models, folder)
    else:
        segment_request(path, old=kind == "segment_old")


def child(arguments) -> None:
    """Memory of one path in this fresh process: peak and retained RSS over the RSS before the request."""
    torch.set_num_threads(arguments.threads)
    models = [Colourizer.load(path) for path in arguments.checkpoints]
    folder = tempfile.mkdtemp()
    warm = synthetic_photo(320, 240, Path(folder) / "warm.jpg")
    run(arguments.child, warm, models, folder)  # first-call costs (thread pools, lazy imports) out of the way
    before = trimmed_rss()
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the peak RSS (VmHWM) to the current RSS
    run(arguments.child, arguments.photo, models, folder)
    print(json.dumps({"peak_extra": peak_rss() - before, "retained": trimmed_rss() - before}))


def memory(kind: str, arguments) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_upload", "--child", kind, "--photo", str(arguments.photo),
               "--threads", str(arguments.threads), "--checkpoints", *arguments.checkpoints]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])


def median_time(function, repeats: int) -> tuple[float, float]:
    """Median wall and CPU (this process, all threads) seconds of ``repeats`` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", nargs="+", default=["checkpoints/cnn.pt", "checkpoints/unet.pt"])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[12.0, 49.0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-old", action="store_true", help="leave out the (slow) baseline path")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        return child(arguments)
    torch.set_num_threads(arguments.threads)
    models = [Colourizer.load(path) for path in arguments.checkpoints]
    names = ", ".join(f"{Path(p).name} ({'Lab' if c.is_lab else 'palette'})" for p, c in zip(arguments.checkpoints, models))
    print(f"models: {names}; {arguments.threads} threads; median of {arguments.repeats} "
          f"(baselines: of {max(1, arguments.repeats // 2)}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    folder = Path(tempfile.mkdtemp())
    for megapixels in arguments.megapixels:
        width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
        height = int(round(width * 3 / 4))
        arguments.photo = synthetic_photo(width, height, folder / f"photo_{megapixels:g}mp.jpg")
        rgb_mib = width * height * 3 / 2**20
        print(f"\n{width} x {height} JPEG ({arguments.photo.stat().st_size / 2**20:.1f} MiB on disk, "
              f"RGB {rgb_mib:.0f} MiB)")
        print(f"| path | wall (s) | CPU (s) | peak extra memory (MiB, x RGB) | retained after (MiB) |")
        print(f"|---|---:|---:|---:|---:|")
        kinds = [k for k in ("old", "lean", "download", "segment_old", "segment_lean")
                 if not (arguments.skip_old and k.endswith("old"))]
        repeats = {"old": max(1, arguments.repeats // 2), "segment_old": max(1, arguments.repeats // 2)}
        for kind in kinds:
            seconds, cpu = median_time(lambda: run(kind, arguments.photo, models, folder), repeats.get(kind, arguments.repeats))
            used = memory(kind, arguments)
            peak = f"{used['peak_extra'] / 2**20:.0f} ({used['peak_extra'] / 2**20 / rgb_mib:.1f}x)"
            print(f"| {kind} | {seconds:.2f} | {cpu:.2f} | {peak} | {used['retained'] / 2**20:.0f} |", flush=True)
        arguments.photo.unlink()


if __name__ == "__main__":
    main()
