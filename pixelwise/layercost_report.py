"""The closed forms the measured LayerCost rows follow, and where one write-up's answers to the assignment's
questions (d) and (e) hold, all computed from the rows (nothing here is a typed-in measurement).

The write-up (../shared/reference/): (d) memory is O(n) for fine-tuning the whole model and O(1) for the
last layer only ("we only need to store the weight and bias of the last layer"); compute is O(n) in both,
since freezing does not shorten the forward pass; (e) with height and width doubled, "the complexity
remains O(1)" and the parameter count does not change.
"""
import argparse
import json
import statistics
from dataclasses import asdict
from typing import Callable, Iterable

from .layercost import LayerCost

MIB = 2**20


def size_text(n_bytes: float) -> str:
    if n_bytes >= 2**30:
        return f"{n_bytes / 2**30:.2f} GiB"
    return f"{n_bytes / MIB:.1f} MiB" if n_bytes >= MIB else f"{n_bytes / 2**10:.1f} KiB"


def seconds_text(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def ratio_range(low: float, high: float) -> str:
    """"3.98–4.00", or "4.00" when both ends round alike."""
    return f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"


def line_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(slope, R²) of the least-squares line y = a + slope·x."""
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys))
    syy = sum((y - mean_y) ** 2 for y in ys)
    slope = sxy / sxx if sxx else 0.0
    return slope, (sxy * sxy / (sxx * syy) if sxx and syy else 1.0)


def by_size(rows: Iterable[LayerCost]) -> dict[int, dict[int, LayerCost]]:
    """{size: {n: row}} with sizes and n ascending."""
    table: dict[int, dict[int, LayerCost]] = {}
    for row in sorted(rows, key=lambda r: (r.size, r.n)):
        table.setdefault(row.size, {})[row.n] = row
    return table


def state_bytes(row: LayerCost) -> int:
    """What training adds per trainable weight: its gradient and AdamW's two moments."""
    return row.grad_bytes + row.optimizer_bytes


def step_seconds(row: LayerCost) -> float:
    return row.forward_s + row.backward_s + row.optimizer_s


def ends(values: list[float]) -> tuple[float, float]:
    """Median of the first and of the last few values (one per 7 points): one slow step on a busy machine
    does not decide a verdict."""
    window = max(1, len(values) // 7)
    return statistics.median(values[:window]), statistics.median(values[-window:])


def halves(values: list[float]) -> tuple[float, float]:
    """Median of the lower and of the upper half of the values (the middle one, if any, left out)."""
    half = len(values) // 2
    return statistics.median(values[:max(half, 1)]), statistics.median(values[-max(half, 1):])


def quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, high


def findings(rows: list[LayerCost]) -> dict:
    """The numbers the closed forms and verdicts quote: both ends of each curve, ratios, fits."""
    table = by_size(rows)
    small, big = min(table), max(table)
    common = sorted(set(table[small]) & set(table[big]))
    lo, hi = common[0], common[-1]
    column = lambda size, key: [getattr(table[size][n], key) for n in common]
    first, last = table[small][lo], table[small][hi]
    found = {"model": rows[0].model, "blocks": rows[0].blocks, "small": small, "big": big, "lo": lo, "hi": hi,
             "points": len(common), "params": (first.trainable_params, last.trainable_params),
             "params_fit": line_fit(common, column(small, "trainable_params")),
             "params_same_across_sizes": column(small, "trainable_params") == column(big, "trainable_params"),
             "grads_are_4P": all(r.grad_bytes == 4 * r.trainable_params for r in rows),
             "adamw_is_8P": all(r.optimizer_bytes == 8 * r.trainable_params for r in rows),
             "weights": sorted({r.param_bytes for r in rows}), "state": (state_bytes(first), state_bytes(last)),
             "pixel_ratio": (big / small) ** 2}
    for size, key in ((small, "small"), (big, "big")):
        found[f"act_{key}"] = ends(column(size, "activation_bytes"))
        found[f"act_fit_{key}"] = line_fit(common, column(size, "activation_bytes"))
        found[f"peak_{key}"] = ends(column(size, "peak_bytes"))
        for part in ("forward", "backward", "optimizer"):
            found[f"{part}_{key}"] = ends(column(size, f"{part}_s"))
        found[f"forward_quartiles_{key}"] = quartiles(column(size, "forward_s"))
        found[f"forward_halves_{key}"] = halves(column(size, "forward_s"))
        found[f"step_{key}"] = ends([step_seconds(table[size][n]) for n in common])
    for key in ("activation_bytes", "peak_bytes"):
        ratios = [b / a for a, b in zip(column(small, key), column(big, key)) if a]
        found[f"{key}_size_ratio"] = (min(ratios), max(ratios)) if ratios else (float("nan"),) * 2
    found["step_size_ratio"] = found["step_big"][1] / found["step_small"][1]
    return found


def closed_forms_markdown(f: dict) -> str:
    """Each curve's closed form with the rows' numbers (n = trained blocks, S = image side)."""
    lo, hi, small, big = f["lo"], f["hi"], f["small"], f["big"]
    slope, r2 = f["params_fit"]
    act_ratio, peak_ratio = f["activation_bytes_size_ratio"], f["peak_bytes_size_ratio"]
    lines = [
        f"**Closed forms** ({f['model']}, {f['blocks']} blocks, {f['points']} values of n; n = blocks trained, "
        f"counted back from the output; S = image side; times: medians at each end)",
        f"- **Trainable parameters** P(n) = p₁ + … + pₙ, the sizes of the last n blocks: {f['params'][0]:,} at "
        f"n = {lo} → {f['params'][1]:,} at n = {hi}; a line c + {slope:,.0f}·n fits with R² = {r2:.2f} "
        f"({'the blocks are nearly equal' if r2 > 0.95 else 'the blocks are not of equal size'}); "
        f"{'the same' if f['params_same_across_sizes'] else 'NOT the same'} at {small}² and {big}².",
        f"- **Gradients** = 4·P(n) bytes ({'every row' if f['grads_are_4P'] else 'NOT every row'}), "
        f"**AdamW state** = 8·P(n) bytes, two float32 moments ({'every row' if f['adamw_is_8P'] else 'NOT every row'}): "
        f"together {size_text(f['state'][0])} → {size_text(f['state'][1])}.",
        f"- **All weights** W = {' / '.join(size_text(w) for w in f['weights'])} for every n: "
        f"the frozen blocks still run in the forward pass.",
        f"- **Saved activations** A(n, S) = S²·(a₁ + … + aₙ), aᵢ = bytes per pixel block i keeps for backward: "
        f"{size_text(f['act_big'][0])} → {size_text(f['act_big'][1])} at {big}² (a line: "
        f"{size_text(f['act_fit_big'][0])} per block, R² = {f['act_fit_big'][1]:.2f}); "
        f"A(n, {big}) / A(n, {small}) = {ratio_range(*act_ratio)} (pixel ratio {f['pixel_ratio']:.0f}).",
        f"- **Step peak** (allocator, above what is held between steps) ≈ gradients + saved activations + "
        f"temporaries: {size_text(f['peak_big'][0])} → {size_text(f['peak_big'][1])} at {big}²; "
        f"×{ratio_range(*peak_ratio)} from {small}² to {big}².",
        f"- **Forward time** ≈ F·S², the same for every n: middle half of the n between "
        f"{seconds_text(f['forward_quartiles_big'][0])} and {seconds_text(f['forward_quartiles_big'][1])} at {big}².",
        f"- **Backward time** ≈ the trained blocks' share of twice the forward work: "
        f"{seconds_text(f['backward_big'][0])} at n = {lo} → {seconds_text(f['backward_big'][1])} at n = {hi} ({big}²).",
        f"- **Optimizer step** ∝ P(n): {seconds_text(f['optimizer_big'][0])} → {seconds_text(f['optimizer_big'][1])}.",
    ]
    return "\n".join(lines)


def verdicts_markdown(f: dict) -> str:
    """Where the write-up's (d) and (e) hold, decided by the rows' numbers."""
    lo, hi, small, big, blocks = f["lo"], f["hi"], f["small"], f["big"], f["blocks"]
    state_lo, state_hi = f["state"]
    last_is_small = hi == blocks and state_lo * blocks <= 2 * state_hi  # no bigger than twice an average block
    act_lo, act_hi = f["act_big"]
    forward_low, forward_high = f["forward_halves_big"]
    forward_flat = forward_low >= 0.7 * forward_high  # halves: one slow step does not decide it
    backward_shrinks = f["backward_big"][0] < 0.5 * f["backward_big"][1]
    largest = act_hi > max(state_hi, f["weights"][-1])
    d_memory = (
        f"**(d) memory, \"O(n) for the whole model, O(1) for the last layer\":** "
        f"{'holds' if last_is_small else 'does not hold'} for what training adds per weight (gradients + AdamW "
        f"state: {size_text(state_lo)} at n = {lo}, {size_text(state_hi)} at n = {hi}). It does not hold for the "
        f"weights the answer's reason names: all {size_text(f['weights'][-1])} stay in memory for every n, "
        f"O(n) in both cases. And it leaves out the activations kept for backward, O(n·H·W): "
        f"{size_text(act_lo)} at n = {lo} vs {size_text(act_hi)} at n = {hi} ({big}²), "
        f"{act_hi / state_hi:.1f}× the whole model's gradients and AdamW state"
        f"{', the largest term' if largest else ''}.")
    d_compute = (
        f"**(d) compute, \"O(n) in both: freezing does not shorten the forward\":** "
        f"{'holds' if forward_flat else 'does not hold'} for the forward pass (median {seconds_text(forward_low)} "
        f"over the lower half of the n, {seconds_text(forward_high)} over the upper half, {big}²); the backward "
        f"{'does shrink' if backward_shrinks else 'does not shrink much'} ({seconds_text(f['backward_big'][0])} vs "
        f"{seconds_text(f['backward_big'][1])}), so a step training n = {lo} takes {f['step_big'][0] / f['step_big'][1]:.0%} "
        f"of the time of one training n = {hi}: O(n) in both, {'with a smaller constant' if backward_shrinks else 'nearly alike'}.")
    if small == big:
        return "\n\n".join([d_memory, d_compute, "**(e)**: measure two image sizes to check (e)."])
    act_ratio, peak_ratio = f["activation_bytes_size_ratio"], f["peak_bytes_size_ratio"]
    grows = all(abs(r / f["pixel_ratio"] - 1) < 0.15 for r in act_ratio)
    e = (
        f"**(e) \"4× the pixels, the complexity remains O(1); the parameters do not change\":** parameters: "
        f"{'holds' if f['params_same_across_sizes'] else 'does not hold'} (the same count at {small}² and {big}²). "
        f"Memory: O(1) holds only in n, for the last layer's gradients and optimizer state; the memory itself "
        f"{'grows with H·W' if grows else 'grows'}: saved activations ×{ratio_range(*act_ratio)}, "
        f"the step peak ×{ratio_range(*peak_ratio)}, and a step training every block takes "
        f"×{f['step_size_ratio']:.1f} the time, for ×{f['pixel_ratio']:.0f} pixels.")
    return "\n\n".join([d_memory, d_compute, e])


def report_markdown(rows: list[LayerCost]) -> str:
    found = findings(rows)
    return closed_forms_markdown(found) + "\n\n" + verdicts_markdown(found)


def rows_markdown(rows: list[LayerCost]) -> str:
    lines = ["| n | first trained | image ×batch | trainable params | grads | AdamW state | saved activations "
             "| step peak | forward | backward | optimizer |",
             "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r.size, r.n)):
        lines.append(f"| {r.n} | {r.first_trained} | {r.size}² ×{r.batch} | {r.trainable_params:,} "
                     f"| {size_text(r.grad_bytes)} | {size_text(r.optimizer_bytes)} | {size_text(r.activation_bytes)} "
                     f"| {size_text(r.peak_bytes)} | {seconds_text(r.forward_s)} | {seconds_text(r.backward_s)} "
                     f"| {seconds_text(r.optimizer_s)} |")
    return "\n".join(lines)


def add_layer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--points", type=int, default=None, help="about this many values of n (default: every n)")
    parser.add_argument("--progress", action="store_true", help="say each row on stderr as it is measured")


def print_layer_costs(rows_iter: Iterable[LayerCost], as_json: bool, progress: bool = False,
                      out: Callable[[str], None] = print) -> list[LayerCost]:
    """Measure, then print one JSON line per row, or a markdown table with the closed forms and verdicts."""
    import sys

    rows = []
    for row in rows_iter:
        rows.append(row)
        if progress:
            print(f"{row.model} {row.size}² n={row.n}: step {step_seconds(row):.2f} s", file=sys.stderr, flush=True)
    out("\n".join(json.dumps(asdict(r)) for r in rows) if as_json else rows_markdown(rows) + "\n\n" + report_markdown(rows))
    return rows
