"""Colour from real photos, with and without user hints: the results table and the hints curve (issue 19).

    python scripts/hint_results.py --out results/hints.md        # all of Imagenette val/ + 128 flower test photos
    python scripts/hint_results.py --limit 100 --out /tmp/h.md   # a quick look

- Photos: Imagenette's val/ (../shared/data/imagenette160, never trained on) and the 128 flower test photos,
  each at its own size through the app's full-resolution path (``colourize_prepared``) at the tab's working
  size, with the tab's default decoding (annealed mean, T = 0.38).
- Measures per model: AuC of the ab error (plain and class-rebalanced), colourfulness as a share of the
  truth's, and RGB PSNR (the output, its colour laid on the photo's own lightness, against the photo).
  Rows: the grey photo itself, the handout CNN and UNet, today's beyond model, the hint model with no hint.
- Then the hint model's RGB PSNR against the number of hints (0, 1, 2, 5, 10, 20, 50): hints at random pixels
  (a fixed seed per photo), each the true colour of the pixel it is on, as SIGGRAPH 2017's evaluation reveals
  ground-truth colour. Writes the table (Markdown), a JSON beside it and the curve as a PNG.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer import lab, metrics, photos  # noqa: E402
from colorizer.checkpoint import load_checkpoint  # noqa: E402
from colorizer.inference import colourize_prepared, grey_of, grey_to_rgb, prepare_photo  # noqa: E402
from pixelwise import settings  # noqa: E402
from segmenter.data import list_ids, load_pair, make_split, species_of  # noqa: E402

HINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)
DEFAULT_MODELS = ("checkpoints/cnn.pt", "checkpoints/unet.pt", "checkpoints/colour_mobile_unet.pt",
                  "checkpoints/colour_hints.pt")


def rgb_psnr(outputs: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """Mean over photos of each photo's RGB PSNR (dB), as SIGGRAPH 2017 reports it."""
    values = []
    for output, truth in zip(outputs, truths):
        mse = np.mean((output.astype(np.float64) - truth.astype(np.float64)) ** 2)
        values.append(10 * np.log10(255.0 ** 2 / max(mse, 1e-12)))
    return float(np.mean(values))


def photo_scores(outputs: list[np.ndarray], truths: list[np.ndarray]) -> dict:
    true_ab = np.concatenate([metrics.ab_of(t).reshape(-1, 2) for t in truths])
    pred_ab = np.concatenate([metrics.ab_of(o).reshape(-1, 2) for o in outputs])
    errors = np.linalg.norm(pred_ab - true_ab, axis=1)
    return {"auc": metrics.ab_error_auc(errors),
            "auc_rebalanced": metrics.ab_error_auc(errors, metrics.inverse_frequency_weights(true_ab)),
            "colourfulness_share": float(np.mean([metrics.colourfulness(o) for o in outputs])
                                         / np.mean([metrics.colourfulness(t) for t in truths])),
            "psnr_rgb": rgb_psnr(outputs, truths)}


def random_hints(truth: np.ndarray, count: int, seed: int) -> list[tuple[int, int, tuple[int, int, int]]]:
    """``count`` hints at distinct random pixels of the photo, each the photo's true colour there."""
    height, width = truth.shape[:2]
    rng = np.random.default_rng(seed)
    places = rng.choice(height * width, size=count, replace=False)
    return [(int(p % width), int(p // width), tuple(int(v) for v in truth[p // width, p % width])) for p in places]


def labelled_photo_sets(arguments) -> dict[str, tuple[list[np.ndarray], list]]:
    """Each set's photos and each photo's class (Imagenette's synset folder, the flower species)."""
    folder = photos.split_folder(arguments.imagenette, "val")
    files = photos.photo_files(folder)
    if arguments.limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, arguments.limit).round().astype(int)]
    imagenette = [np.asarray(Image.open(path).convert("RGB")) for path in files]
    flower_ids = make_split(list_ids(Path(arguments.flowers)))["test"][:arguments.limit]
    return {"imagenette val": (imagenette, [path.parent.name for path in files]),
            "flower test": ([load_pair(i, Path(arguments.flowers))[0] for i in flower_ids],
                            [species_of(i) for i in flower_ids])}


def photo_sets(arguments) -> dict[str, list[np.ndarray]]:
    return {name: truths for name, (truths, _) in labelled_photo_sets(arguments).items()}


def run_model(model, palette, truths, arguments, hint_count: int = 0, references=None) -> list[np.ndarray]:
    """Each photo colourized at the tab's defaults; ``references``: one reference photo per photo (issue 32)."""
    outputs = []
    for index, truth in enumerate(truths):
        hints = random_hints(truth, hint_count, seed=index) if hint_count else None
        photo = prepare_photo(truth, max_side=None)
        outputs.append(colourize_prepared(model, palette, photo, arguments.work_size, "annealed",
                                          arguments.temperature, hints=hints,
                                          reference=None if references is None else references[index]).colour)
    return outputs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagenette", default=str(settings.imagenette_root()))
    parser.add_argument("--flowers", default=str(settings.flowers_root()))
    parser.add_argument("--checkpoints", nargs="+", default=list(DEFAULT_MODELS))
    parser.add_argument("--hint-model", default="checkpoints/colour_hints.pt")
    parser.add_argument("--work-size", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=lab.DEFAULT_TEMPERATURE)
    parser.add_argument("--limit", type=int, default=None, help="N evenly spaced photos of each set (quick checks)")
    parser.add_argument("--hint-counts", type=int, nargs="*", default=list(HINT_COUNTS),
                        help="numbers of hints on the curve (none: no curve)")
    parser.add_argument("--out", default="results/hints.md")
    arguments = parser.parse_args(argv)
    torch.manual_seed(0)
    sets = photo_sets(arguments)
    rows, curve = [], {}
    for set_name, truths in sets.items():
        greys = [grey_to_rgb(grey_of(t)) for t in truths]
        rows.append({"set": set_name, "model": "grey photo", **photo_scores(greys, truths)})
        for path in arguments.checkpoints:
            model, palette = load_checkpoint(path)
            outputs = run_model(model, palette, tqdm(truths, desc=f"{set_name}: {Path(path).name}", leave=False), arguments)
            rows.append({"set": set_name, "model": Path(path).name, **photo_scores(outputs, truths)})
            print(rows[-1], file=sys.stderr)
        if not arguments.hint_counts:
            continue
        model, palette = load_checkpoint(arguments.hint_model)
        curve[set_name] = {}
        for count in arguments.hint_counts:
            outputs = run_model(model, palette, tqdm(truths, desc=f"{set_name}: {count} hints", leave=False), arguments, count)
            curve[set_name][count] = rgb_psnr(outputs, truths)
            print(set_name, count, curve[set_name][count], file=sys.stderr)
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_table(rows, curve, sets, arguments))
    out.with_suffix(".json").write_text(json.dumps({"rows": rows, "hints_psnr": curve}, indent=1) + "\n")
    if curve:
        plot_curve(curve, out.with_suffix(".png"))
    print(out.read_text())


