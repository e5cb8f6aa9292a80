"""PixelWise: one Gradio app with a tab per part of CSC413 PA2 (colourization, live training,
segmentation, per-layer counts). Run ``python app.py``; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT
choose where it listens. Each tab is built by ``build_<name>_tab()`` in ui/; ML lives in colorizer/
and segmenter/ (shared helpers in pixelwise/, the layer counts in inside/), the app's training runs and
checkpoint catalogue in runs/.
"""
import atexit
import os
import shutil
import signal
import tempfile
import threading

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")  # huge pages for Train live (pixelwise.process): before torch

from pixelwise.tempfiles import own_gradio_cache, sweep_gradio_cache, sweep_while_there  # noqa: E402

GRADIO_CACHE = own_gradio_cache()  # before gradio is imported (some of its modules read GRADIO_TEMP_DIR then)

import gradio as gr  # noqa: E402

from pixelwise.device import cap_torch_threads, release_torch_threads, usable_cores
from pixelwise.process import quiet_profiler
from pixelwise.settings import downloads_max_age_s, max_upload_mb, mcp_enabled
from runs.catalog import prune_trained, remove_interrupted_saves
from runs import presets
from ui import colourize_tab
from ui.colourize_tab import build_colourize_tab
from ui.common import UPLOAD_JS, buttons_above_css, cifar_data_root
from ui.hints_section import PICKER_JS
from ui.inside_tab import build_inside_tab
from ui.segment_tab import build_segment_tab
from ui.page_jobs import stop_page_jobs
from ui.train_tab import build_train_tab

# Each event runs its models on one torch thread (pixelwise.device.one_torch_thread), so as many run at once as
# there are cores (at least 2, at most 8; a container's quota counts): more only share the same cores and the
# GIL. 20 colourizations of 512² at once while a model trains, 2 cores: p95 2.41 / 1.76 s with 4 at once,
# 1.60 / 1.62 s with 2 (docs/concurrency.md). Heavy jobs (trainings, fine-tunes, measurements) take turns in
# the one scheduler (runs.scheduler), whatever their event. max_size bounds the waiting line: a waiting upload holds only its file on disk, so 100 of
# them cost no memory and drain in seconds, where the old 32 refused two thirds of a 100-request burst.
CONCURRENT_EVENTS = max(2, min(8, usable_cores()))
MAX_QUEUE = 100


def delete_cache() -> tuple[int, float]:
    """Uploads and outputs in Gradio's cache are deleted once an hour old (checked every 10 minutes; sooner with
    PIXELWISE_DOWNLOADS_MAX_AGE_S, which the concurrency tests shorten), read when the app is built. delete_cache
    reaches only the copies Gradio tracks; sweep_gradio_cache (below) the rest of this process's own cache folder."""
    max_age = downloads_max_age_s()
    return int(min(600, max(1, max_age / 2))), max_age

# The page's looks that no single component sets (issue 31's rough edges, seen at 1400 and 800 px and dark):
# - the captions of Train live's strips and the Before / after and entropy pictures sit above their pictures,
#   whole (Gradio floats an image's label over its top-left corner, where they hid the top row and were cut
#   to "bs 10 · epo");
# - their buttons, and the uncertainty maps', in a strip above the picture (ui.common.buttons_above_css): over the
#   maps they hid the last map's title;
# - the curves' legend markers drawn as solid dots (Vega's were thin 6 px rings, hard to match to a line);
# - the cost section's bar plots without their one-row legends, which cut the fourth part off (ui/cost_section.py
#   draws one wrapping legend above each pair).
LABELLED_PICTURES = ("#train-strips", "#colourize-slider", "#hint-entropy")
PAGE_CSS = "\n".join(f"""
{block} label[data-testid=block-label] {{ position: static; white-space: normal; overflow: visible;
  max-width: 100%; margin: 0 0 4px 0; width: fit-content; }}""" for block in LABELLED_PICTURES) + """
#colourize-slider .icon-button-wrapper, #train-strips .icon-button-wrapper { position: static; justify-content: flex-end;
  box-shadow: none; background: none; }
""" + buttons_above_css("#hint-entropy") + buttons_above_css("[id^=inspector-][id$=-uncertainty]") + """
#train-loss-plot .role-legend-symbol path, #train-accuracy-plot .role-legend-symbol path { stroke-width: 4.5px; }
#segment-cost-memory-small .role-legend, #segment-cost-memory-big .role-legend, #segment-cost-time-small .role-legend,
#segment-cost-time-big .role-legend { display: none; }
"""


