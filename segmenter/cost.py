"""What one fine-tuning step costs per mode (assignment questions d and e).

    python -m segmenter.cost [--sizes 256 512] [--batch 2] [--repeats 2] [--json]

Per mode: trainable parameters; bytes of all parameters, of gradients (trainable only) and of AdamW state
(exp_avg + exp_avg_sq per trainable parameter); activation memory = bytes of the tensors autograd saves
for backward during one training step (via torch.autograd.graph.saved_tensors_hooks, deduplicated by
storage, parameters excluded: they are all alive together at the end of the forward pass, which is the
peak of saved activations); and the wall time of one step (frozen forward + trainable forward/backward
+ optimizer step), median over ``repeats`` after a warm-up, at batch ``batch`` and float32.
"""
import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from pixelwise.seeding import own_generator

from .data import IGNORE
from .models import MODES, SegmenterConfig, build_flower_model, set_trainable
from .trainer import upsampled

FLOAT_BYTES = 4


@dataclass
class StepCost:
    mode: str
    size: int
    batch: int
    trainable_params: int
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    step_seconds: float


def saved_activation_bytes(run, exclude: set[int]) -> int:
    """Run ``run()`` while summing the bytes of every distinct storage autograd saves (minus ``exclude``)."""
    seen: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in exclude:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        run()
    return sum(seen.values())


def measure_step(model, mode: str, size: int, batch: int = 2, repeats: int = 2, seed: int = 0) -> StepCost:
    frozen, trainable = set_trainable(model, mode)
    model.eval()
    trainable.train()
    params = [p for p in trainable.parameters()]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(batch, 3, size, size, generator=generator)
    target = torch.randint(0, 2, (batch, size, size), generator=generator)
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    memory = {}

    def step():
        with torch.no_grad():
            features = frozen(images)
        loss_holder = {}

        def forward():
            logits = upsampled(trainable(features), target.shape[-2:])
            loss_holder["loss"] = F.cross_entropy(logits, target, ignore_index=IGNORE)

        memory["activations"] = saved_activation_bytes(forward, parameter_storages)
        optimizer.zero_grad(set_to_none=True)
        loss_holder["loss"].backward()
        optimizer.step()

    step()  # warm-up (also allocates the optimizer state)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    trainable_count = sum(p.numel() for p in params)
    optimizer_bytes = sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values()
                          if torch.is_tensor(t) and t.ndim > 0)
    return StepCost(mode, size, batch, trainable_count, sum(p.numel() for p in model.parameters()) * FLOAT_BYTES,
                    trainable_count * FLOAT_BYTES, optimizer_bytes, memory["activations"], statistics.median(times))


def cost_table(sizes=(256, 512), batch: int = 2, repeats: int = 2, modes=MODES) -> list[StepCost]:
    """One StepCost per (mode, size). Uses random weights: costs do not depend on weight values."""
    rows = []
    for mode in modes:
        for size in sizes:
            with own_generator(0):  # not torch's shared generator, which a training in another thread uses
                model = build_flower_model(SegmenterConfig(), pretrained_backbone=False)
            rows.append(measure_step(model, mode, size, batch, repeats))
    return rows


def as_markdown(rows: list[StepCost]) -> str:
    mb = lambda n: f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n / 2**10:.1f} KiB"
    lines = ["| mode | image ×batch | trainable params | params | grads | AdamW state | saved activations | step s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.mode} | {r.size}² ×{r.batch} | {r.trainable_params:,} | {mb(r.param_bytes)} | {mb(r.grad_bytes)} "
                     f"| {mb(r.optimizer_bytes)} | {mb(r.activation_bytes)} | {r.step_seconds:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="one JSON line per row instead of a markdown table")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = cost_table(tuple(args.sizes), args.batch, args.repeats)
    print("\n".join(json.dumps(asdict(r)) for r in rows) if args.json else as_markdown(rows))


if __name__ == "__main__":
    main()
