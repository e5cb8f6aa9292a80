"""Training speed: the handout's own loop vs PixelWise's trainer step, in images per second.

Baseline, re-implemented from the assignment's starter code: pixels / 256 as float64 numpy arrays,
labels by numpy distances to every palette colour once per run (``np.linalg.norm``, 100 images at a
time), then per batch ``torch.from_numpy(...).float()`` / ``.long()``, the handout's ``compute_loss``
(transpose, contiguous, view) and ``loss.item()`` every step. Its grey batches carry NHWC strides (an
accident of numpy's keepdims mean), so torch runs it channels_last; the same loop with each batch copied
into NCHW strides, as the issue describes the baseline, is timed beside it. Ours: the trainer's own
pieces (``prepare_model``, ``training_step``, the device-resident batch gather of ``train()``) with the
trainer's default speed settings for this device. Same models (CNN / UNet, NF 32, 24 colours), same
images, same threads, one process; each repeat times both loops back to back, and the median of the
repeats is reported (the trainer's same step in plain NCHW, as before channels_last, is timed
alongside), with the share of the FP32 peak (a large matmul measured in the same run, and the
nominal peak given by --peak-gflops).

    python -m benchmarks.bench_trainer --data ../shared/data/cifar10
"""
import pixelwise  # noqa: F401  (first: the allocator options the trainer ships with, before torch loads)

import argparse
import os
import statistics
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from colorizer.trainer import TrainConfig, data_for, initial_model, prepare_model, speedups, training_step
from pixelwise.device import resolve_device
from pixelwise.memory import keep_freed_memory_for_training
from pixelwise.precision import resolve_precision

TARGETS = {100: 1.5, 1000: 2.0}  # ours / handout at these batch sizes (issue 9)


