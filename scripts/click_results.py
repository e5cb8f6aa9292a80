"""Steering measured in clicks, as interactive segmentation measures them (issue 29): the table and the plot.

    python scripts/click_results.py                             # 200 Imagenette val/ + 128 flower test photos
    python scripts/click_results.py --limit 10 --out /tmp/c.md  # a quick look
    python scripts/click_results.py --cache results/tmp/clicks  # each photo's figures kept: a stopped run resumes

- A simulated person starts from zero hints; each click goes to the argmax of the ab-error map (|ab_out -
  ab_true| at the photo's own size, box-blurred over 3% of the long side, never within that distance of an
  earlier click) and gives the true mean colour of the 5 x 5 patch there. RGB PSNR and mean ab error after
  0, 1, 2, 3, 5 and 10 clicks, and NoC@+3 dB (clicks until PSNR >= zero-hint PSNR + 3 dB; 20 when never),
  for each reach (and, at object reach, each way the region enters the model: colorizer.inference.OBJECT_MODES).
- Leakage, on the flower test photos with their masks: one click at the flower pixel farthest from the
  mask's border with the flower's true mean colour: the share of flower pixels whose ab error drops, the
  mean ab change on background pixels, and the IoU of the region found with the flower mask.
- The hint model at the tab's working size (96) and decoding (annealed mean, T = 0.38), colour on each
  photo's own lightness at its own size (colourize_prepared's path). Writes the table (Markdown), a JSON
  beside it and the PSNR-against-clicks plot.
- ``--oracle-regions``: object regions grown on each photo's true colours instead of the model's features:
  what a perfect region finder could give with this model and this way of entering it (docs/hints.md).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer import hints as hint_module, inference, lab, metrics, photos, regions  # noqa: E402
from colorizer.checkpoint import load_checkpoint  # noqa: E402
from colorizer.regions import REACHES, reach_value, step_costs  # noqa: E402
from colorizer.inference import (OBJECT_MODE, OBJECT_MODES, compose_colour, long_side_size,  # noqa: E402
                                 model_input, predict_logits, prepare_photo, steered_logits, unwrapped)
from pixelwise import settings  # noqa: E402
from scripts.hint_results import plot_curve, rgb_psnr  # noqa: E402
from segmenter.data import list_ids, load_pair, make_split  # noqa: E402

COUNTS = (0, 1, 2, 3, 5, 10)
MAX_CLICKS = 20  # NoC counts up to here ("20 when never")
GAIN_DB = 3.0
BLUR_SHARE = 0.03
PATCH = 5
SETS = ("imagenette", "flower")
ORACLE_SIGMA = 10.0  # --oracle-regions: how softly a true colour is read as the model's ab classes


class PhotoSession:
    """One photo, the hint model and its zero-hint prediction, clicked on again and again."""

    def __init__(self, model, palette, truth: np.ndarray, arguments):
        self.model, self.palette, self.truth, self.arguments = model, palette, truth, arguments
        self.photo = prepare_photo(truth, max_side=None)
        self.work = long_side_size(*self.photo.size, arguments.work_size)
        self.grey = model_input(model, self.photo.small(self.work))
        self.base = predict_logits(model, self.grey)
        self.true_ab = metrics.ab_of(truth)
        self.regions = {"costs": oracle_costs(model, truth, self.grey)} if arguments.oracle_regions else {}

    def colour(self, logits: torch.Tensor) -> np.ndarray:
        return compose_colour(self.model, self.palette, logits, self.photo, "annealed", self.arguments.temperature)

    def steer(self, hints: list, reach: float, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The colour with these (x, y, rgb) hints at this reach, and the region mask at the working size."""
        checked = hint_module.checked_hints(hints, self.photo.full_size, reach)
        logits, union = steered_logits(self.model, self.grey, checked, self.photo.full_size, self.work, self.base,
                                       mode, self.regions)
        return self.colour(logits), union


def oracle_costs(model, truth: np.ndarray, grey: np.ndarray, sigma: float = ORACLE_SIGMA) -> np.ndarray:
    """Step costs (colorizer.regions.step_costs) over the photo's own lightness and TRUE colours at the working
    size, each pixel's true ab read as a soft one-hot over the model's ab classes (a Gaussian of ``sigma`` ab
    units): regions that only a person who knows the colours could draw, an upper bound for any region finder."""
    height, width = np.shape(grey)
    small = np.asarray(Image.fromarray(truth).resize((width, height), Image.Resampling.BILINEAR))
    true_ab = torch.from_numpy(metrics.ab_of(small)).float().reshape(-1, 2)
    squared = torch.cdist(true_ab, unwrapped(model).ab_centres.float()) ** 2
    soft = torch.softmax(-squared / (2 * sigma ** 2), dim=1).T.reshape(-1, height, width)
    return step_costs(np.asarray(grey, np.float64) * 100, soft)


