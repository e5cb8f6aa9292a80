"""Command line for the one fine-tuning loop (segmenter/trainer.py): fine-tune the flower DeepLabV3 and
save a checkpoint with the split ids and val/test metrics in its meta.

    python -m segmenter.train --mode head --epochs 30 --out checkpoints/flowers_deeplab.pt
    python -m segmenter.train --mode full --epochs 3 --init checkpoints/head.pt --out ...
"""
import argparse
import json
import platform
import sys
import time

import torch
from tqdm import tqdm

from pixelwise.precision import add_precision_argument

from .data import load_set
from .models import MODES, load_flower_checkpoint, save_flower_checkpoint
from .trainer import BatchLoss, EpochResult, FineTuneConfig, evaluate_model, fine_tune


def parse_args(argv=None) -> FineTuneConfig:
    defaults = FineTuneConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=MODES, default=defaults.mode)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", "--lr", dest="learning_rate", type=float, default=None, help="default: last 1e-2, head 1e-3, full 3e-4")
    parser.add_argument("--crop", type=int, default=defaults.crop)
    parser.add_argument("--output-stride", type=int, choices=(8, 16, 32), default=defaults.output_stride)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--val-limit", type=int, default=None)
    parser.add_argument("--init", default=None, help="start from this flower checkpoint")
    parser.add_argument("--data-root", default=None, help="default: $PIXELWISE_FLOWERS or ../shared/data/flowers17")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    add_precision_argument(parser, defaults.precision)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = {k: v for k, v in vars(args).items() if k not in ("out", "threads")}
    return FineTuneConfig(**config), args.out


def stage_summary(meta: dict) -> dict:
    """What an earlier stage (the --init checkpoint) contributed: its command, history and results."""
    keys = ("command", "mode", "history", "test", "val", "train_seconds", "init_meta")
    return {key: meta[key] for key in keys if key in meta}


def main(argv=None) -> None:
    config, out = parse_args(argv)
    started = time.perf_counter()
    bar = tqdm(desc=f"{config.mode} epoch 1", unit="step", dynamic_ncols=True, file=sys.stdout, mininterval=5)

    def on_event(event):
        if isinstance(event, BatchLoss):
            bar.total = event.steps_per_epoch * config.epochs
            bar.set_description(f"{config.mode} epoch {event.epoch}")
            bar.set_postfix(loss=f"{event.loss:.3f}", refresh=False)
            bar.update()
        elif isinstance(event, EpochResult):
            tqdm.write(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in vars(event).items()}))

    result = fine_tune(config, on_event)
    bar.close()
    test = load_set(result.split["test"], config.data_root)
    test_metrics = evaluate_model(result.model, test, device=config.device)
    meta = result.meta() | {
        "test": {"iou": test_metrics["iou"], "pixel_acc": test_metrics["pixel_acc"], "n_images": len(test)},
        "val": {k: getattr(result.history[result.best_epoch - 1], k) for k in ("val_iou", "val_pixel_acc")}
        if result.history else {},
        "command": "python -m segmenter.train " + " ".join(sys.argv[1:] if argv is None else argv),
        "train_seconds": time.perf_counter() - started,
        "torch": str(torch.__version__),
        "machine": platform.machine(),
    }
    if config.init:
        meta["init"] = config.init
        meta["init_meta"] = stage_summary(load_flower_checkpoint(config.init).meta)
    save_flower_checkpoint(out, result.model, meta)
    print(json.dumps({"out": out, "best_epoch": result.best_epoch, **meta["val"], "test_iou": test_metrics["iou"],
                      "test_pixel_acc": test_metrics["pixel_acc"], "seconds": round(meta["train_seconds"], 1)}))


if __name__ == "__main__":
    from pixelwise.process import set_up_training_command

    set_up_training_command()  # huge pages, freed memory kept: this process only trains
    main()
