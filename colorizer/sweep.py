"""Train one model per batch size and tabulate validation loss, accuracy and time (the write-ups' Table 2).

    python -m colorizer.sweep --model unet --batch-sizes 50 100 500 1000 --epochs 25 \
        --data ../shared/data/cifar10 --out results/sweep_unet.md
"""
import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from .trainer import (ColourData, Progress, TrainConfig, TrainResult, add_config_arguments, config_from_arguments,
                    data_for, tqdm_reporter, train)


def iter_sweep(config: TrainConfig, batch_sizes: list[int], data: ColourData | None = None,
               reporter_for: Callable[[TrainConfig], Callable[[Progress], None]] | None = None,
               should_stop: Callable[[], bool] | None = None) -> Iterator[TrainResult]:
    """One train() per batch size, one after another, all else equal (same seed, data and palette),
    yielding each result as it finishes; ends early once a run was stopped.
    ``reporter_for(run_config)`` gives each run its progress callback."""
    data = data or data_for(config)
    for batch_size in batch_sizes:
        run_config = replace(config, batch_size=batch_size)
        on_progress = reporter_for(run_config) if reporter_for else None
        result = train(run_config, data, on_progress=on_progress, should_stop=should_stop)
        yield result
        if result.stopped:
            return


def sweep(config: TrainConfig, batch_sizes: list[int], data: ColourData | None = None,
          reporter_for: Callable[[TrainConfig], Callable[[Progress], None]] | None = None,
          should_stop: Callable[[], bool] | None = None) -> list[TrainResult]:
    """All of iter_sweep's results, as a list."""
    return list(iter_sweep(config, batch_sizes, data, reporter_for, should_stop))


def markdown_table(results: list[TrainResult]) -> str:
    lines = ["| batch size | val loss | val acc | seconds | epochs |", "|---:|---:|---:|---:|---:|"]
    for result in results:
        final = result.final
        lines.append(f"| {result.config.batch_size} | {final.val_loss:.3f} | {100 * final.val_acc:.1f}% "
                     f"| {result.seconds:.0f} | {final.epoch:g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(parser)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 100, 500, 1000])
    parser.add_argument("--out", default=None, help="markdown file to write (default results/sweep_<model>.md)")
    arguments = parser.parse_args(argv)
    config = config_from_arguments(arguments)
    data = data_for(config)
    results = sweep(config, arguments.batch_sizes, data,
                    reporter_for=lambda run: tqdm_reporter(run, data, f"{run.model} bs {run.batch_size}"))
    table = markdown_table(results)
    device = next(results[0].model.parameters()).device
    command = "python -m colorizer.sweep " + " ".join(argv if argv is not None else sys.argv[1:])
    text = f"{table}\n\n{config.model}, {config.epochs} epochs, lr {config.learning_rate}, seed {config.seed}, " \
           f"{len(data.train_grey)} train / {len(data.val_grey)} test images, {device}.\nCommand: `{command}`\n"
    out = Path(arguments.out or f"results/sweep_{config.model}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    from pixelwise.process import set_up_training_command

    set_up_training_command()  # huge pages, freed memory kept: this process only trains
    main()
