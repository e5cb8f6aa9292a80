"""The colourization results table: grey baseline, handout CNN, handout UNet and the beyond-the-handout
model, measured in one run.

    python scripts/compare_colourizers.py --data ../shared/data/cifar10 --flowers ../shared/data/flowers17 \
        --out results/colourizers.md

- Handout metric (CIFAR-10 test horses, and all 10,000 test images): each model's 32 x 32 output decoded to RGB
  (mode, mean, annealed mean), it and the true pixel mapped to the nearest colour of the shipped unet.pt
  palette; pixel accuracy.
- Real photos (the 128 test photos of the flower split, never used to train a colourizer), 256 x 256,
  through the app's own full-resolution path (``colourize_photo``): PSNR of ab, AuC of the ab error
  (plain and class-rebalanced), colourfulness as a share of the truth's.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from colorizer import lab, metrics  # noqa: E402
from colorizer.checkpoint import load_checkpoint  # noqa: E402
from colorizer.data import load_category  # noqa: E402
from colorizer.inference import decode_rgb, grey_of, grey_to_rgb, model_input  # noqa: E402
from colorizer.pipeline import DEFAULT_TEMPERATURE, DEFAULT_WORK_SIZE, colourize_photo  # noqa: E402
from segmenter.data import make_split, list_ids, load_pair  # noqa: E402

DECODINGS = lab.DECODINGS


@torch.no_grad()
def cifar_outputs(model, palette, rgb: torch.Tensor, decodings=DECODINGS, batch: int = 500) -> dict:
    """N x 32 x 32 x 3 uint8 -> {decoding: the model's decoded RGB for every image}, one forward pass per batch."""
    outputs = {decoding: [] for decoding in decodings}
    for start in range(0, len(rgb), batch):
        images = rgb[start:start + batch].numpy()
        inputs = torch.from_numpy(np.stack([model_input(model, image) for image in images]))[:, None]
        logits = model(inputs).float()
        for decoding in decodings:
            outputs[decoding] += [torch.from_numpy(decode_rgb(model, palette, one, inputs[i, 0].numpy(), decoding))
                                  for i, one in enumerate(logits)]
    return {decoding: torch.stack(images) for decoding, images in outputs.items()}


def grey_rgb(rgb: torch.Tensor) -> torch.Tensor:
    grey = rgb.float().mean(dim=-1, keepdim=True).round().to(torch.uint8)
    return grey.expand(*rgb.shape)


def photo_metrics(outputs: list[np.ndarray], truths: list[np.ndarray]) -> dict:
    true_ab = np.concatenate([metrics.ab_of(t).reshape(-1, 2) for t in truths])
    pred_ab = np.concatenate([metrics.ab_of(o).reshape(-1, 2) for o in outputs])
    errors = np.linalg.norm(pred_ab - true_ab, axis=1)
    truth_colour = np.mean([metrics.colourfulness(t) for t in truths])
    return {"psnr_ab": metrics.ab_psnr(pred_ab, true_ab),
            "auc": metrics.ab_error_auc(errors),
            "auc_rebalanced": metrics.ab_error_auc(errors, metrics.inverse_frequency_weights(true_ab)),
            "colourfulness_share": np.mean([metrics.colourfulness(o) for o in outputs]) / truth_colour}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--flowers", default="../shared/data/flowers17")
    parser.add_argument("--checkpoints", nargs="+",
                        default=["checkpoints/cnn.pt", "checkpoints/unet.pt", "checkpoints/colour_mobile_unet.pt"])
    parser.add_argument("--palette-from", default="checkpoints/unet.pt", help="the reference palette of the handout metric")
    parser.add_argument("--work-size", type=int, default=DEFAULT_WORK_SIZE, help="the app's working size (long side) for photos")
    parser.add_argument("--temperature", type=float, default=DEFAULT_TEMPERATURE)
    parser.add_argument("--limit", type=int, default=None, help="first N images of each set (quick checks)")
    parser.add_argument("--photos-only", action="store_true", help="skip the CIFAR-10 columns (temperature and size sweeps)")
    parser.add_argument("--out", default=None, help="write the table (Markdown) here too")
    arguments = parser.parse_args(argv)
    torch.manual_seed(0)
    _, reference = load_checkpoint(arguments.palette_from)
    cifar_limit = 1 if arguments.photos_only else arguments.limit  # one image keeps the code path, not the cost
    horses = load_category("horse", arguments.data, "test")[:cifar_limit]
    everything = load_category("all", arguments.data, "test")[:cifar_limit]
    flower_ids = make_split(list_ids(Path(arguments.flowers)))["test"][:arguments.limit]
    truths = [load_pair(i, Path(arguments.flowers))[0] for i in flower_ids]
    rows = []
    grey_photos = [grey_to_rgb(grey_of(t)) for t in truths]
    rows.append(("grey baseline", "-", metrics.palette_accuracy(grey_rgb(horses), horses, reference),
                 metrics.palette_accuracy(grey_rgb(everything), everything, reference), photo_metrics(grey_photos, truths)))
    for path in arguments.checkpoints:
        model, palette = load_checkpoint(path)
        start = time.perf_counter()
        horse_outputs = cifar_outputs(model, palette, horses)
        all_outputs = cifar_outputs(model, palette, everything)
        for decoding in DECODINGS:
            photos = [colourize_photo(model, palette, t, arguments.work_size, decoding, arguments.temperature).colour
                      for t in tqdm(truths, desc=f"{Path(path).name} {decoding}", leave=False)]
            rows.append((Path(path).name, decoding, metrics.palette_accuracy(horse_outputs[decoding], horses, reference),
                         metrics.palette_accuracy(all_outputs[decoding], everything, reference),
                         photo_metrics(photos, truths)))
            print(rows[-1][:4], f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    table = format_table(rows, arguments, len(horses), len(everything), len(truths))
    print(table)
    if arguments.out:
        Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
        Path(arguments.out).write_text(table)
        records = [{"model": name, "decoding": decoding, "horses_acc": horse_acc, "all_acc": all_acc, **photo}
                   for name, decoding, horse_acc, all_acc, photo in rows]
        Path(arguments.out).with_suffix(".json").write_text(json.dumps(records, indent=1) + "\n")


def format_table(rows, arguments, n_horses: int, n_all: int, n_photos: int) -> str:
    lines = [f"Command: `python scripts/compare_colourizers.py {' '.join(sys.argv[1:])}`", "",
             f"Handout metric: pixel accuracy against the palette of {arguments.palette_from} on {n_horses} test "
             f"horses and {n_all} CIFAR-10 test images{' (skipped: --photos-only)' if arguments.photos_only else ''}. Photos: {n_photos} flower test photos at 256 x 256, models "
             f"at working size {arguments.work_size}, annealed mean at T = {arguments.temperature}.", "",
             "| model | decoding | horses acc | all-10 acc | ab PSNR (dB) | AuC | rebalanced AuC | colourfulness |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, decoding, horse_acc, all_acc, photo in rows:
        cifar = "| - | - |" if arguments.photos_only else f"| {100 * horse_acc:.1f}% | {100 * all_acc:.1f}% |"
        lines.append(f"| {name} | {decoding} {cifar} {photo['psnr_ab']:.2f} | "
                     f"{100 * photo['auc']:.1f}% | {100 * photo['auc_rebalanced']:.1f}% | "
                     f"{100 * photo['colourfulness_share']:.0f}% |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
