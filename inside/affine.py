"""The affine-input question (PA2 Part A): what happens to the colourization if every input
pixel x is replaced by y = a*x + b?  Measured three ways on the test images, for a trained model:

  (i)   eval mode: BatchNorm uses the running statistics it learned on untransformed inputs;
  (ii)  batch statistics: BatchNorm normalises each test batch with that batch's own mean/var
        (the model is otherwise unchanged);
  (iii) fine-tuned: a copy of the model trained ``finetune_steps`` more steps on transformed
        training images with the one trainer (colorizer.trainer.train), then run in eval mode.

"changed" is the fraction of test pixels whose predicted colour class differs from the reference:
the same model in the same BN mode on the untransformed input for (i) and (ii), the original model
in eval mode on the untransformed input for (iii). The row a=1, b=0 is the control: it must give 0
for (i) and (ii), and for (iii) it shows how much extra training alone moves the predictions.

    python -m inside.affine --checkpoint checkpoints/unet.pt --data ../shared/data/cifar10
"""
import argparse
import copy
import json
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Callable

import torch
from torch import nn

from colorizer.checkpoint import load_checkpoint
from colorizer.data import category_name, load_category
from colorizer.trainer import ColourData, TrainConfig, labelled_data, train
from pixelwise.device import resolve_device
from pixelwise.precision import add_precision_argument

DEFAULT_PAIRS = ((1.0, 0.0), (2.0, 0.0), (0.5, 0.25), (1.0, 0.5), (-1.0, 1.0))


@dataclass
class AffineConfig:
    pairs: tuple[tuple[float, float], ...] = DEFAULT_PAIRS
    finetune_steps: int = 300  # 0 skips (iii)
    batch_size: int = 100  # test batch for (ii)'s batch statistics, and the fine-tuning batch
    learning_rate: float = 1e-3
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # of the fine-tuning (iii), pixelwise/precision.py; "fp32" reproduces docs/inside.md


@dataclass
class AffineRow:
    a: float
    b: float
    changed_eval: float  # (i)
    acc_eval: float
    changed_batch: float  # (ii)
    acc_batch: float
    changed_finetuned: float | None = None  # (iii)
    acc_finetuned: float | None = None


@dataclass
class AffineResult:
    rows: list[AffineRow]
    acc_reference_eval: float  # the model as shipped, on untransformed test images
    acc_reference_batch: float
    test_images: int
    train_images: int
    config: dict = field(default_factory=dict)
    stopped: bool = False  # should_stop asked for an end: ``rows`` holds only the pairs finished before it

    def as_dict(self) -> dict:
        return {**asdict(self), "rows": [asdict(row) for row in self.rows]}


def colour_data(palette: torch.Tensor, category: str = "horse", data_root: str | None = None,
                train_limit: int | None = None, test_limit: int | None = None) -> ColourData:
    """Grey inputs and colour-class targets labelled with the CHECKPOINT's palette (not a new k-means)."""
    train_rgb = load_category(category_name(category), data_root, "train")[:train_limit]
    test_rgb = load_category(category_name(category), data_root, "test")[:test_limit]
    return labelled_data(train_rgb, test_rgb, palette)


@torch.no_grad()
def predict(model: nn.Module, grey: torch.Tensor, batch_statistics: bool = False, batch_size: int = 100) -> torch.Tensor:
    """N x H x W class indices. With ``batch_statistics`` every BatchNorm normalises each batch by its
    own mean and variance (run on a copy, so the model's running statistics are not touched)."""
    if batch_statistics:
        model = copy.deepcopy(model)
    was_training = model.training
    model.eval()
    if batch_statistics:
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.train()
    device = next(model.parameters()).device
    classes = [model(grey[start:start + batch_size].to(device)).argmax(dim=1).cpu()
               for start in range(0, len(grey), batch_size)]
    model.train(was_training)
    return torch.cat(classes)


def fraction(mask: torch.Tensor) -> float:
    return mask.float().mean().item()


