"""float32 against ``auto`` precision (pixelwise/precision.py), in one process: training images per second,
the share of the bf16 peak, inference at the app's working sizes, and the whole default Train live press.

Training: the trainer's own step (``prepare_model`` + ``training_step``, its default speed settings) for
each model (CNN and UNet on the handout's palette, MobileUNet on lab_grid classes, NF 32, 32 x 32 horses)
and batch size, the two precisions alternating chunk by chunk, median of the repeats. The bf16 peak is a
2048^2 bf16 matmul timed in the same process (and the FP32 one beside it); a step's rate in GFLOP/s uses
the forward + backward FLOPs torch's FlopCounterMode counts. Inference: ``predict_logits`` of each shipped
colourizer at the Colourize tab's working size (long side 96) on every example photo, and the flower
segmenter at its 256 px short side, on one thread as the app runs them; the share of pixels whose class
(argmax) agrees with float32. The press: ``benchmarks.bench_press``'s worker in a fresh process per
precision (a temporary replay cache, retrained).

    python -m benchmarks.bench_precision --data ../shared/data/cifar10                # all (~30 min and more)
    python -m benchmarks.bench_precision --data ../shared/data/cifar10 --skip-press   # without the press
"""
import pixelwise  # noqa: F401  (first: the allocator options the trainer ships with, before torch loads)

import argparse
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_trainer import matmul_gflops, synchronise, training_flops_per_image
from colorizer.trainer import TrainConfig, adam, data_for, initial_model, prepare_model, speedups, training_step
from pixelwise.device import one_torch_thread, resolve_device
from pixelwise.memory import keep_freed_memory_for_training
from pixelwise.precision import autocast, cpu_bf16_flags, onednn_bf16, resolve_precision

REPO = Path(__file__).resolve().parent.parent
MODELS = {"cnn": {}, "unet": {}, "mobile_unet": {"target": "lab_grid", "pretrained": False}}
EXAMPLES = REPO / "examples"


def lscpu_flags() -> str:
    """The bf16 / AMX flags lscpu lists (what the kernel says the CPU has)."""
    try:
        flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return "lscpu not available"
    line = next((row for row in flags.splitlines() if row.startswith("Flags:")), "")
    seen = sorted(flag for flag in line.split() if "bf16" in flag or flag.startswith("amx"))
    return ", ".join(seen) or "none of avx512_bf16 / amx_*"


class Loop:
    """The trainer's step in one precision: resident tensors, a random gather per batch."""

    def __init__(self, config: TrainConfig, data, device, precision: str):
        torch.manual_seed(config.seed)
        model, forward = prepare_model(initial_model(config, data), device, speedups(config, device))
        self.model = model
        self.step = training_step(forward, adam(model.parameters(), config.learning_rate, precision), data,
                                  precision, device)
        self.grey, self.labels = data.train_grey.to(device), data.train_labels.to(device)
        self.order = torch.randperm(len(self.grey), generator=torch.Generator().manual_seed(config.seed))

    def run(self, batch_size: int, steps: int) -> None:
        self.model.train()
        pending = []
        for i in range(steps):
            indices = self.order[(i * batch_size) % len(self.order):][:batch_size]
            indices = indices if len(indices) == batch_size else self.order[:batch_size]
            pending.append(self.step(self.grey[indices], self.labels[indices]))
        torch.stack(pending).tolist()


def rate(loop: Loop, batch_size: int, steps: int, device) -> float:
    synchronise(device)
    start = time.perf_counter()
    loop.run(batch_size, steps)
    synchronise(device)
    return batch_size * steps / (time.perf_counter() - start)


