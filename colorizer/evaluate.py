"""Evaluate a colourizer checkpoint on the test images of its category.

    python -m colorizer.evaluate checkpoints/unet.pt --data ../shared/data/cifar10
prints one JSON line: {"val_loss": ..., "val_acc": ..., "n_images": ...}
"""
import argparse
import json

from pixelwise.device import resolve_device

from .checkpoint import load_checkpoint
from .data import load_category, to_grey
from .palette import nearest_colour_labels
from .trainer import evaluate


def evaluate_checkpoint(path, data_root=None, category: str | None = None, limit: int | None = None,
                        device: str = "auto") -> dict:
    """Loss and pixel accuracy of a checkpoint on the test split, labelled with the checkpoint's own palette."""
    model, palette = load_checkpoint(path, resolve_device(device))
    rgb = load_category(category or model.meta.get("category", "horse"), data_root, "test")[:limit]
    val_loss, val_acc = evaluate(model, to_grey(rgb), nearest_colour_labels(rgb, palette))
    return {"val_loss": round(val_loss, 6), "val_acc": round(val_acc, 6), "n_images": len(rgb)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data", "--data-root", dest="data_root", default=None, help="image-folder root; omit to download CIFAR-10")
    parser.add_argument("--category", default=None, help="default: the category the checkpoint was trained on")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test images")
    parser.add_argument("--device", default="auto")
    arguments = parser.parse_args(argv)
    print(json.dumps(evaluate_checkpoint(arguments.checkpoint, arguments.data_root, arguments.category,
                                         arguments.limit, arguments.device)))


if __name__ == "__main__":
    main()