def handout_labels(rgb: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """The starter code's get_rgb_cat: N x 3 x H x W float RGB -> N x 1 x H x W int64, 100 images at a time."""
    cs = colours.reshape(len(colours), 1, 3, 1, 1)
    out = [np.argmin(np.linalg.norm(rgb[None, i:i + 100] - cs, axis=2), axis=0)[:, None] for i in range(0, len(rgb), 100)]
    return np.concatenate(out)


def handout_step(model, optimiser, criterion, grey: np.ndarray, labels: np.ndarray, device, num_colours: int,
                 nchw: bool = False):
    """One iteration of the starter code's training loop, as written there (loss.data[0] is .item() today).
    ``nchw``: give the grey batch NCHW strides (see HandoutLoop)."""
    images, targets = torch.from_numpy(grey).float().to(device), torch.from_numpy(labels).long().to(device)
    if nchw:
        images = torch.empty(images.shape, device=device).copy_(images)
    optimiser.zero_grad()
    outputs = model(images)
    batch = len(images)
    loss = criterion(outputs.transpose(1, 3).contiguous().view([batch * 32 * 32, num_colours]),
                     targets.transpose(1, 3).contiguous().view([batch * 32 * 32]))
    loss.backward()
    optimiser.step()
    return loss.item()


class HandoutLoop:
    """The baseline: float64 numpy data prepared once, sliced into batches and converted every step.

    The starter code's grey (numpy's ``mean(axis=1, keepdims=True)``) has a channel stride of one element,
    so each N x 1 x H x W batch arrives with NHWC strides and torch runs the whole network channels_last,
    unasked. ``nchw=True`` copies each batch into ordinary NCHW strides: the loop as the issue describes it."""

    def __init__(self, config: TrainConfig, data, device, rgb_uint8: torch.Tensor, nchw: bool = False):
        rgb = rgb_uint8.numpy().transpose(0, 3, 1, 2) / 256.0  # process(): xs / max_pixel, NCHW float64
        start = time.perf_counter()
        self.labels = handout_labels(rgb, data.palette.double().numpy())
        self.label_seconds = time.perf_counter() - start
        self.grey = np.mean(rgb, axis=1, keepdims=True)
        torch.manual_seed(config.seed)
        self.model = initial_model(config, data).to(device)  # plain NCHW, no compile
        self.optimiser = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.device, self.position, self.num_colours, self.nchw = device, 0, len(data.palette), nchw

    def run(self, batch_size: int, steps: int) -> None:
        self.model.train()
        for _ in range(steps):
            if self.position + batch_size > len(self.grey):
                self.position = 0
            batch = slice(self.position, self.position + batch_size)
            handout_step(self.model, self.optimiser, self.criterion, self.grey[batch], self.labels[batch],
                         self.device, self.num_colours, self.nchw)
            self.position += batch_size


class OurLoop:
    """The trainer's step: resident tensors, a random gather per batch, losses read back once per chunk."""

    def __init__(self, config: TrainConfig, data, device):
        torch.manual_seed(config.seed)
        self.fast = speedups(config, device)
        model, forward = prepare_model(initial_model(config, data), device, self.fast)
        self.model = model
        precision = resolve_precision(config.precision, device)[0]
        self.step = training_step(forward, torch.optim.Adam(model.parameters(), lr=config.learning_rate), data,
                                  precision, device)
        self.grey, self.labels = data.train_grey.to(device), data.train_labels.to(device)
        self.shuffler = torch.Generator().manual_seed(config.seed)

    def run(self, batch_size: int, steps: int) -> None:
        self.model.train()
        order = torch.randperm(len(self.grey), generator=self.shuffler).to(self.grey.device)
        pending = []
        for i in range(steps):
            indices = order[(i * batch_size) % len(order):][:batch_size]
            if len(indices) < batch_size:
                indices = order[:batch_size]
            pending.append(self.step(self.grey[indices], self.labels[indices]))
        torch.stack(pending).tolist()  # train() reads the losses back once per report


def synchronise(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(loop, batch_size: int, steps: int, device) -> float:
    synchronise(device)
    start = time.perf_counter()
    loop.run(batch_size, steps)
    synchronise(device)
    return batch_size * steps / (time.perf_counter() - start)


def training_flops_per_image(config: TrainConfig, data, device, batch: int = 8) -> float:
    """Forward + backward FLOPs of one image, counted by torch's FlopCounterMode (optimiser not counted)."""
    model = initial_model(config, data).to(device).train()
    x, y = data.train_grey[:batch].to(device), data.train_labels[:batch].to(device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


def matmul_gflops(device, dtype=torch.float32, size: int = 2048, repeats: int = 7) -> float:
    """Median GFLOP/s of a size x size matmul in ``dtype``: what this machine reaches on the easiest workload."""
    a, b = torch.rand(size, size, device=device).to(dtype), torch.rand(size, size, device=device).to(dtype)
    a @ b
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        a @ b
        synchronise(device)
        times.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(times) / 1e9


def measure(config: TrainConfig, data, device, batch_sizes, repeats: int, images_per_repeat: int) -> list[dict]:
    rgb = data_rgb(config)
    loops = {"handout": HandoutLoop(config, data, device, rgb), "handout_nchw": HandoutLoop(config, data, device, rgb, True),
             "ours": OurLoop(config, data, device),
             # the trainer before this benchmark's changes: the same step in plain NCHW, no compile
             "plain": OurLoop(replace(config, channels_last=False, compile=False), data, device)}
    flops = training_flops_per_image(config, data, device)
    rows = []
    for batch_size in batch_sizes:
        steps = max(1, -(-images_per_repeat // batch_size))
        first_s = {}
        for name, loop in loops.items():  # warm-up: allocator, oneDNN kernels, compile (timed, not counted)
            start = time.perf_counter()
            loop.run(batch_size, 1)
            first_s[name] = time.perf_counter() - start
        rates = {name: [] for name in loops}
        for _ in range(repeats):  # interleaved, so a change in the machine's load hits every loop alike
            for name, loop in loops.items():
                rates[name].append(timed(loop, batch_size, steps, device))
        row = {name: statistics.median(values) for name, values in rates.items()}
        rows.append({"model": config.model, "batch": batch_size, **row, "gflops": row["ours"] * flops / 1e9,
                     "label_s": loops["handout"].label_seconds, "first_s": first_s["ours"], **loops["ours"].fast})
    return rows


def data_rgb(config: TrainConfig) -> torch.Tensor:
    from colorizer.data import load_category

    return load_category(config.category, config.data_root, "train")[:config.train_limit]


def report(rows: list[dict], matmul: float, peak: float) -> str:
    lines = ["| model | batch | handout loop img/s | handout, NCHW img/s | trainer, plain NCHW img/s | ours img/s "
             "| ours / handout | ours / handout NCHW | ours / plain | ours GFLOP/s | % of matmul | % of peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['batch']} | {r['handout']:.0f} | {r['handout_nchw']:.0f} | {r['plain']:.0f} "
                     f"| {r['ours']:.0f} | {r['ours'] / r['handout']:.2f}x | {r['ours'] / r['handout_nchw']:.2f}x "
                     f"| {r['ours'] / r['plain']:.2f}x | {r['gflops']:.1f} "
                     f"| {100 * r['gflops'] / matmul:.0f}% | {100 * r['gflops'] / peak:.0f}% |")
    lines.append("")
    for r in rows:
        if r["compile"]:
            lines.append(f"- {r['model']} batch {r['batch']}: ours' first step (torch.compile) {r['first_s']:.1f} s")
    for model in dict.fromkeys(r["model"] for r in rows):
        by_batch = {r["batch"]: r for r in rows if r["model"] == model}
        for batch, target in TARGETS.items():
            for baseline, called in (("handout", "the handout loop as written"), ("handout_nchw", "it in NCHW")):
                if batch in by_batch:
                    ratio = by_batch[batch]["ours"] / by_batch[batch][baseline]
                    lines.append(f"- {model} batch {batch}: {ratio:.2f}x {called} (target >= {target}x): "
                                 f"{'met' if ratio >= target else 'NOT met'}")
        if 100 in by_batch and 1000 in by_batch:
            ratio = by_batch[1000]["ours"] / by_batch[100]["ours"]
            lines.append(f"- {model} batch 1000 vs batch 100, per image: {ratio:.2f}x "
                         f"(target >= 1, no slower): {'met' if ratio >= 1 else 'NOT met'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--models", nargs="+", default=["cnn", "unet"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[5, 50, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images-per-repeat", type=int, default=1000, help="images each timed chunk trains on")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="fp32",
                        help="ours' precision (default fp32, as the figures in docs/training-speed.md; "
                             "benchmarks/bench_precision.py compares the precisions)")
    parser.add_argument("--keep-freed-memory", action=argparse.BooleanOptionalAction, default=True,
                        help="as train() does on the CPU (pixelwise.memory); applies to every loop of the process")
    parser.add_argument("--peak-gflops", type=float, default=155.0,
                        help="the CPU's nominal FP32 peak (2-core AVX2/FMA EPYC here: about 155)")
    arguments = parser.parse_args(argv)
    device = resolve_device(arguments.device)
    kept = keep_freed_memory_for_training() if arguments.keep_freed_memory and device.type == "cpu" else False
    base = TrainConfig(data_root=arguments.data, num_filters=32, device=str(device),
                       channels_last=arguments.channels_last, compile=arguments.compile, precision=arguments.precision)
    data = data_for(base)
    matmul = matmul_gflops(device)
    rows = []
    for model in arguments.models:
        rows += measure(replace(base, model=model), data, device, arguments.batch_sizes, arguments.repeats,
                        arguments.images_per_repeat)
    fast = speedups(base, device)
    print(f"{len(data.train_grey)} training images, {device}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}, THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE')}, freed memory kept: "
          f"{kept}; "
          f"ours: channels_last={fast['channels_last']}, compile={fast['compile']}; "
          f"median of {arguments.repeats} repeats of >= {arguments.images_per_repeat} images each")
    print(f"matmul 2048^2 FP32: {matmul:.1f} GFLOP/s; nominal peak {arguments.peak_gflops:.0f} GFLOP/s; "
          f"handout labels (numpy, once per run): {rows[0]['label_s']:.1f} s\n")
    print(report(rows, matmul, arguments.peak_gflops))


if __name__ == "__main__":
    from pixelwise.process import huge_pages_for_training

    huge_pages_for_training()  # as the training command lines (THP_MEM_ALLOC_ENABLE=0 to measure without)
    main()
