"""Where a training step's time goes, and how near the CPU's own rates it runs (issue 33).

For each model (the handout's CNN and UNet, NF 32, 24 colours, 32 x 32 inputs) at one batch size and
precision, the trainer's own step (``prepare_model`` + ``training_step``, its default speed settings) in
three paths: ``baseline`` (the step before issue 33), ``fused`` (its first pass: the fused loss and Adam,
the step at commit e8081d4) and ``fast`` (today's, also with set_step_layers' layer order), built alike, alternating
repeat by repeat in one process so a change in the machine's load hits all alike; medians of the repeats, as
wall time and as this process's CPU time (steadier on a shared machine, exact with --threads 1).
Then where a few steps of each path spend their time, grouped by operation kind, forward, backward and
the optimiser's update: torch.profiler's trace (wall time), or with --clock cpu each op's CPU time on
the main thread (what a loaded machine cannot inflate). And the CPU's reference rates measured in the same
process: a 2048^2 matmul and a 32->32 3x3 convolution at 32^2, batch 100 (forward), in float32 and
bfloat16, so each figure says what share of the hardware it reaches. FLOPs are counted by torch's FlopCounterMode on the step itself (convolutions forward and
backward; the optimiser's elementwise work is not counted).

    python -m benchmarks.bench_step                                   # CNN and UNet, batch 100, auto
    python -m benchmarks.bench_step --models unet --precision fp32 --threads 1
    python -m benchmarks.bench_step --threads 1 --clock cpu           # on a loaded machine: CPU time, not wall
    python -m benchmarks.bench_step --data ../shared/data/cifar10     # real horses (any data: same cost)
"""
import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook
from torch.profiler import ProfilerActivity, profile
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.bench_quick_press import cpu_line
from benchmarks.bench_trainer import synchronise
from colorizer.trainer import (STEP_PATHS, ColourData, TrainConfig, adam, data_for, initial_model, prepare_model,
                               run_precision, set_step_layers, speedups, training_step)
from pixelwise.device import resolve_device

# operation kind: substrings of profiler event names, tried in this order (the first that matches wins)
KINDS = (("convolution", ("conv",)), ("batch norm", ("batch_norm",)), ("max-pool", ("max_pool",)),
         ("upsample", ("upsample",)), ("concatenation", ("aten::cat",)),
         ("ReLU", ("relu", "threshold", "clamp_min")),
         ("loss", ("softmax", "nll_loss", "cross_entropy", "PixelCrossEntropy", "gather", "scatter", "aten::exp")),
         ("casts and copies", ("_to_copy", "copy_", "aten::to", "contiguous", "clone")),
         ("fills", ("fill_", "zero_", "zeros")))
OPTIMISER, OTHER = "optimiser (Adam)", "other (Python, autograd, small ops)"
# the fast path with the handout's layer order and a float32 input (set_step_layers off): issue 33's first pass,
# the trainer's step at commit e8081d4 (the fused loss and Adam only)
FUSED = "fused"


