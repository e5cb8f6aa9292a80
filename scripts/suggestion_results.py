"""How often the hint tab's suggested colours offer the truth (issue 29): today's method against the new one.

    python scripts/suggestion_results.py                    # 200 evenly spaced Imagenette val/ photos, 5 pixels each
    python scripts/suggestion_results.py --limit 20         # a quick look

At random pixels (seeded per photo) whose true colour has chroma >= 20, the zero-hint hint model's
suggestions there (at most 8) are shown as the tab shows them; a hit is a suggestion within ΔE_ab <= 12
(CIE76, Lab distance) of the true mean colour of the 5 x 5 patch around the pixel. Methods:
- ``today``: colorizer.hints.suggest_colours on the pixel's own distribution (greedy seeds 30 ab apart,
  k-means means), shown at the pixel's lightness clamped to 30-85, as an RGB colour (6 at most);
- ``modes``: colorizer.hints.suggest_modes on the same pixel's distribution, at the patch's own lightness:
  what the tab offers (colorizer.hints.click_suggestions);
- ``region modes``: suggest_modes on the mean distribution of the click's object region
  (colorizer.regions), at the patch's own lightness (measured lower, not used).
Writes a Markdown table and a JSON beside it.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer import hints as hint_module, lab, photos  # noqa: E402
from colorizer.checkpoint import load_checkpoint  # noqa: E402
from colorizer.inference import long_side_size, model_input, predict_logits, prepare_photo  # noqa: E402
from pixelwise import settings  # noqa: E402

PIXELS_PER_PHOTO = 5
MIN_CHROMA = 20.0
HIT_DELTA_E = 12.0
PATCH = 5


def shown_lab(suggestion: hint_module.Suggestion) -> torch.Tensor:
    """The colour a person sees and picks, in Lab: the exact one where the suggestion sends it, else its RGB's."""
    if suggestion.lab is not None:
        return torch.tensor(suggestion.lab, dtype=torch.float32)
    return lab.rgb_to_lab(torch.tensor(suggestion.rgb, dtype=torch.uint8)).float()


def sample_pixels(truth: np.ndarray, seed: int) -> list[tuple[int, int]]:
    """Random (x, y) whose true colour has chroma >= MIN_CHROMA (at most PIXELS_PER_PHOTO)."""
    ab = lab.rgb_to_lab(torch.from_numpy(truth.copy()))[..., 1:]
    rows, columns = torch.nonzero(ab.norm(dim=-1) >= MIN_CHROMA, as_tuple=True)
    if len(rows) == 0:
        return []
    picked = np.random.default_rng(seed).choice(len(rows), size=min(PIXELS_PER_PHOTO, len(rows)), replace=False)
    return [(int(columns[i]), int(rows[i])) for i in picked]


def patch_lab(truth: np.ndarray, x: int, y: int) -> torch.Tensor:
    patch = truth[max(0, y - PATCH // 2):y + PATCH // 2 + 1, max(0, x - PATCH // 2):x + PATCH // 2 + 1]
    mean = torch.from_numpy(patch.reshape(-1, 3).mean(0).round().astype(np.uint8))
    return lab.rgb_to_lab(mean).float()


def offered(method: str, logits, centres, grey, x, y, size, work, truth) -> list[hint_module.Suggestion]:
    column, row = hint_module.model_pixel(x, y, size, work)
    if method == "today":
        pixel_lightness = float(lab.rgb_to_lab(torch.from_numpy(truth[y, x].copy()))[0])
        return hint_module.suggestions_at(logits, centres, column, row, pixel_lightness)
    own_lightness = float(patch_lab(truth, x, y)[0])
    if method == "modes":
        return hint_module.suggest_modes(torch.softmax(logits[:, row, column], 0), centres, own_lightness)
    return hint_module.region_suggestions(logits, centres, grey, [(column, row)], own_lightness)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagenette", default=str(settings.imagenette_root()))
    parser.add_argument("--hint-model", default="checkpoints/colour_hints.pt")
    parser.add_argument("--work-size", type=int, default=96)
    parser.add_argument("--photos", type=int, default=200, help="evenly spaced photos of val/")
    parser.add_argument("--limit", type=int, default=None, help="fewer photos (quick checks)")
    parser.add_argument("--methods", nargs="+", default=["today", "modes", "region modes"])
    parser.add_argument("--out", default="results/suggestions.md")
    arguments = parser.parse_args(argv)
    model, _ = load_checkpoint(arguments.hint_model)
    files = photos.photo_files(photos.split_folder(arguments.imagenette, "val"))
    chosen = np.linspace(0, len(files) - 1, arguments.limit or arguments.photos).round().astype(int)
    hits = {method: [] for method in arguments.methods}
    counts = {method: [] for method in arguments.methods}
    for number, index in enumerate(tqdm(chosen)):
        truth = np.asarray(Image.open(files[index]).convert("RGB"))
        photo = prepare_photo(truth, max_side=None)
        work = long_side_size(*photo.size, arguments.work_size)
        grey = model_input(model, photo.small(work))
        logits = predict_logits(model, grey)
        for x, y in sample_pixels(truth, seed=number):
            true_lab = patch_lab(truth, x, y)
            for method in arguments.methods:
                found = offered(method, logits, model.ab_centres, grey, x, y, photo.full_size, work, truth)[:8]
                counts[method].append(len(found))
                hits[method].append(any(float((shown_lab(s) - true_lab).norm()) <= HIT_DELTA_E for s in found))
    rows = {method: {"hit_rate": float(np.mean(hits[method])), "mean_suggestions": float(np.mean(counts[method])),
                     "pixels": len(hits[method])} for method in arguments.methods}
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"Command: `python scripts/suggestion_results.py {' '.join(sys.argv[1:])}`", "",
             f"{len(chosen)} evenly spaced Imagenette val/ photos, up to {PIXELS_PER_PHOTO} random pixels each with true "
             f"chroma >= {MIN_CHROMA:g}; a hit: a shown suggestion within ΔE_ab <= {HIT_DELTA_E:g} of the 5 x 5 patch's "
             f"true colour; {Path(arguments.hint_model).name}, no hint, working size {arguments.work_size}.", "",
             "| method | hit rate | suggestions shown (mean) | pixels |", "|---|---:|---:|---:|"]
    lines += [f"| {m} | {100 * r['hit_rate']:.1f}% | {r['mean_suggestions']:.1f} | {r['pixels']} |" for m, r in rows.items()]
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