def finetune(model: nn.Module, data: ColourData, a: float, b: float, config: AffineConfig,
             on_step: Callable[[int], None] | None = None, should_stop: Callable[[], bool] | None = None) -> nn.Module:
    """A copy of ``model`` trained ``config.finetune_steps`` steps on a*x+b with the one trainer (fewer when
    ``should_stop`` turns True: the trainer checks it before every batch)."""
    steps_per_epoch = math.ceil(len(data.train_grey) / config.batch_size)
    model_config = model.config
    train_config = TrainConfig(
        model=model.arch, epochs=math.ceil(config.finetune_steps / steps_per_epoch), batch_size=config.batch_size,
        learning_rate=config.learning_rate, num_filters=model_config.num_filters, kernel=model_config.kernel,
        num_colours=model_config.num_colours, seed=config.seed, device=config.device,
        max_steps=config.finetune_steps, precision=config.precision,
    )
    transformed = replace(data, train_grey=a * data.train_grey + b, val_grey=a * data.val_grey + b)
    progress = (lambda event: on_step(event.step)) if on_step else None
    return train(train_config, transformed, on_progress=progress, should_stop=should_stop,
                 init_model=copy.deepcopy(model)).model


def affine_experiment(model: nn.Module, data: ColourData, config: AffineConfig = AffineConfig(),
                      on_progress: Callable[[float, str], None] | None = None,
                      should_stop: Callable[[], bool] = lambda: False) -> AffineResult:
    """Run (i), (ii) and (iii) for every (a, b) in ``config.pairs``. ``model`` is not modified.
    ``should_stop`` is checked before every pair and every fine-tuning batch: when it turns True (the page
    that asked was closed) the experiment ends within one batch, with the pairs finished so far."""
    model = model.to(resolve_device(config.device))
    grey, labels = data.val_grey, data.val_labels
    reference_eval = predict(model, grey)
    reference_batch = predict(model, grey, batch_statistics=True, batch_size=config.batch_size)
    units_per_pair = 1 + config.finetune_steps
    rows = []
    for index, (a, b) in enumerate(config.pairs):
        if should_stop():
            break

        def report(done: int, stage: str) -> None:
            if on_progress:
                on_progress((index * units_per_pair + done) / (len(config.pairs) * units_per_pair),
                            f"a={a:g}, b={b:g}: {stage}")

        report(0, "eval mode and batch statistics")
        y = a * grey + b
        pred_eval = predict(model, y)
        pred_batch = predict(model, y, batch_statistics=True, batch_size=config.batch_size)
        row = AffineRow(a, b, fraction(pred_eval != reference_eval), fraction(pred_eval == labels),
                        fraction(pred_batch != reference_batch), fraction(pred_batch == labels))
        if config.finetune_steps > 0:
            tuned = finetune(model, data, a, b, config, should_stop=should_stop,
                             on_step=lambda step: report(1 + step, f"fine-tuning step {step}/{config.finetune_steps}"))
            if should_stop():  # cut short: this pair's (iii) would describe fewer steps than asked
                break
            pred_tuned = predict(tuned, y)
            row.changed_finetuned = fraction(pred_tuned != reference_eval)
            row.acc_finetuned = fraction(pred_tuned == labels)
        rows.append(row)
        report(units_per_pair, "done")
    return AffineResult(rows, fraction(reference_eval == labels), fraction(reference_batch == labels),
                        len(grey), len(data.train_grey), asdict(config), stopped=len(rows) < len(config.pairs))


def run_from_checkpoint(checkpoint: str, data_root: str | None = None, config: AffineConfig = AffineConfig(),
                        train_limit: int | None = None, test_limit: int | None = None,
                        on_progress: Callable[[float, str], None] | None = None,
                        should_stop: Callable[[], bool] = lambda: False) -> AffineResult:
    model, palette = load_checkpoint(checkpoint)
    category = getattr(model, "meta", {}).get("category", "horse")
    data = colour_data(palette, category, data_root, train_limit, test_limit)
    result = affine_experiment(model, data, config, on_progress, should_stop)
    result.config.update(checkpoint=str(checkpoint), data_root=data_root, category=category)
    return result