def reference_rates(device, clock=time.perf_counter, repeats: int = 7) -> dict:
    """GFLOP/s of the issue's reference workloads in float32 and bfloat16, measured now on ``clock``: the best
    of the repeats (the hardware's rate; on a shared machine a median would measure the other work too)."""
    rates = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = (torch.rand(2048, 2048, device=device).to(dtype) for _ in range(2))
        rates[f"matmul {name}"] = best_gflops(lambda: a @ b, 2 * 2048 ** 3, repeats, device, clock)
        x = torch.rand(100, 32, 32, 32, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
        w = torch.rand(32, 32, 3, 3, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
        rates[f"conv {name}"] = best_gflops(lambda: F.conv2d(x, w, padding=1), 2 * 100 * 32 * 32 * 9 * 32 * 32,
                                            repeats, device, clock)
    return rates


def best_gflops(work, flops: float, repeats: int, device, clock) -> float:
    work()  # warm-up: oneDNN picks and builds its kernel
    times = []
    for _ in range(repeats):
        synchronise(device)
        start = clock()
        work()
        synchronise(device)
        times.append(clock() - start)
    return flops / min(times) / 1e9


def synthetic_data(batch: int, seed: int = 0) -> ColourData:
    """Random grey images and labels: a step costs the same whatever the pixels (no data folder needed)."""
    generator = torch.Generator().manual_seed(seed)
    grey = torch.rand(batch, 1, 32, 32, generator=generator)
    labels = torch.randint(0, 24, (batch, 32, 32), generator=generator)
    return ColourData(torch.rand(24, 3, generator=generator), grey, labels, grey, labels,
                      torch.zeros(batch, 32, 32, 3, dtype=torch.uint8))


class Step:
    """One model's training step in one path, on one fixed batch (the device-resident batch of train())."""

    def __init__(self, config: TrainConfig, data: ColourData, device, precision: str, path: str, batch: int):
        model, forward = prepare_model(initial_model(config, data), device, speedups(config, device))
        self.model = model.train()
        layers, path = ("baseline", "fast") if path == FUSED else (path, path)
        cast_input = set_step_layers(model, precision, layers)
        self.step = training_step(forward, adam(model.parameters(), config.learning_rate, precision, path), data,
                                  precision, device, path=path, cast_input=cast_input)
        self.x, self.y = data.train_grey[:batch].to(device), data.train_labels[:batch].to(device)

    def run(self, steps: int) -> None:
        torch.stack([self.step(self.x, self.y) for _ in range(steps)]).tolist()  # waits for the device


def timed(step: Step, steps: int) -> tuple[float, float]:
    """(wall ms, this process's CPU ms) per step."""
    wall, cpu = time.perf_counter(), time.process_time()
    step.run(steps)
    return 1000 * (time.perf_counter() - wall) / steps, 1000 * (time.process_time() - cpu) / steps


def step_flops(step: Step) -> dict:
    """FLOPs of one step: convolutions forward, convolutions backward, all counted."""
    with FlopCounterMode(display=False) as counter:
        step.run(1)
    counts = counter.get_flop_counts()["Global"]
    forward = sum(value for op, value in counts.items() if "convolution" in str(op) and "backward" not in str(op))
    backward = sum(value for op, value in counts.items() if "convolution_backward" in str(op))
    return {"conv forward": forward, "conv backward": backward, "total": counter.get_total_flops()}


def kind_of(name: str) -> str:
    return next((kind for kind, keys in KINDS if any(key in name for key in keys)), OTHER)


def direction_of(event) -> str:
    """forward, backward or update: whether an autograd engine call or Optimizer.step encloses the event."""
    parent = event
    while parent is not None:
        if parent.name.startswith("autograd::engine::evaluate_function"):
            return "backward"
        if parent.name.startswith("Optimizer."):
            return "update"
        parent = parent.cpu_parent
    return "forward"


def profile_step(step: Step, steps: int) -> dict:
    """{(kind, forward | backward | update): ms per step} from torch.profiler's self times, and the profiled wall ms per step."""
    with profile(activities=[ProfilerActivity.CPU]) as trace:
        start = time.perf_counter()
        step.run(steps)
        wall = 1000 * (time.perf_counter() - start) / steps
    spent = defaultdict(float)
    for event in trace.events():
        direction = direction_of(event)
        kind = OPTIMISER if direction == "update" else kind_of(event.name)
        spent[kind, direction] += event.self_cpu_time_total / 1000 / steps
    return {"spent": dict(spent), "wall": wall, "clock": "wall"}


class ThreadTimeProfile(TorchDispatchMode):
    """Every aten op's CPU time on this thread (time.thread_time), by kind and direction: unlike the profiler's
    wall times it does not count the time other processes hold the core (exact with --threads 1; with more,
    the other threads' share of an op is not seen)."""

    def __init__(self):
        super().__init__()
        self.spent, self.updating, self.hooks = defaultdict(float), False, []

    def __enter__(self):
        self.hooks = [register_optimizer_step_pre_hook(lambda *_: setattr(self, "updating", True)),
                      register_optimizer_step_post_hook(lambda *_: setattr(self, "updating", False))]
        return super().__enter__()

    def __exit__(self, *exception):
        for hook in self.hooks:
            hook.remove()
        return super().__exit__(*exception)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        start = time.thread_time()
        out = func(*args, **(kwargs or {}))
        if torch._C._current_graph_task_id() != -1:  # inside an autograd engine call
            direction = "backward"
        else:
            direction = "update" if self.updating else "forward"
        kind = OPTIMISER if direction == "update" else kind_of("aten::" + func.overloadpacket.__name__)
        self.spent[kind, direction] += 1000 * (time.thread_time() - start)
        return out


def thread_time_profile(step: Step, steps: int) -> dict:
    """As profile_step, in this thread's CPU time: {(kind, direction): ms per step}, and the CPU ms per step."""
    start = time.thread_time()
    with ThreadTimeProfile() as mode:
        step.run(steps)
    return {"spent": {key: ms / steps for key, ms in mode.spent.items()},
            "wall": 1000 * (time.thread_time() - start) / steps, "clock": "CPU"}


def profile_table(found: dict, flops: dict, conv_rate: float, precision: str) -> str:
    spent, total = found["spent"], sum(found["spent"].values())
    kinds = sorted({kind for kind, _ in spent}, key=lambda k: -sum(v for (kind, _), v in spent.items() if kind == k))
    lines = [f"| operation kind | forward ms | backward ms | update ms | share | GFLOP/s, % of the {precision} "
             "convolution |", "|---|---:|---:|---:|---:|---|"]
    for kind in kinds:
        forward, backward = spent.get((kind, "forward"), 0.0), spent.get((kind, "backward"), 0.0)
        update = spent.get((kind, "update"), 0.0)
        rate = ""
        if kind == "convolution":
            parts = [(flops["conv forward"], forward), (flops["conv backward"], backward)]
            rate = ", ".join(f"{direction} {flop / ms / 1e6:.0f} ({100 * flop / ms / 1e6 / conv_rate:.0f}%)"
                             for direction, (flop, ms) in zip(("fwd", "bwd"), parts) if ms)
        lines.append(f"| {kind} | {forward:.1f} | {backward:.1f} | {update:.1f} "
                     f"| {100 * (forward + backward + update) / total:.0f}% | {rate} |")
    lines.append(f"| all (the ops' self times) | | | | {total:.1f} ms | profiled step {found['wall']:.1f} ms {found['clock']} |")
    return "\n".join(lines)


def measure_model(name: str, arguments, data: ColourData, device, rates: dict) -> None:
    config = TrainConfig(model=name, num_filters=32, batch_size=arguments.batch_size, precision=arguments.precision,
                         device=str(device))
    precision, why = run_precision(config, device)
    steps = {}
    for path in arguments.paths:
        torch.manual_seed(config.seed)
        steps[path] = Step(config, data, device, precision, path, arguments.batch_size)
        steps[path].run(2)  # warm-up: allocator, oneDNN kernels
    times = {path: [] for path in steps}
    for _ in range(arguments.repeats):  # alternating: a change in the machine's load hits every path alike
        for path, step in steps.items():
            times[path].append(timed(step, arguments.steps))
    flops = step_flops(steps[arguments.paths[0]])
    conv_rate, matmul_rate = rates[f"conv {precision}"], rates[f"matmul {precision}"]
    print(f"\n## {name}, batch {arguments.batch_size}, {precision} ({why}); {flops['total'] / 1e9:.2f} GFLOP a step "
          f"(convolutions: {flops['conv forward'] / 1e9:.2f} forward, {flops['conv backward'] / 1e9:.2f} backward)")
    print(f"median of {arguments.repeats} alternating repeats of {arguments.steps} steps\n")
    print(f"| path | ms a step (wall) | CPU ms a step | GFLOP/s ({arguments.clock}) | % of the {precision} matmul | "
          f"% of the {precision} convolution |\n|---|---:|---:|---:|---:|---:|")
    medians = {}
    for path, values in times.items():
        wall, cpu = statistics.median(v[0] for v in values), statistics.median(v[1] for v in values)
        medians[path] = (wall, cpu)
        rate = flops["total"] / (cpu if arguments.clock == "cpu" else wall) / 1e6
        print(f"| {path} | {wall:.1f} | {cpu:.1f} | {rate:.0f} | {100 * rate / matmul_rate:.0f}% | {100 * rate / conv_rate:.0f}% |")
    for slower in ("baseline", FUSED):
        if slower in medians and "fast" in medians:
            (base_wall, base_cpu), (fast_wall, fast_cpu) = medians[slower], medians["fast"]
            print(f"\nfast against {slower}: {base_wall / fast_wall:.2f}x (wall), {base_cpu / fast_cpu:.2f}x (CPU time)")
    for path, step in steps.items():
        if arguments.clock == "wall":
            print(f"\nWhere the time goes, path {path} (torch.profiler, {arguments.profile_steps} steps, wall ms):\n")
            print(profile_table(profile_step(step, arguments.profile_steps), flops, conv_rate, precision))
        else:
            print(f"\nWhere the time goes, path {path} (each op's CPU time on the main thread, "
                  f"{arguments.profile_steps} steps):\n")
            print(profile_table(thread_time_profile(step, arguments.profile_steps), flops, conv_rate, precision))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "unet"], choices=["cnn", "unet"])
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--paths", nargs="+", choices=STEP_PATHS + (FUSED,), default=["baseline", FUSED, "fast"],
                        help="the step before issue 33 (baseline), issue 33's first pass (fused: its loss and Adam, "
                             "the trainer at e8081d4) and today's (fast)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per repeat")
    parser.add_argument("--profile-steps", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: rates from wall time, torch.profiler's trace; cpu: rates from this process's CPU "
                             "time, each op's CPU time (steady on a loaded machine; exact with --threads 1)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--data", default=None, help="a CIFAR-10 folder (e.g. ../shared/data/cifar10); "
                                                     "default: random images of the same shape")
    parser.add_argument("--device", default="cpu")
    arguments = parser.parse_args(argv)
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    device = resolve_device(arguments.device)
    if arguments.data and Path(arguments.data).is_dir():
        data, source = data_for(TrainConfig(data_root=arguments.data, train_limit=max(arguments.batch_size, 100),
                                            val_limit=100)), f"CIFAR-10 horses from {arguments.data}"
    else:
        data, source = synthetic_data(arguments.batch_size), "random images (no --data)"
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {cpu_line()}; {device}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, Python {platform.python_version()}; {source}")
    print(f"torch's CPU kernels: {kernel_isa()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rates = reference_rates(device, time.perf_counter if arguments.clock == "wall" else time.process_time)
    print(f"reference rates ({arguments.clock} clock, best of 7), GFLOP/s: "
          + ", ".join(f"{name} {value:.0f}" for name, value in rates.items()), flush=True)
    for name in arguments.models:
        measure_model(name, arguments, data, device, rates)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def kernel_isa() -> str:
    """The instruction set torch's own CPU kernels use, and oneDNN's limit where one is set: an AVX2-only CPU is
    stood in for on a newer one with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (the flags above still
    name the machine's own)."""
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    return torch.backends.cpu.get_cpu_capability() + (f", oneDNN at most {limit}" if limit else "")


if __name__ == "__main__":
    from pixelwise.process import quiet_profiler, set_up_training_command

    set_up_training_command()  # huge pages, freed memory kept: as the training command lines measure
    quiet_profiler()
    main()