def examples_cache() -> str:
    """A fresh folder for this process's cached examples: Gradio's default (.gradio/cached_examples) would
    outlive the process and serve results of checkpoints that have since changed."""
    if not os.environ.get("GRADIO_EXAMPLES_CACHE"):
        folder = tempfile.mkdtemp(prefix="pixelwise-examples-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["GRADIO_EXAMPLES_CACHE"] = folder
    return os.environ["GRADIO_EXAMPLES_CACHE"]


def sweep_cache_of(demo: gr.Blocks) -> None:
    """Every stale file of this process's Gradio cache goes, tracked or not: the copies Gradio makes for a
    session's own components (outputs given as gr.update, re-encoded uploads) escape delete_cache. The
    components' defaults, which Gradio keeps for the app's life, stay."""
    if GRADIO_CACHE is not None:
        def kept() -> set[str]:
            return {path for block in list(demo.blocks.values()) for path in getattr(block, "keep_in_cache", ())}
        sweep_while_there(GRADIO_CACHE, lambda folder: sweep_gradio_cache(folder, kept), "pixelwise-gradio-cache-sweep")


def warm_up() -> None:
    """Before anyone asks: the default colourizers loaded and run once (the first colourization then takes
    ~0.15 s, not ~3 s), then the default press's data and rates (its first point then comes in seconds)."""
    colourize_tab.warm_up()
    presets.warm_up(cifar_data_root())


def build_app() -> gr.Blocks:
    examples_cache()
    remove_interrupted_saves()  # checkpoint saves a killed process left half-written
    prune_trained()  # the trained folder is every visitor's: its oldest beyond PIXELWISE_TRAINED_KEEP go
    with gr.Blocks(title="PixelWise", delete_cache=delete_cache()) as demo:
        gr.Markdown("# PixelWise\nColourization as per-pixel classification (CNN vs UNet), "
                    "batch-size training live, flower segmentation and what is inside each model.")
        with gr.Tab("Colourize"):
            colourize = build_colourize_tab()
        with gr.Tab("Train live"):
            training = build_train_tab()
        with gr.Tab("Segment"):
            segment = build_segment_tab()
        with gr.Tab("Inside the models"):
            inside = build_inside_tab()
        # Every tab opens on an example, not on blank picture panels: the first one, shown as its button shows it
        # (Train live: the shipped UNet's validation strip).
        colourize.show_example_on(demo.load)
        training.show_example_on(demo.load)
        segment(demo.load)
        inside(demo.load)
        # Checkpoints saved in "Train live" (or added since start-up) appear in the Colourize dropdowns.
        colourize.refresh_after(demo.load, *training.checkpoint_saved)
        training.label_presets_on(demo.load)
        demo.unload(stop_page_jobs)  # the one unload hook: a closed page's heavy jobs stop at once
    demo.queue(default_concurrency_limit=CONCURRENT_EVENTS, max_size=MAX_QUEUE)
    sweep_cache_of(demo)
    release_torch_threads()  # the build ran torch on two threads: kept, their pool slowed every training's step
    return demo


def launch_options() -> dict:
    """demo.launch()'s settings: where it listens, the largest upload it stores, the page's CSS and script, the MCP
    server."""
    return dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),  # Spaces sets 0.0.0.0
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        max_file_size=int(max_upload_mb() * 1024 * 1024),  # a bigger POST is refused (413) before it is stored
        show_error=True,
        theme=gr.themes.Soft(),
        css=PAGE_CSS,
        # the upload boxes' preview and the example buttons' highlight (ui/common.py), the colour picker's popup in
        # the window (ui/hints_section.py)
        js=f"() => {{ ({UPLOAD_JS})(); ({PICKER_JS})(); }}",
        mcp_server=mcp_enabled(),  # the public endpoints as MCP tools at /gradio_api/mcp/ (PIXELWISE_MCP=0: off)
        prevent_thread_lock=True,
    )


if __name__ == "__main__":
    # SIGTERM (Spaces, tests, `kill`) ends the app as Ctrl+C does: Gradio closes, atexit removes the temp folders.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    quiet_profiler()  # on the main thread, before the cost section's workers profile
    cap_torch_threads()  # torch's threads within the container's CPU quota (a 2-vCPU Space on a big host)
    demo = build_app()
    if mcp_enabled():
        from ui.mcp_server import use_mended_mcp_server

        use_mended_mcp_server()  # every tool's answer usable by an agent (ui/mcp_server.py says what it mends)
    demo.launch(**launch_options())
    # after the page is built and served, not beside the build: the warm-up's rate calibration (a job of the
    # scheduler's, runs.rates) is what the preset buttons promise, and measured beside the build it came out 4x
    # too slow.
    # Not a daemon: a SIGTERM during its seconds of torch work waits for it (a daemon thread still inside
    # torch when the interpreter ends aborts the process, exit 134).
    threading.Thread(target=warm_up, name="pixelwise-warm-up").start()
    release_torch_threads()  # whatever launch() ran on this thread: the main thread keeps no torch worker threads
    demo.block_thread()  # as launch() does by itself: Ctrl+C / SIGTERM close the server
