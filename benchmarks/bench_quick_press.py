"""Train live's quick press (the CPU default, runs.presets.QUICK): seconds to the first point and to the end.

Each press runs the panel's own worker (``runs.live.run_batch_sizes``, through benchmarks/bench_press.py's
``press``: data, the validation before training, training, validation and strips of every epoch; no
browser) in a fresh process, as a new app process meets its first press, with an empty replay cache.
The median of the repeats is printed beside what the panel's preset button estimated before the first
press (runs.rates: a calibration on this machine), the CPU and the load average.

    python -m benchmarks.bench_quick_press --data ../shared/data/cifar10 --repeats 3
    python -m benchmarks.bench_quick_press --data ../shared/data/cifar10 --repeats 3 --warm   # as app.py meets it
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_press import REPO, press

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # what decides torch's CPU kernels


def cpu_line() -> str:
    """The CPU model, core count and the flags that choose torch's kernels (lscpu; /proc/cpuinfo as a fallback)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {key.strip().lower(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    model = fields.get("model name", "unknown CPU")
    return f"{model}, {os.cpu_count()} cores, flags: {' '.join(flag for flag in CPU_FLAGS if flag in flags) or 'none of'}"


def estimated_s() -> float:
    """What the preset button says before any press, in a fresh process, once its calibration (a job of the
    scheduler's, as app.py's warm-up runs it) has been made."""
    code = ("from runs import presets, rates; rates.measure(presets.press_config(presets.QUICK)); "
            "print(presets.press_seconds(presets.QUICK))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    from runs.presets import QUICK

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    parser.add_argument("--warm", action="store_true",
                        help="prepare the data and rates first, as app.py does at start-up (runs.presets.warm_up)")
    arguments = parser.parse_args(argv)
    arguments.epochs, arguments.batch_sizes = QUICK.epochs, list(QUICK.batch_sizes)
    arguments.train_images, arguments.val_images = QUICK.train_images, QUICK.val_images
    print(cpu_line(), f"\nload average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    estimate = estimated_s()
    first, whole = [], []
    for repeat in range(arguments.repeats):
        with tempfile.TemporaryDirectory(prefix="pixelwise-quick-") as cache:  # empty: every press trains
            outcome = press(REPO, arguments, True, cache)
        first.append(outcome["first_point"])
        whole.append(outcome["seconds"])
        print(f"repeat {repeat + 1}: first point {first[-1]:.1f} s, whole press {whole[-1]:.1f} s", flush=True)
    print(f"\n{QUICK.describe()}; median of {arguments.repeats}, each in a fresh process"
          + (", after the app's start-up warm-up" if arguments.warm else ""))
    print(f"| | seconds |\n|---|---:|\n| first point | {statistics.median(first):.1f} |"
          f"\n| whole press | {statistics.median(whole):.1f} |\n| the button's estimate, before any press | {estimate:.0f} |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
