"""What fine-tuning the last n layers of a model costs, for every n (assignment Part 3, questions d and e).

A "layer" here is one of the model's parameterised blocks, given in order from input to output; training
the last n means the n blocks nearest the output train and every block before them is frozen
(requires_grad False, so autograd records nothing until the first trained block). One row per
(image size, n) holds, for one training step (forward + cross-entropy, backward, AdamW step, float32):

- trainable parameters, and the bytes of their gradients (4 per weight) and of AdamW's two moments (8);
- ``param_bytes``: every weight, frozen or not (the forward pass reads them all);
- ``activation_bytes``: the distinct storages autograd saves for backward during the forward pass
  (torch.autograd.graph.saved_tensors_hooks, parameters excluded): all alive together at its end;
- ``peak_bytes``: the most memory the step holds at once above what was held when it started (weights,
  optimizer state, the batch), as the allocator reports it: torch.cuda.max_memory_allocated on CUDA; on
  the CPU the allocation and free events torch's own CPU allocator reports to torch.profiler
  (profile_memory=True), summed in time order. It includes gradients, saved activations and the
  temporaries torch allocates; buffers a library allocates itself (oneDNN scratch space) are not seen;
- ``forward_s``, ``backward_s``, ``optimizer_s``: wall time of each part, median of ``repeats`` steps after
  a warm-up step and the profiled step.
"""
import statistics
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class LayerCost:
    model: str
    n: int  # the last n blocks train
    blocks: int  # how many blocks the model has
    first_trained: str  # the earliest block that trains
    size: int  # images are size x size
    batch: int
    trainable_params: int
    param_bytes: int
    grad_bytes: int
    optimizer_bytes: int
    activation_bytes: int
    peak_bytes: int
    forward_s: float
    backward_s: float
    optimizer_s: float
    device: str


def saved_activation_bytes(run: Callable[[], object], exclude: set[int]) -> int:
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


def step_peak_bytes(run: Callable[[], object], device: torch.device) -> int:
    """The most bytes allocated at once during ``run()`` above the amount allocated when it started."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        start = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        run()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        run()
    events = [e for e in profiler.profiler.kineto_results.events()
              if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU]
    held = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        held += event.nbytes()  # negative for a free
        peak = max(peak, held)
    return peak


def set_trainable_blocks(model: nn.Module, blocks: list[nn.Module], n: int) -> list[nn.Parameter]:
    """Freeze the model, then let the last ``n`` blocks train (train mode; frozen ones stay in eval mode)."""
    model.requires_grad_(False).eval()
    for block in blocks[len(blocks) - n:]:
        block.requires_grad_(True).train()
    return [p for p in model.parameters() if p.requires_grad]


def _timed(part: Callable[[], object], device: torch.device) -> tuple[object, float]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = part()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - started


def measure_n(model: nn.Module, blocks: dict[str, nn.Module], n: int, batch_data: Batch,
              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], repeats: int = 3, name: str = "") -> LayerCost:
    """One row: the cost of a training step of ``model`` with its last ``n`` blocks trainable."""
    device = next(model.parameters()).device
    names, modules = list(blocks), list(blocks.values())
    params = set_trainable_blocks(model, modules, n)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    inputs, target = batch_data
    parameter_storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    held = {}

    def forward():
        held["loss"] = loss_fn(model(inputs), target)

    def step():
        optimizer.zero_grad(set_to_none=True)
        forward()
        held.pop("loss").backward()
        optimizer.step()

    optimizer.zero_grad(set_to_none=True)
    activation_bytes = saved_activation_bytes(forward, parameter_storages)  # warm-up, with the hooks on
    held.pop("loss").backward()
    optimizer.step()  # allocates AdamW's state
    optimizer.zero_grad(set_to_none=True)
    peak = step_peak_bytes(step, device)
    times = []
    for _ in range(repeats):
        optimizer.zero_grad(set_to_none=True)
        _, forward_s = _timed(forward, device)
        _, backward_s = _timed(lambda: held.pop("loss").backward(), device)
        _, optimizer_s = _timed(optimizer.step, device)
        times.append((forward_s, backward_s, optimizer_s))
    optimizer_bytes = sum(t.numel() * t.element_size() for state in optimizer.state.values() for t in state.values()
                          if torch.is_tensor(t) and t.ndim > 0)  # the moments, not the step counter
    trainable = sum(p.numel() for p in params)
    row = LayerCost(name, n, len(modules), names[len(modules) - n], inputs.shape[-1], inputs.shape[0], trainable,
                    sum(p.numel() * p.element_size() for p in model.parameters()),
                    sum(p.numel() * p.element_size() for p in params), optimizer_bytes, activation_bytes, peak,
                    *(statistics.median(part) for part in zip(*times)), str(device))
    optimizer.zero_grad(set_to_none=True)
    return row


def spread(total: int, points: int | None = None) -> list[int]:
    """n = 1..total, or about ``points`` of them spread evenly (always 1 and total)."""
    if not points or points >= total:
        return list(range(1, total + 1))
    return sorted({round(1 + i * (total - 1) / (points - 1)) for i in range(points)})


def iter_layer_costs(model: nn.Module, blocks: dict[str, nn.Module], make_batch: Callable[[int, int, torch.Generator], Batch],
                     loss_fn: Callable, sizes=(256, 512), ns: list[int] | None = None, batch: int = 2,
                     repeats: int = 3, seed: int = 0, name: str = "") -> Iterator[LayerCost]:
    """Yield measure_n's row for every size and every n in ``ns`` (default all: 1..len(blocks)).
    ``make_batch(size, batch, generator)`` gives (inputs, target), moved here to the model's device."""
    device = next(model.parameters()).device
    for size in sizes:
        batch_data = tuple(t.to(device) for t in make_batch(size, batch, torch.Generator().manual_seed(seed)))
        for n in ns or spread(len(blocks)):
            yield measure_n(model, blocks, n, batch_data, loss_fn, repeats, name)


def layer_cost_rows(*args, **kwargs) -> list[LayerCost]:
    """iter_layer_costs as a list."""
    return list(iter_layer_costs(*args, **kwargs))
