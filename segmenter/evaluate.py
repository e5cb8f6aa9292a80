"""Evaluate a flower checkpoint on a split; prints one JSON line.

    python -m segmenter.evaluate checkpoints/flowers_deeplab.pt [--split test|val|train]
"""
import argparse
import json

from pixelwise.device import resolve_device

from .data import list_ids, load_set, make_split
from .models import load_flower_checkpoint
from .trainer import evaluate_model


def split_ids(model, split: str, data_root=None) -> list[int]:
    """The ids the checkpoint recorded for ``split`` (so numbers match its meta), else the fixed split."""
    recorded = getattr(model, "meta", {}).get("split", {})
    return list(recorded[split]) if split in recorded else make_split(list_ids(data_root))[split]


def evaluate_checkpoint(path, split: str = "test", data_root=None, device="cpu") -> dict:
    model = load_flower_checkpoint(path, device)
    data = load_set(split_ids(model, split, data_root), data_root)
    metrics = evaluate_model(model, data, device=device)
    return {"iou": metrics["iou"], "pixel_acc": metrics["pixel_acc"], "n_images": len(data), "split": split}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--split", choices=("train", "val", "test"), default="test")
    parser.add_argument("--data-root", default=None, help="default: $PIXELWISE_FLOWERS or ../shared/data/flowers17")
    args = parser.parse_args(argv)
    print(json.dumps(evaluate_checkpoint(args.checkpoint, args.split, args.data_root, str(resolve_device()))))


if __name__ == "__main__":
    main()