def table(result: AffineResult) -> str:
    def percent(value: float | None) -> str:
        return "   -  " if value is None else f"{100 * value:5.1f}%"

    lines = [f"reference (a=1, b=0): acc eval mode {percent(result.acc_reference_eval)}, "
             f"acc batch statistics {percent(result.acc_reference_batch)}; "
             f"{result.test_images} test / {result.train_images} train images",
             "     a      b |  (i) eval: changed  acc | (ii) batch stats: changed  acc | (iii) fine-tuned: changed  acc"]
    for row in result.rows:
        lines.append(f"{row.a:6g} {row.b:6g} |          {percent(row.changed_eval)} {percent(row.acc_eval)} |"
                     f"                  {percent(row.changed_batch)} {percent(row.acc_batch)} |"
                     f"                  {percent(row.changed_finetuned)} {percent(row.acc_finetuned)}")
    return "\n".join(lines)


def result_records(result: AffineResult) -> list[dict]:
    """Rows for a table: percentages with one decimal, '-' where (iii) was skipped."""
    def percent(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    return [{"a": row.a, "b": row.b,
             "(i) eval mode: changed": percent(row.changed_eval), "(i) acc": percent(row.acc_eval),
             "(ii) batch stats: changed": percent(row.changed_batch), "(ii) acc": percent(row.acc_batch),
             "(iii) fine-tuned: changed": percent(row.changed_finetuned), "(iii) acc": percent(row.acc_finetuned)}
            for row in result.rows]


def parse_pairs(text: str) -> tuple[tuple[float, float], ...]:
    """'1,0 2,0 -1,1' (or ';'-separated) -> ((1.0, 0.0), (2.0, 0.0), (-1.0, 1.0))."""
    pairs = []
    for chunk in text.replace(";", " ").split():
        try:
            a, b = (float(value) for value in chunk.split(","))
        except ValueError:
            raise ValueError(f"cannot read {chunk!r} as 'a,b' (e.g. '2,0' or '-1,1')") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"a and b must be finite numbers, got {chunk!r}")
        pairs.append((a, b))
    if not pairs:
        raise ValueError("give at least one a,b pair, e.g. '1,0 2,0 -1,1'")
    return tuple(pairs)


def main(argv: list[str] | None = None) -> None:
    from tqdm import tqdm

    parser = argparse.ArgumentParser(description="How an affine input change a*x+b moves the colourization.")
    parser.add_argument("--checkpoint", default="checkpoints/unet.pt")
    parser.add_argument("--data", "--data-root", dest="data_root", default=None, help="image-folder root, e.g. ../shared/data/cifar10")
    parser.add_argument("--pairs", default=" ".join(f"{a:g},{b:g}" for a, b in DEFAULT_PAIRS))
    parser.add_argument("--steps", type=int, default=AffineConfig.finetune_steps, help="fine-tuning steps for (iii)")
    parser.add_argument("--batch-size", type=int, default=AffineConfig.batch_size)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--device", default="auto")
    add_precision_argument(parser)
    parser.add_argument("--json", default=None, help="also write the result as JSON to this path")
    arguments = parser.parse_args(argv)
    config = AffineConfig(parse_pairs(arguments.pairs), arguments.steps, arguments.batch_size, device=arguments.device,
                          precision=arguments.precision)
    bar = tqdm(total=1000, unit="‰", desc="affine")

    def progress(done: float, message: str) -> None:
        bar.update(round(1000 * done) - bar.n)
        bar.set_postfix_str(message)

    result = run_from_checkpoint(arguments.checkpoint, arguments.data_root, config, arguments.train_limit,
                                 arguments.test_limit, progress)
    bar.close()
    print(table(result))
    if arguments.json:
        with open(arguments.json, "w") as file:
            json.dump(result.as_dict(), file, indent=1)
    print(json.dumps(result.as_dict()))


if __name__ == "__main__":
    main()