def training_rows(arguments, device, auto: str) -> list[dict]:
    rows = []
    for name in arguments.models:
        config = TrainConfig(model=name, data_root=arguments.data, num_filters=32, device=str(device), **MODELS[name])
        data = data_for(config)
        flops = training_flops_per_image(config, data, device)
        loops = {"fp32": Loop(config, data, device, "fp32"), "auto": Loop(config, data, device, auto)}
        for batch_size in arguments.batch_sizes:
            steps = max(1, -(-arguments.images_per_repeat // batch_size))
            for loop in loops.values():  # warm-up: allocator, oneDNN kernels
                loop.run(batch_size, 1)
            rates = {precision: [] for precision in loops}
            for _ in range(arguments.repeats):  # alternating: a change in the machine's load hits both alike
                for precision, loop in loops.items():
                    rates[precision].append(rate(loop, batch_size, steps, device))
            median = {precision: statistics.median(values) for precision, values in rates.items()}
            rows.append({"model": name, "batch": batch_size, **median, "flops": flops})
            print(f"  {name} batch {batch_size}: fp32 {median['fp32']:.0f} img/s, auto ({auto}) {median['auto']:.0f} "
                  f"img/s, {median['auto'] / median['fp32']:.2f}x", flush=True)
    return rows


def training_table(rows: list[dict], auto: str, peaks: dict) -> str:
    lines = [f"| model | batch | fp32 img/s | auto ({auto}) img/s | auto / fp32 | fp32 GFLOP/s | auto GFLOP/s "
             f"| auto, % of the {auto} matmul |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        fp32, fast = r["fp32"] * r["flops"] / 1e9, r["auto"] * r["flops"] / 1e9
        lines.append(f"| {r['model']} | {r['batch']} | {r['fp32']:.0f} | {r['auto']:.0f} | {r['auto'] / r['fp32']:.2f}x "
                     f"| {fp32:.1f} | {fast:.1f} | {100 * fast / peaks[auto]:.0f}% |")
    return "\n".join(lines)


def timed_call(function, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def inference_rows(arguments, auto: str) -> list[dict]:
    """Each shipped model on every example photo at the app's working size, one thread, fp32 vs auto."""
    from colorizer.checkpoint import load_checkpoint
    from colorizer.inference import long_side_size as working_size, model_input, predict_logits, prepare_photo
    from segmenter.inference import FLOWER_SHORT_SIDE, normalise
    from segmenter.inference import short_side_size as segment_size
    from segmenter.models import load_flower_checkpoint
    from PIL import Image

    photos = sorted(EXAMPLES.glob("*.jpg"))
    rows = []
    with one_torch_thread():
        for name in ("cnn.pt", "unet.pt", "colour_mobile_unet.pt"):
            model, _ = load_checkpoint(REPO / "checkpoints" / name)
            model.eval()
            for path in photos:
                photo = prepare_photo(str(path))
                x = model_input(model, photo.small(working_size(*photo.size, 96)))
                rows.append(compare(name, path.name, x.shape, lambda p: predict_logits(model, x, precision=p), arguments.repeats,
                                    auto))
        model = load_flower_checkpoint(REPO / "checkpoints" / "flowers_deeplab.pt").eval()
        for path in photos:
            rgb = np.asarray(Image.open(path).convert("RGB"))
            small = np.asarray(Image.fromarray(rgb).resize(segment_size(rgb.shape[1], rgb.shape[0], FLOWER_SHORT_SIDE)))
            x = normalise(small)[None]

            def segment(precision):
                with torch.no_grad(), autocast(precision, torch.device("cpu")):
                    return model(x)["out"][0].float()
            rows.append(compare("flowers_deeplab.pt", path.name, small.shape, segment, arguments.repeats, auto))
    return rows


def compare(model: str, photo: str, shape, run, repeats: int, auto: str) -> dict:
    run("fp32"), run(auto)  # warm-up
    times = {"fp32": [], "auto": []}
    outputs = {}
    for _ in range(repeats):
        for precision, key in (("fp32", "fp32"), (auto, "auto")):
            seconds, outputs[key] = timed_call(lambda: run(precision), 1)
            times[key].append(seconds)
    agree = (outputs["fp32"].argmax(0) == outputs["auto"].argmax(0)).float().mean().item()
    return {"model": model, "photo": photo, "size": "x".join(str(side) for side in shape[:2]),
            "fp32_ms": 1000 * statistics.median(times["fp32"]), "auto_ms": 1000 * statistics.median(times["auto"]),
            "agree": agree}


def inference_table(rows: list[dict], auto: str) -> str:
    lines = [f"| model | photo | working size | fp32 ms | {auto} ms | {auto} / fp32 speed | argmax agrees |",
             "|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['photo']} | {r['size']} | {r['fp32_ms']:.1f} | {r['auto_ms']:.1f} "
                     f"| {r['fp32_ms'] / r['auto_ms']:.2f}x | {100 * r['agree']:.2f}% |")
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        speed = statistics.median(r["fp32_ms"] / r["auto_ms"] for r in mine)
        lines.append(f"- {model}: median {speed:.2f}x, lowest agreement {100 * min(r['agree'] for r in mine):.2f}%")
    return "\n".join(lines)


def press_seconds(arguments, precision: str, scratch: str) -> float:
    from benchmarks.bench_press import press

    spec = argparse.Namespace(data=arguments.data, epochs=arguments.press_epochs, train_images=arguments.press_train_images,
                              val_images=arguments.press_val_images,
                              batch_sizes=[50, 100, 500, 1000], precision=precision)
    return press(REPO, spec, True, str(Path(scratch) / "runs"))["seconds"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[5, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--images-per-repeat", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-inference", action="store_true")
    parser.add_argument("--skip-press", action="store_true")
    parser.add_argument("--press-epochs", type=int, default=25)
    parser.add_argument("--press-train-images", type=int, default=5000)
    parser.add_argument("--press-val-images", type=int, default=1000)
    parser.add_argument("--press-repeats", type=int, default=1,
                        help="presses per precision, alternating fp32 / auto (a load change then hits both alike)")
    arguments = parser.parse_args(argv)
    device = resolve_device(arguments.device)
    auto, why = resolve_precision("auto", device)
    keep_freed_memory_for_training() if device.type == "cpu" else None
    print(f"{time.strftime('%Y-%m-%d %H:%M')} {platform.processor() or platform.machine()}, {device}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"auto chose {auto}: {why}")
    print(f"CPU flags (lscpu): {lscpu_flags()}; torch cpuinfo: {cpu_bf16_flags()}; oneDNN bf16: {onednn_bf16()}")
    peaks = {"fp32": matmul_gflops(device, torch.float32), "bf16": matmul_gflops(device, torch.bfloat16)}
    if device.type == "cuda":
        peaks["fp16"] = matmul_gflops(device, torch.float16)
    print("2048^2 matmul: " + ", ".join(f"{name} {value:.1f} GFLOP/s" for name, value in peaks.items()), flush=True)
    if not arguments.skip_training:
        print(f"\nTraining, median of {arguments.repeats} alternating repeats of >= {arguments.images_per_repeat} "
              f"images:", flush=True)
        print(training_table(training_rows(arguments, device, auto), auto, peaks), flush=True)
    if not arguments.skip_inference and device.type == "cpu":
        print(f"\nInference, one thread, median of {arguments.repeats}:", flush=True)
        print(inference_table(inference_rows(arguments, auto), auto), flush=True)
    if not arguments.skip_press:
        print(press_report(arguments, auto), flush=True)


def press_report(arguments, auto: str) -> str:
    """The whole press in float32 and in auto, alternating, each in a fresh process; medians."""
    seconds = {"fp32": [], "auto": []}
    with tempfile.TemporaryDirectory(prefix="pixelwise-press-") as scratch:
        for repeat in range(arguments.press_repeats):
            for precision in ("fp32", "auto"):
                seconds[precision].append(press_seconds(arguments, precision, scratch))
                print(f"press {repeat + 1} ({precision}): {seconds[precision][-1]:.0f} s", flush=True)
    fp32, best = statistics.median(seconds["fp32"]), statistics.median(seconds["auto"])
    return (f"\nThe press (UNet NF 32, batch sizes 50/100/500/1000, {arguments.press_epochs} epochs, "
            f"{arguments.press_train_images} training / {arguments.press_val_images} validation images; the default: "
            f"25 epochs, 5000 / 1000), median of {arguments.press_repeats}: "
            f"fp32 {fp32:.0f} s, auto ({auto}) {best:.0f} s, {fp32 / best:.2f}x sooner")

if __name__ == "__main__":
    from pixelwise.process import huge_pages_for_training

    huge_pages_for_training()  # as the training command lines (THP_MEM_ALLOC_ENABLE=0 to measure without)
    main()
