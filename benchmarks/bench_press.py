"""One whole press of the Train live panel, before and after: seconds from Start to the last event.

Runs the panel's worker (``runs.live.run_batch_sizes``: data, training, validation and the image
strips of every epoch; no browser) on the panel's default press (UNet NF 32, batch sizes 50, 100, 500
and 1000, 25 epochs, 5,000 horses, 1,000 validation images) in this checkout and in a git worktree of a
baseline commit (default 7247c14, the trainer before issue 9's speed work), each press in its own
process, alternating, so that a change in the machine's load hits both alike. Then the same press once
more here with the replay cache (a temporary folder) left on: that one replays.

    python -m benchmarks.bench_press --data ../shared/data/cifar10            # the default press, ~20 min
    python -m benchmarks.bench_press --data ../shared/data/cifar10 --epochs 2  # a quick look
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Runs inside either checkout: the baseline's TrainConfig says ``data`` where today's says ``data_root``,
# only today's worker has ``retrain``, only today's TrainConfig ``precision``, and the worker and its
# events moved in issue 20.
PRESS = r"""
import dataclasses, inspect, json, queue, sys, threading, time
try:
    from runs import live
except ImportError:  # before issue 20 the worker was colorizer.live
    from colorizer import live
from colorizer.trainer import TrainConfig
def kind(event):  # before issue 20 one LiveEvent class with a kind string, now one class per kind (runs.events)
    return getattr(event, "kind", None) or type(event).__name__.lower()
args = json.loads(sys.argv[1])
fields = {field.name for field in dataclasses.fields(TrainConfig)}
config = TrainConfig(model="unet", category="horse", epochs=args["epochs"], num_filters=32, seed=0,
                     train_limit=args["train"], val_limit=args["val"],
                     **{"data_root" if "data_root" in fields else "data": args["data"]},
                     **({"precision": args["precision"]} if "precision" in fields else {}))
extra = {"retrain": args["retrain"]} if "retrain" in inspect.signature(live.run_batch_sizes).parameters else {}
events, errors, epochs, first, accuracy = queue.Queue(), [], 0, None, {}
if args.get("warm"):  # as a press meets the app after its start-up warm-up (app.py: runs.presets.warm_up)
    from runs.presets import warm_up
    warm_up(args["data"])
start = time.perf_counter()
worker = threading.Thread(target=live.run_batch_sizes, args=(config, args["batch_sizes"], events, threading.Event(), 4),
                          kwargs=extra)
worker.start()
while kind(event := events.get()) != "done":
    errors += [event.message] if kind(event) in ("error", "failed") else []
    epochs += kind(event) == "samples"
    final = getattr(getattr(event, "result", None), "final", None)  # a batch size's finished run: its last validation
    if final is not None:
        accuracy[event.batch_size] = final.val_acc
    if first is None and kind(event) in ("progressed", "progress", "epoch", "batch"):  # the first point drawn
        first = time.perf_counter() - start
worker.join()
print(json.dumps({"seconds": time.perf_counter() - start, "errors": errors, "strips": epochs, "first_point": first,
                  "val_acc": accuracy}))
"""


def press(checkout: Path, arguments, retrain: bool, cache: str) -> dict:
    """One press in ``checkout``'s code, in a fresh process; its seconds, errors, strip count and the seconds
    to its first point (data preparation and the validation before training included)."""
    spec = {"data": str(Path(arguments.data).resolve()), "epochs": arguments.epochs, "train": arguments.train_images,
            "val": arguments.val_images, "batch_sizes": arguments.batch_sizes, "retrain": retrain,
            "precision": getattr(arguments, "precision", "auto"), "warm": getattr(arguments, "warm", False)}
    env = {**os.environ, "PYTHONPATH": str(checkout), "PIXELWISE_RUN_CACHE": cache}
    done = subprocess.run([sys.executable, "-c", PRESS, json.dumps(spec)], cwd=checkout, env=env,
                          capture_output=True, text=True, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    if outcome["errors"]:
        raise RuntimeError(f"the press in {checkout} failed: {outcome['errors']}")
    return outcome


@contextlib.contextmanager
def baseline_checkout(commit: str):
    """A temporary git worktree of ``commit`` (removed afterwards), for presses of the code as it was."""
    with tempfile.TemporaryDirectory(prefix="pixelwise-baseline-") as scratch:
        checkout = Path(scratch) / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(checkout), commit], check=True)
        try:
            yield checkout
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(checkout)], check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/cifar10")
    parser.add_argument("--baseline", default="7247c14", help="the commit to compare with")
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[50, 100, 500, 1000])
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--val-images", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                        help="of this checkout's presses (the baseline has float32 only)")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pixelwise-press-") as scratch, baseline_checkout(arguments.baseline) as baseline:
        seconds = {"baseline": [], "now": []}
        for repeat in range(arguments.repeats):
            for name, checkout in (("baseline", baseline), ("now", REPO)):
                outcome = press(checkout, arguments, True, str(Path(scratch) / "runs"))
                seconds[name].append(outcome["seconds"])
                print(f"repeat {repeat + 1}: {name} {outcome['seconds']:.1f} s ({outcome['strips']} strips)", flush=True)
        replay = press(REPO, arguments, False, str(Path(scratch) / "runs"))["seconds"]
    before, after = statistics.median(seconds["baseline"]), statistics.median(seconds["now"])
    print(f"\nUNet NF 32, batch sizes {arguments.batch_sizes}, {arguments.epochs} epochs, {arguments.train_images} "
          f"training / {arguments.val_images} validation images; median of {arguments.repeats}")
    print(f"| press | seconds |\n|---|---:|\n| baseline {arguments.baseline} | {before:.0f} |\n| now | {after:.0f} |"
          f"\n| now, again (replayed from the cache) | {replay:.1f} |")
    print(f"\nthe press finishes {before / after:.2f}x sooner than at {arguments.baseline}; "
          f"the second identical press takes {replay:.1f} s")


if __name__ == "__main__":
    main()
