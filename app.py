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

from pixelwise.tempfiles import own_gradio_cache, sweep_gradio_cache, sweep_while_there

GRADIO_CACHE = own_gradio_cache()  # before gradio is imported (some of its modules read GRADIO_TEMP_DIR then)

import gradio as gr  # noqa: E402

from pixelwise.device import usable_cores
from pixelwise.settings import mcp_enabled
from runs.catalog import remove_interrupted_saves
from runs import presets
from ui import colourize_tab
from ui.colourize_tab import build_colourize_tab
from ui.common import DOWNLOADS_MAX_AGE_S, cifar_data_root
from ui.inside_tab import build_inside_tab
from ui.segment_tab import build_segment_tab
from ui.train_tab import build_train_tab, release_page

# Each event runs its models on one torch thread (pixelwise.device.one_torch_thread), so as many run at once as
# there are cores (at least 2, at most 8; a container's quota counts): more only share the same cores and the
# GIL. 20 colourizations of 512² at once while a model trains, 2 cores: p95 2.41 / 1.76 s with 4 at once,
# 1.60 / 1.62 s with 2 (docs/concurrency.md). Training is limited to one run at a time by its own event
# (ui/train_tab.py). max_size bounds the waiting line: a waiting upload holds only its file on disk, so 100 of
# them cost no memory and drain in seconds, where the old 32 refused two thirds of a 100-request burst.
CONCURRENT_EVENTS = max(2, min(8, usable_cores()))
MAX_QUEUE = 100
# Uploads and outputs in Gradio's cache are deleted once an hour old (checked every 10 minutes; sooner with
# PIXELWISE_DOWNLOADS_MAX_AGE_S, which the concurrency tests shorten). delete_cache reaches only the copies
# Gradio tracks; sweep_gradio_cache (below) the rest of this process's own cache folder.
DELETE_CACHE = (int(min(600, max(1, DOWNLOADS_MAX_AGE_S / 2))), DOWNLOADS_MAX_AGE_S)


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
    with gr.Blocks(title="PixelWise", delete_cache=DELETE_CACHE) as demo:
        gr.Markdown("# PixelWise\nColourization as per-pixel classification (CNN vs UNet), "
                    "batch-size training live, flower segmentation and what is inside each model.")
        with gr.Tab("Colourize"):
            colourize = build_colourize_tab()
        with gr.Tab("Train live"):
            training = build_train_tab()
        with gr.Tab("Segment"):
            build_segment_tab()
        with gr.Tab("Inside the models"):
            build_inside_tab()
        # Checkpoints saved in "Train live" (or added since start-up) appear in the Colourize dropdowns.
        colourize.refresh_after(demo.load, *training.checkpoint_saved)
        training.label_presets_on(demo.load)
        demo.unload(release_page)  # a closed page frees its training at once
    demo.queue(default_concurrency_limit=CONCURRENT_EVENTS, max_size=MAX_QUEUE)
    sweep_cache_of(demo)
    return demo


if __name__ == "__main__":
    # SIGTERM (Spaces, tests, `kill`) ends the app as Ctrl+C does: Gradio closes, atexit removes the temp folders.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    demo = build_app()
    if mcp_enabled():
        from ui.mcp_server import use_mended_mcp_server

        use_mended_mcp_server()  # every tool's answer usable by an agent (ui/mcp_server.py says what it mends)
    demo.launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),  # Spaces sets 0.0.0.0
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        show_error=True,
        theme=gr.themes.Soft(),
        mcp_server=mcp_enabled(),  # the public endpoints as MCP tools at /gradio_api/mcp/ (PIXELWISE_MCP=0: off)
        prevent_thread_lock=True,
    )
    # after the page is built and served, not beside the build: the warm-up's rate calibration is what the
    # preset buttons promise for the process's life, and measured beside the build it came out 4x too slow.
    # Not a daemon: a SIGTERM during its seconds of torch work waits for it (a daemon thread still inside
    # torch when the interpreter ends aborts the process, exit 134).
    threading.Thread(target=warm_up, name="pixelwise-warm-up").start()
    demo.block_thread()  # as launch() does by itself: Ctrl+C / SIGTERM close the server
