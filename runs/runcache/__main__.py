"""The replay cache's command line: ``python -m runs.runcache fill`` trains (or finds) every run of one
Train live press and keeps it; ``python -m runs.runcache list`` lists the cached runs. Apart from the cache
itself (runs/runcache/__init__.py) so that the cache never imports the live worker that uses it."""
import argparse
import time

import torch

from pixelwise.settings import run_cache_dir

from runs.live import fill_cache, live_config
from runs.presets import QUICK
from runs.runcache import CachedRun


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runs.runcache",
                                     description="Fill or list the Train live replay cache.")
    commands = parser.add_subparsers(dest="command", required=True)
    fill = commands.add_parser("fill", help="train (or find) every run of one panel press and keep it")
    fill.add_argument("--model", choices=["cnn", "unet"], default="unet")
    fill.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 100, 500, 1000])
    fill.add_argument("--epochs", type=int, default=25)
    fill.add_argument("--learning-rate", type=float, default=1e-3)
    fill.add_argument("--num-filters", type=int, default=32)
    fill.add_argument("--category", default="horse")
    fill.add_argument("--seed", type=int, default=0)
    fill.add_argument("--train-images", type=int, default=5000)
    fill.add_argument("--val-images", type=int, default=1000)
    fill.add_argument("--quick", action="store_true",
                      help=f"the panel's quick press instead ({QUICK.describe()}), its default without a GPU")
    fill.add_argument("--data", default=None, help="CIFAR-10 image folder (default: as the app finds it)")
    commands.add_parser("list", help="list the cached runs")
    arguments = parser.parse_args(argv)
    folder = run_cache_dir()
    if arguments.command == "list":
        for path in sorted(folder.glob("*.pt"), key=lambda p: p.stat().st_mtime):
            try:
                run = torch.load(path, map_location="cpu", weights_only=True)["run"]
                config = run["config"]
                print(f"{path.name}  {config['model']} bs {config['batch_size']} {config['epochs']} epochs "
                      f"lr {config['learning_rate']} seed {config['seed']}{' (stopped)' if run['stopped'] else ''}, "
                      f"{CachedRun(**run).describe()}, {path.stat().st_size / 1e6:.1f} MB")
            except Exception as error:
                print(f"{path.name}  unreadable: {type(error).__name__}")
        return
    if arguments.quick:
        arguments.model, arguments.batch_sizes, arguments.epochs = QUICK.model, list(QUICK.batch_sizes), QUICK.epochs
        arguments.train_images, arguments.val_images, arguments.num_filters = (QUICK.train_images, QUICK.val_images,
                                                                              QUICK.num_filters)
    config = live_config(arguments.model, arguments.category, arguments.epochs, arguments.learning_rate,
                         arguments.num_filters, arguments.seed, arguments.train_images, arguments.val_images,
                         arguments.data)
    start = time.perf_counter()
    fill_cache(config, arguments.batch_sizes, print)
    print(f"done in {time.perf_counter() - start:.0f} s; cache: {folder}")


if __name__ == "__main__":
    main()