def patch_colour(truth: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    """The mean RGB of the 5 x 5 patch around (x, y), clipped to the photo."""
    patch = truth[max(0, y - PATCH // 2):y + PATCH // 2 + 1, max(0, x - PATCH // 2):x + PATCH // 2 + 1]
    return tuple(int(v) for v in patch.reshape(-1, 3).mean(0).round())


def next_click(output: np.ndarray, true_ab: np.ndarray, earlier: list[tuple[int, int]]) -> tuple[int, int]:
    """The argmax of the box-blurred ab-error map, at least the blur's width from every earlier click."""
    height, width = true_ab.shape[:2]
    side = max(1, round(BLUR_SHARE * max(height, width)))
    error = torch.from_numpy(np.linalg.norm(metrics.ab_of(output) - true_ab, axis=2)).float()[None, None]
    blurred = F.avg_pool2d(error, side | 1, stride=1, padding=(side | 1) // 2, count_include_pad=False)[0, 0]
    rows, columns = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    for x, y in earlier:
        blurred[(columns - x) ** 2 + (rows - y) ** 2 < side ** 2] = -1
    index = int(blurred.argmax())
    return index % width, index // width


def psnr_and_ab(output: np.ndarray, session: PhotoSession) -> tuple[float, float]:
    ab_error = float(np.linalg.norm(metrics.ab_of(output) - session.true_ab, axis=2).mean())
    return rgb_psnr([output], [session.truth]), ab_error


def click_curve(session: PhotoSession, reach: float, mode: str) -> dict:
    """PSNR and mean ab error after each number of clicks, and NoC@+3 dB."""
    output = session.colour(session.base)
    start, start_ab = psnr_and_ab(output, session)
    psnr, ab_error, hints, clicks, noc = {0: start}, {0: start_ab}, [], [], None
    for count in range(1, MAX_CLICKS + 1):
        if count > max(COUNTS) and noc is not None:
            break
        x, y = next_click(output, session.true_ab, clicks)
        clicks.append((x, y))
        hints.append((x, y, patch_colour(session.truth, x, y)))
        output = session.steer(hints, reach, mode)[0]
        psnr[count], ab_error[count] = psnr_and_ab(output, session)
        if noc is None and psnr[count] >= start + GAIN_DB:
            noc = count
    return {"psnr": {c: psnr[c] for c in COUNTS}, "ab": {c: ab_error[c] for c in COUNTS},
            "noc": noc if noc is not None else MAX_CLICKS}


def deepest_pixel(mask: np.ndarray) -> tuple[int, int]:
    """(x, y) of the mask pixel farthest from its border (the last to go when eroding it, 3 x 3 at a time)."""
    current = torch.from_numpy(mask.astype(np.float32))[None, None]
    while True:
        eroded = -F.max_pool2d(-F.pad(current, (1, 1, 1, 1)), 3, stride=1)
        if eroded.sum() == 0:
            break
        current = eroded
    row, column = np.argwhere(current[0, 0].numpy() > 0)[0]
    return int(column), int(row)


def leakage(session: PhotoSession, labels: np.ndarray, reach: float, mode: str) -> dict:
    """One click at the flower's deepest pixel with the flower's true mean colour."""
    flower, background = labels == 1, labels == 0
    x, y = deepest_pixel(flower)
    mean_rgb = tuple(int(v) for v in session.truth[flower].mean(0).round())
    before = session.colour(session.base)
    after, union = session.steer([(x, y, mean_rgb)], reach, mode)
    before_ab, after_ab = metrics.ab_of(before), metrics.ab_of(after)
    error_before = np.linalg.norm(before_ab - session.true_ab, axis=2)
    error_after = np.linalg.norm(after_ab - session.true_ab, axis=2)
    change = np.linalg.norm(after_ab - before_ab, axis=2)
    result = {"improved": float((error_after[flower] < error_before[flower]).mean()),
              "background_change": float(change[background].mean()) if background.any() else 0.0}
    if union is not None:
        region = np.asarray(Image.fromarray(union).resize(labels.shape[::-1], Image.Resampling.BILINEAR)) > 0.5
        result["iou"] = float((region & flower).sum() / max(1, (region | flower).sum()))
    return result


def photo_sets(arguments) -> dict:
    """{set name: [(photo id, RGB, flower mask or None), ...]}: evenly spaced Imagenette photos, the flower split."""
    files = photos.photo_files(photos.split_folder(arguments.imagenette, arguments.imagenette_split))
    chosen = np.linspace(0, len(files) - 1, arguments.imagenette_count).round().astype(int)
    if arguments.limit:
        chosen = chosen[np.linspace(0, len(chosen) - 1, arguments.limit).round().astype(int)]
    imagenette = [(Path(files[i]).stem, np.asarray(Image.open(files[i]).convert("RGB")), None) for i in chosen]
    flower_ids = make_split(list_ids(Path(arguments.flowers)))[arguments.flower_split]
    if arguments.limit:
        flower_ids = [flower_ids[i] for i in np.linspace(0, len(flower_ids) - 1, arguments.limit).round().astype(int)]
    flowers = [(str(i), *load_pair(i, Path(arguments.flowers))) for i in flower_ids]
    return {f"imagenette {arguments.imagenette_split}": imagenette, f"flower {arguments.flower_split}": flowers}


def methods(arguments) -> list[tuple[str, float, str]]:
    """(name, reach, object mode) of each way measured."""
    chosen = [] if arguments.no_point else [("point", 0.0, "cover")]
    for reach in arguments.reaches:
        reach = reach if reach in REACHES else float(reach)  # a number from the command line: a reach of its own
        chosen += [(f"{reach} ({mode})" if len(arguments.modes) > 1 else reach, reach_value(reach), mode)
                   for mode in arguments.modes]
    return chosen


def cached(cache: Path | None, key: str, compute) -> dict:
    """compute() once per key: its JSON is kept in ``cache`` (a stopped run resumes; None: nothing kept)."""
    path = cache / f"{key}.json" if cache else None
    if path and path.exists():
        return json.loads(path.read_text())
    result = json.loads(json.dumps(compute()))  # as it comes back from the file: count keys become text
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    return result


def measure_set(set_name: str, pairs: list, model, palette, arguments, clicks: dict, leaks: dict) -> None:
    """The clicks curves (and, with masks, the leakage) of every method on one set of photos."""
    cache = Path(arguments.cache) if arguments.cache else None
    sessions = {}  # made when first needed: a resumed run skips the photos it has
    for name, reach, mode in methods(arguments):
        results, found = [], []
        for photo_id, truth, labels in tqdm(pairs, desc=f"{set_name}: {name}", leave=False):
            def session():
                if photo_id not in sessions:
                    sessions[photo_id] = PhotoSession(model, palette, truth, arguments)
                return sessions[photo_id]
            oracle = "-oracle" if arguments.oracle_regions and reach else ""
            key = f"{set_name}-{arguments.work_size}-{photo_id}-{name}-{mode}{oracle}".replace(" ", "_")
            results.append(cached(cache, key, lambda: click_curve(session(), reach, mode)))
            if labels is not None:
                found.append(cached(cache, key + "-leak", lambda: leakage(session(), labels, reach, mode)))
        clicks[(set_name, name)] = mean_of(results)
        print(set_name, name, clicks[(set_name, name)], file=sys.stderr)
        if found:
            leaks[name] = {key: float(np.mean([f[key] for f in found])) for key in found[0]}
            print(set_name, name, leaks[name], file=sys.stderr)


def mean_of(results: list[dict]) -> dict:
    return {"psnr": {c: float(np.mean([r["psnr"][str(c)] for r in results])) for c in COUNTS},
            "ab": {c: float(np.mean([r["ab"][str(c)] for r in results])) for c in COUNTS},
            "noc": float(np.mean([r["noc"] for r in results]))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--imagenette", default=str(settings.imagenette_root()))
    parser.add_argument("--flowers", default=str(settings.flowers_root()))
    parser.add_argument("--hint-model", default="checkpoints/colour_hints.pt")
    parser.add_argument("--work-size", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=lab.DEFAULT_TEMPERATURE)
    parser.add_argument("--imagenette-count", type=int, default=200, help="evenly spaced photos of val/")
    parser.add_argument("--limit", type=int, default=None, help="N evenly spaced photos of each set (quick checks)")
    parser.add_argument("--reaches", nargs="*", default=["object"], help="reaches beside point")
    parser.add_argument("--modes", nargs="+", default=[OBJECT_MODE], choices=OBJECT_MODES)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the app's own, one per request)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--imagenette-split", default="val", help="train/ to tune on, val/ to measure")
    parser.add_argument("--flower-split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--no-point", action="store_true", help="measure only --reaches, not point beside them")
    parser.add_argument("--oracle-regions", action="store_true",
                        help="grow object regions on the photo's TRUE colours (an upper bound for any region finder)")
    parser.add_argument("--distance", type=float, default=None,
                        help=f"tuning: where an object region ends (default regions.THRESHOLD = {regions.THRESHOLD})")
    parser.add_argument("--agreement-power", type=float, default=None,
                        help=f"tuning: the pull's agreement gate (default {inference.AGREEMENT_POWER}; 0: off)")
    parser.add_argument("--cache", default=None, help="a folder keeping each photo's figures (a stopped run resumes)")
    parser.add_argument("--out", default="results/clicks.md")
    parser.add_argument("--plot", default="docs/clicks.png")
    arguments = parser.parse_args(argv)
    if arguments.distance is not None or arguments.agreement_power is not None:  # tuning: never into the cache
        if arguments.cache:
            parser.error("--distance and --agreement-power are for tuning runs, without --cache")
        if arguments.distance is not None:
            regions.THRESHOLD = arguments.distance
        if arguments.agreement_power is not None:
            inference.AGREEMENT_POWER = arguments.agreement_power
    torch.manual_seed(0)
    torch.set_num_threads(arguments.threads)
    model, palette = load_checkpoint(arguments.hint_model)
    sets = {name: pairs for name, pairs in photo_sets(arguments).items() if name.split()[0] in arguments.sets}
    clicks, leaks = {}, {}
    for set_name, pairs in sets.items():
        measure_set(set_name, pairs, model, palette, arguments, clicks, leaks)
    write(clicks, leaks, sets, arguments)


def write(clicks: dict, leaks: dict, sets: dict, arguments) -> None:
    out = Path(arguments.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_table(clicks, leaks, sets, arguments))
    out.with_suffix(".json").write_text(json.dumps(
        {"clicks": [{"set": s, "method": m, **v} for (s, m), v in clicks.items()], "leakage": leaks}, indent=1) + "\n")
    if arguments.plot:
        plot_curve({f"{s}, {m}": v["psnr"] for (s, m), v in clicks.items()}, Path(arguments.plot))
    print(out.read_text())


def format_table(clicks: dict, leaks: dict, sets: dict, arguments) -> str:
    sizes = ", ".join(f"{len(pairs)} {name} photos" for name, pairs in sets.items())
    lines = [f"Command: `python scripts/click_results.py {' '.join(sys.argv[1:])}`", "",
             f"{sizes}; {Path(arguments.hint_model).name} at working size {arguments.work_size}, annealed mean "
             f"T = {arguments.temperature}, colour on each photo's own lightness at its own size." +
             (" Object regions grown on each photo's TRUE colours (--oracle-regions: an upper bound, not the app's "
              "regions)." if arguments.oracle_regions else ""), "",
             "| photos | reach | " + " | ".join(f"PSNR {c}" for c in COUNTS) + " | " +
             " | ".join(f"ab err {c}" for c in COUNTS) + " | NoC@+3 dB |",
             "|---|---|" + "---:|" * (2 * len(COUNTS) + 1)]
    for (set_name, name), values in clicks.items():
        lines.append(f"| {set_name} | {name} | " + " | ".join(f"{values['psnr'][c]:.2f}" for c in COUNTS) + " | "
                     + " | ".join(f"{values['ab'][c]:.2f}" for c in COUNTS) + f" | {values['noc']:.2f} |")
    lines += ["", f"Leakage, flower {arguments.flower_split} photos: one click at the flower's deepest pixel with its true mean colour.", "",
              "| reach | flower pixels improved | mean ab change on the background | region IoU with the flower |",
              "|---|---:|---:|---:|"]
    for name, values in leaks.items():
        iou = f"{values['iou']:.3f}" if "iou" in values else "-"
        lines.append(f"| {name} | {100 * values['improved']:.1f}% | {values['background_change']:.2f} | {iou} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
