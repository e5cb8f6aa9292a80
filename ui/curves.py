"""Train live's curves as TensorBoard draws them, and its take-home files.

- EMA smoothing of the train-loss series (TensorBoard's debiased EMA; weight 0 = raw), the raw points
  kept as a faint series beside each smoothed one; validation loss and accuracy (one point per epoch)
  are drawn as measured;
- a log-scale toggle for the loss (the plot shows log10 of the loss);
- zoom by brushing across either plot (both follow), double-click to reset;
- CSV of every logged point of the session's runs, the Table 2 rows as CSV, and the saved checkpoint.

train_tab.py keeps the plots and calls ``loss_view``/``zoomed``; this module adds the controls.
"""
from dataclasses import dataclass

import gradio as gr
import numpy as np
import pandas as pd

from ui.common import take_home_path

RAW = " · raw"  # suffix of the faint raw series beside a smoothed one
DEFAULT_SMOOTHING = 0.6
CSV_COLUMNS = ["batch size", "series", "epoch", "loss", "val acc (%)"]  # accuracy in %, as the table shows it


@dataclass
class CurveView:
    """How one browser session looks at its curves (a gr.State, changed by the controls)."""
    smoothing: float = DEFAULT_SMOOTHING
    log_scale: bool = False
    epochs: tuple[float, float] | None = None  # the brushed x range; None shows every epoch


def ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing: an exponential moving average, debiased so the first points are not
    pulled towards 0; NaN values (colour placeholders) are skipped and stay NaN."""
    out, last, steps = np.full(len(values), np.nan), 0.0, 0
    for i, value in enumerate(values):
        if np.isnan(value):
            continue
        steps += 1
        last = last * weight + (1 - weight) * value
        out[i] = last / (1 - weight ** steps) if weight > 0 else value
    return out


def loss_view(frame: pd.DataFrame, view: CurveView | None) -> pd.DataFrame:
    """The loss plot's data under ``view``: each train series smoothed, plus its raw copy (suffix RAW),
    and log10 of the loss when the log scale is on."""
    view = view or CurveView()
    parts = []
    for series, points in frame.groupby("series", sort=False):
        if str(series).endswith(" train"):
            parts.append(points.assign(series=f"{series}{RAW}"))
            points = points.assign(loss=ema(points["loss"].to_numpy(float), float(view.smoothing)))
        parts.append(points)
    shown = pd.concat(parts, ignore_index=True) if parts else frame
    if view.log_scale:
        shown = shown.assign(loss=np.log10(shown["loss"].clip(lower=1e-12)))
    return shown.astype(frame.dtypes.to_dict())


def tint(hex_colour: str, amount: float) -> str:
    """``hex_colour`` moved ``amount`` (0 to 1) of the way towards white."""
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + amount * (255 - c)):02x}" for c in rgb)


def with_raw(colours: dict) -> dict:
    """The colour map plus a faint colour (60% towards white) for each train series' raw copy."""
    return colours | {f"{series}{RAW}": tint(colour, 0.6) for series, colour in colours.items() if series.endswith(" train")}


def zoomed(update: dict, view: CurveView | None, loss: bool = False, epochs: int | None = None) -> dict:
    """A plot update with the brushed epoch range (x_lim), else 0 to ``epochs`` (None: the chart's choice),
    and, for the loss, the y title of its scale."""
    view = view or CurveView()
    # [None, None], not None: Gradio drops None props from an update, and the zoom would stay.
    extra = {"x_lim": list(view.epochs) if view.epochs else [0, epochs] if epochs else [None, None]}
    if loss:
        extra["y_title"] = "log10 of loss" if view.log_scale else "loss"
    return {**update, **extra}


def points(session) -> list[tuple]:
    """Every logged point of the session's runs (train-loss and validation points) as CSV_COLUMNS tuples."""
    return [(row["batch_size"], row["series"], row["epoch"], row["loss"], row.get("val_acc"))
            for row in (session.rows if session else [])]


def points_csv(session) -> str:
    """Every logged point of the session's runs, one CSV row each (validation accuracy in %)."""
    path = take_home_path("train_live_points.csv")
    rows = [(*point[:4], None if point[4] is None else 100 * point[4]) for point in points(session)]
    pd.DataFrame(rows, columns=CSV_COLUMNS).to_csv(path, index=False)
    return str(path)


def table_csv(table: pd.DataFrame) -> str:
    path = take_home_path("table2.csv")
    table.to_csv(path, index=False)
    return str(path)


def _handlers(plots: dict, redraw):
    """The four redraws the controls trigger: a changed smoothing or scale, its retitle, a brush, a reset."""
    def changed(session_, view_, smoothing_, log_):
        view_.smoothing, view_.log_scale = float(smoothing_), bool(log_)
        # Data only: a changed axis title makes the plot rebuild its chart at once, from the data it holds
        # then, and data arriving with the title would be lost; the title follows (retitled) once this is drawn.
        return _as_list({name: {key: value for key, value in update.items() if key != "y_title"}
                         for name, update in redraw(session_).items()}, plots)

    def retitled(session_):
        return _as_list({name: gr.update(y_title=update["y_title"]) for name, update in redraw(session_).items()
                         if "y_title" in update}, plots)

    def brushed(session_, view_, event: gr.SelectData):
        if isinstance(event.index, (list, tuple)) and len(event.index) == 2:
            view_.epochs = (float(min(event.index)), float(max(event.index)))
        return _as_list(redraw(session_), plots)

    def reset(session_, view_):
        view_.epochs = None
        return _as_list(redraw(session_), plots)

    return changed, retitled, brushed, reset


def build_controls(session: gr.State, plots: dict, redraw, results_table) -> gr.State:
    """Smoothing slider, log-scale toggle, brush zoom on ``plots`` and the CSV exports, under the plots.
    ``redraw(session) -> {plot name: update}`` redraws the plots under the session's view. Returns the view
    State, which start_training keeps in the session so that its redraws follow the controls."""
    view = gr.State(CurveView())
    with gr.Row():
        smoothing = gr.Slider(0, 0.99, value=DEFAULT_SMOOTHING, step=0.01, label="Smoothing (EMA of train loss)",
                              info="raw points stay, faint", scale=2)
        log_scale = gr.Checkbox(label="Log scale (loss)", value=False, scale=1)
        export = gr.Button("Export CSV: every point, Table 2", scale=1, size="sm")
    files = gr.File(label="CSV files", file_count="multiple", visible=False, height=80)
    gr.Markdown("Brush across a plot to zoom into those epochs; double-click it to see every epoch again.")
    outputs = list(plots.values())
    private = dict(api_visibility="private", show_progress="hidden", queue=False)

    changed, retitled, brushed, reset = _handlers(plots, redraw)
    gr.on([smoothing.release, log_scale.change], changed, [session, view, smoothing, log_scale], outputs, **private) \
        .then(retitled, session, outputs, **private)
    for plot in plots.values():
        plot.select(brushed, [session, view], outputs, **private)
        plot.double_click(reset, [session, view], outputs, **private)
    export.click(lambda session_: gr.update(value=[points_csv(session_), table_csv(results_table(session_))],
                                            visible=True) if session_ else gr.update(value=None, visible=True),
                 session, files, api_visibility="private")
    return view


def _as_list(updates: dict, plots: dict) -> list:
    return [updates.get(name, gr.skip()) for name in plots]
