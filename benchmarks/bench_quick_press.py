"""Train live's quick press (the CPU default, runs.presets.QUICK): seconds to the first point and to the end.

Each press runs the panel's own worker (``runs.live.run_batch_sizes``, through benchmarks/bench_press.py's
``press``: data, the validation before training, training, validation and strips of every epoch; no
browser) in a fresh process, as a new app process meets its first press, with an empty replay cache.
The median of the repeats is printed beside what the panel's preset button estimated before the first
press (runs.rates: a calibration on this machine), the CPU and the load average.

    python -m benchmarks.bench_quick_press --data ../shared/data/cifar10 --repeats 3
    python -m benchmarks.bench_quick_press --data ../shared/data/cifar10 --repeats 3 --warm   # as app.py meets it
    python -m benchmarks.bench_quick_press --data ../shared/data/cifar10 --repeats 3 --baseline 1f2a319  # against a commit

In a running app the same worker shares the process with the page's threads: benchmarks/app_press.py times the press there.
"""
import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_press import REPO, baseline_checkout, press

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


def timed_press(checkout: Path, arguments) -> dict:
    """One press in ``checkout`` with an empty replay cache; its outcome and the CPU seconds its process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="pixelwise-quick-") as cache:  # empty: every press trains
        outcome = press(checkout, arguments, True, cache)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {**outcome, "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def main(argv: list[str] | None = None) -> None:
    from runs.presets import QUICK

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto")
    parser.add_argument("--warm", action="store_true",
                        help="prepare the data and rates first, as app.py does at start-up (runs.presets.warm_up)")
    parser.add_argument("--baseline", default=None,
                        help="a commit to compare with: its presses alternate with this checkout's (e.g. 1f2a319)")
    arguments = parser.parse_args(argv)
    arguments.epochs, arguments.batch_sizes = QUICK.epochs, list(QUICK.batch_sizes)
    arguments.train_images, arguments.val_images = QUICK.train_images, QUICK.val_images
    print(cpu_line(), f"\nload average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    estimate = estimated_s()
    with contextlib.ExitStack() as stack:
        checkouts = {"now": REPO}
        if arguments.baseline:  # alternating, so that a change in the machine's load hits both alike
            checkouts = {"baseline": stack.enter_context(baseline_checkout(arguments.baseline)), "now": REPO}
        runs = {name: [] for name in checkouts}
        for repeat in range(arguments.repeats):
            for name, checkout in checkouts.items():
                runs[name].append(timed_press(checkout, arguments))
                run = runs[name][-1]
                accuracy = ", ".join(f"{size}: {100 * acc:.2f}%" for size, acc in sorted(run["val_acc"].items(), key=lambda kv: int(kv[0])))
                print(f"repeat {repeat + 1}, {name}: first point {run['first_point']:.1f} s, whole press "
                      f"{run['seconds']:.1f} s, {run['cpu']:.0f} CPU s; validation accuracy by batch size {accuracy}",
                      flush=True)
    print(f"\n{QUICK.describe()}; median of {arguments.repeats}, each in a fresh process"
          + (", after the app's start-up warm-up" if arguments.warm else ""))
    print("| | " + " | ".join(checkouts) + " |\n|---|" + "---:|" * len(checkouts))
    for label, key in (("first point, s", "first_point"), ("whole press, s", "seconds"), ("CPU seconds", "cpu")):
        print(f"| {label} | " + " | ".join(f"{statistics.median(r[key] for r in runs[name]):.1f}" for name in runs) + " |")
    print(f"| the button's estimate, before any press | {estimate:.0f} |")
    if arguments.baseline:
        ratio = {key: statistics.median(r[key] for r in runs["baseline"]) / statistics.median(r[key] for r in runs["now"])
                 for key in ("seconds", "cpu")}
        print(f"\nthe press finishes {ratio['seconds']:.2f}x sooner than at {arguments.baseline} "
              f"({ratio['cpu']:.2f}x less CPU time)")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