def format_table(rows, curve, sets, arguments) -> str:
    sizes = ", ".join(f"{len(truths)} {name} photos" for name, truths in sets.items())
    lines = [f"Command: `python scripts/hint_results.py {' '.join(sys.argv[1:])}`", "",
             f"{sizes}; models at working size {arguments.work_size}, annealed mean T = {arguments.temperature}, "
             "colour on each photo's own lightness at its own size.", "",
             "| photos | model | AuC | rebalanced AuC | colourfulness | RGB PSNR (dB) |", "|---|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['set']} | {row['model']} | {100 * row['auc']:.1f}% | {100 * row['auc_rebalanced']:.1f}% | "
                     f"{100 * row['colourfulness_share']:.0f}% | {row['psnr_rgb']:.2f} |")
    lines += ["", f"Hint model ({Path(arguments.hint_model).name}), RGB PSNR (dB) against the number of hints "
              "(true colours at random pixels, seed = photo index):", "",
              "| photos | " + " | ".join(str(c) for c in arguments.hint_counts) + " |",
              "|---|" + "---:|" * len(arguments.hint_counts)]
    for name, values in curve.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[c]:.2f}" for c in arguments.hint_counts) + " |")
    return "\n".join(lines) + "\n"


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")  # one per line of a plot


def plot_curve(curve: dict, path: Path, size=(640, 400)) -> None:
    """PSNR against the number of hints (x on a sqrt scale, so 0-10 are readable), one line per photo set."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = 60, 30, size[0] - 20, size[1] - 50
    values = [v for c in curve.values() for v in c.values()]
    low, high = np.floor(min(values)) - 0.5, np.ceil(max(values)) + 0.5
    counts = sorted(next(iter(curve.values())))
    x_of = lambda count: left + (right - left) * np.sqrt(count) / np.sqrt(max(counts))  # noqa: E731
    y_of = lambda value: bottom - (bottom - top) * (value - low) / (high - low)  # noqa: E731
    draw.rectangle((left, top, right, bottom), outline="black")
    for count in counts:
        draw.line((x_of(count), bottom, x_of(count), bottom + 5), fill="black")
        draw.text((x_of(count) - 6, bottom + 8), str(count), fill="black")
    for value in np.arange(np.ceil(low), high, 1.0):
        draw.line((left - 5, y_of(value), left, y_of(value)), fill="black")
        draw.text((left - 30, y_of(value) - 6), f"{value:.0f}", fill="black")
    draw.text(((left + right) // 2 - 60, size[1] - 22), "number of hints (sqrt scale)", fill="black")
    draw.text((8, top - 22), "RGB PSNR (dB)", fill="black")
    for number, ((name, values), colour) in enumerate(zip(curve.items(), COLOURS)):
        points = [(x_of(c), y_of(values[c])) for c in counts]
        draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
        draw.text((points[-1][0] - 7 * len(name) - 10, points[-1][1] - 18 if number % 2 == 0 else points[-1][1] + 6),
                  name, fill=colour)
    image.save(path)


if __name__ == "__main__":
    main()
