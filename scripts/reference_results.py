"""A reference photo sets the palette (issue 32): the global-hint model measured, a table and a picture.

    python scripts/reference_results.py --limit 200 --out results/reference.md

- Photos: ``--limit`` evenly spaced Imagenette ``val/`` photos and the flower test photos (at most ``--limit``;
  there are 128), through ``colourize_prepared`` at the tab's defaults (working size 96, annealed mean T = 0.38),
  as scripts/hint_results.py measures them (its AuC, rebalanced AuC, colourfulness share and RGB PSNR).
- Rows per set: the hint model with no reference (``--baseline``), the reference model (``--model``) with no
  reference, with the photo's own colours as the reference (SIGGRAPH 2017's "oracle" protocol), and with
  another photo of the same class (a fixed pairing: the next photo of its class in the list, cyclically).
- Histogram intersection (points, 0-100) of the output's ab classes with the photo's own truth and with the
  partner photo's: what the reference does to the palette, before (no reference) and after.
Writes the table (Markdown), a JSON beside it and a picture of a few pairs (``--picture``).
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
from colorizer import lab, reference  # noqa: E402
from colorizer.checkpoint import load_checkpoint  # noqa: E402
from colorizer.inference import grey_of, grey_to_rgb  # noqa: E402
from pixelwise import settings  # noqa: E402
from pixelwise.images import has_colour  # noqa: E402
from scripts.hint_results import labelled_photo_sets, photo_scores, run_model  # noqa: E402


def partners(classes: list) -> list[int]:
    """For each photo the next photo of the same class in the list (cyclically): a fixed pairing."""
    out = []
    for index, name in enumerate(classes):
        same = [other for other, other_name in enumerate(classes) if other_name == name]
        out.append(same[(same.index(index) + 1) % len(same)])
    return out


def intersection(outputs: list[np.ndarray], references: list[np.ndarray], centres: torch.Tensor) -> float:
    """Mean over photos of the ab-class histogram intersection (points) of each output with its reference."""
    values = [float(torch.minimum(reference.photo_palette(output, centres)[0],
                                  reference.photo_palette(ref, centres)[0]).sum()) for output, ref in zip(outputs, references)]
    return 100 * float(np.mean(values))


def measure(name, outputs, truths, paired, centres) -> dict:
    return {"protocol": name, **photo_scores(outputs, truths),
            "intersection_own": intersection(outputs, truths, centres),
            "intersection_partner": intersection(outputs, paired, centres)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagenette", default=str(settings.imagenette_root()))
    parser.add_argument("--flowers", default=str(settings.flowers_root()))
    parser.add_argument("--model", default="checkpoints/colour_reference.pt")
    parser.add_argument("--baseline", default="checkpoints/colour_hints.pt")
    parser.add_argument("--work-size", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=lab.DEFAULT_TEMPERATURE)
    parser.add_argument("--limit", type=int, default=200, help="N evenly spaced photos of each set")
    parser.add_argument("--out", default="results/reference.md")
    parser.add_argument("--picture", default="docs/reference_pairs.jpg")
    arguments = parser.parse_args(argv)
    torch.manual_seed(0)
    model, palette = load_checkpoint(arguments.model)
    baseline, baseline_palette = load_checkpoint(arguments.baseline)
    centres = model.ab_centres
    rows, shown, grey = [], [], {}
    for set_name, (truths, classes) in labelled_photo_sets(arguments).items():
        paired = [truths[other] for other in partners(classes)]
        usable = lambda photos: [photo if has_colour(photo) else None for photo in photos]  # noqa: E731
        grey[set_name] = sum(not has_colour(photo) for photo in truths)  # a grey reference is refused: none given
        runs = {f"{Path(arguments.baseline).name}, no reference": (baseline, baseline_palette, None),
                "no reference": (model, palette, None), "own colours (oracle)": (model, palette, usable(truths)),
                "another photo of its class": (model, palette, usable(paired))}
        outputs = {}
        for name, (net, net_palette, references) in runs.items():
            outputs[name] = run_model(net, net_palette, tqdm(truths, desc=f"{set_name}: {name}", leave=False),
                                      arguments, references=references)
            rows.append({"set": set_name, **measure(name, outputs[name], truths, paired, centres)})
            print(rows[-1], file=sys.stderr)
        shown += [(truths[i], outputs["no reference"][i], paired[i], outputs["another photo of its class"][i])
                  for i in np.linspace(0, len(truths) - 1, 3).round().astype(int)]
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_table(rows, arguments, grey))
    out.with_suffix(".json").write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    if arguments.picture:
        picture(shown, Path(arguments.picture))
    print(out.read_text())


def format_table(rows, arguments, grey: dict) -> str:
    lines = [f"Command: `python scripts/reference_results.py {' '.join(sys.argv[1:])}`", "",
             f"Model {Path(arguments.model).name}; working size {arguments.work_size}, annealed mean "
             f"T = {arguments.temperature}; colour on each photo's own lightness at its own size. "
             "∩ = ab-class histogram intersection of the output with the photo's truth / with its partner's. "
             "Grey photos (no reference is taken from them: " + ", ".join(f"{n} {name}" for name, n in grey.items())
             + ") are colourized without one.", "",
             "| photos | reference | AuC | rebalanced AuC | colourfulness | RGB PSNR (dB) | ∩ own truth | ∩ partner |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['set']} | {row['protocol']} | {100 * row['auc']:.1f}% | "
                     f"{100 * row['auc_rebalanced']:.1f}% | {100 * row['colourfulness_share']:.0f}% | "
                     f"{row['psnr_rgb']:.2f} | {row['intersection_own']:.1f} | {row['intersection_partner']:.1f} |")
    return "\n".join(lines) + "\n"


def picture(shown, path: Path, side: int = 160) -> None:
    """One row per example: grey, no reference, the reference (another photo of its class), with it, the truth."""
    titles = ("grey", "no reference", "reference", "with the reference", "truth")
    sheet = Image.new("RGB", (side * len(titles), 18 + side * len(shown)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, title in enumerate(titles):
        draw.text((column * side + 4, 3), title, fill="black")
    for row, (truth, automatic, ref, steered) in enumerate(shown):
        for column, image in enumerate((grey_to_rgb(grey_of(truth)), automatic, ref, steered, truth)):
            tile = Image.fromarray(np.asarray(image))
            tile.thumbnail((side, side))
            sheet.paste(tile, (column * side + (side - tile.width) // 2, 18 + row * side + (side - tile.height) // 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88)


if __name__ == "__main__":
    main()
