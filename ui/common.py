"""Small UI helpers shared by the tabs: handlers that name their outputs, an upload widget that passes
files through untouched, where CIFAR-10 comes from, and numpy helpers for showing tiny 32 x 32 images."""
import contextlib
import functools
import inspect
import os
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
from PIL import Image

from pixelwise.device import resolve_device
from pixelwise.settings import REPO_ROOT, cifar_root, cifar_root_from_env, shown_path
from pixelwise.tempfiles import downloads_max_age_s, request_dir


def named_outputs(handler: Callable, components: dict[str, gr.components.Component], name: str | None = None) -> Callable:
    """Wire a handler that returns (or yields) {output name: value} to Gradio, which wants {component: value}.

    Handlers stay plain functions that tests call directly and read by name; an output a handler
    leaves out keeps its value in the page. Use with ``list(components.values())`` as the outputs.
    ``name``: the wrapper's __name__, which Gradio's MCP server uses as the tool name (default the handler's)."""
    def as_components(result: dict) -> dict:
        return {components[name]: value for name, value in result.items()}

    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args, **kwargs):
            with contextlib.closing(handler(*args, **kwargs)) as results:  # closing runs the handler's finally
                for result in results:
                    yield as_components(result)
        stream.__name__ = name or stream.__name__
        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        return as_components(handler(*args, **kwargs))
    call.__name__ = name or call.__name__
    return call


def example_files(names: list[str]) -> list[str]:
    """Photos of examples/ as gr.Examples should get them: relative to the working directory (the checkout, as
    run.py and Spaces start the app) and in a static folder, so Gradio serves them in place instead of copying
    them into its cache, and neither the page config nor the API info shows a server path (tests/test_api.py)."""
    folder = REPO_ROOT / "examples"
    gr.set_static_paths([folder])
    return [os.path.relpath(folder / name) for name in names]


def api_endpoint(handler: Callable, inputs: list, api_name: str, state: gr.State | None = None, **kwargs):
    """A public API (and MCP) endpoint that answers with plain values, for an action whose page event returns
    page updates (plots, Markdown, gr.update()s) and is kept private: the click of a hidden button, so its
    arguments are the page's own controls (same types, choices and bounds in the API info). ``handler``
    returns (or yields) a JSON-able value, or ``{"result": value, "session": new state}`` when ``state`` is
    given, so that later calls of the same client session (``stop``) see it; its __name__ is the MCP tool's."""
    outputs = {"result": gr.JSON(visible=False)} | ({"session": state} if state is not None else {})
    fn = named_outputs(handler, outputs, api_name) if state is not None else handler
    return gr.Button(visible=False).click(fn, inputs, list(outputs.values()), api_name=api_name, **kwargs)


def cifar_data_root() -> str | None:
    """The CIFAR-10 image folder the app uses (pixelwise.settings.cifar_root), None to download."""
    root = cifar_root()
    return str(root) if root else None


def cifar_notice(images: str) -> str:
    """Where ``images`` ('Test images', 'Training images') come from, for a note under the controls."""
    root = cifar_root()
    if root is not None:
        return f"{images} from `{shown_path(root)}` ({'PIXELWISE_DATA' if cifar_root_from_env() else 'default'})."
    return ("No local CIFAR-10 folder (set `PIXELWISE_DATA`, or put it at `../shared/data/cifar10`): "
            f"{images.lower()} will be downloaded with torchvision on first use, which needs internet; "
            "offline the tab says so.")


def inference_device() -> str:
    """Where the app runs models: CUDA when present, else the CPU (the same rule as training)."""
    return str(resolve_device("auto"))


class UploadedPath(str):
    """The server path of an upload (a plain str to every caller) that remembers the name the person
    gave the file, for messages: the path itself is Gradio's cache and not theirs to see."""
    orig_name: str | None = None


def upload_name(path) -> str:
    """The file name to show a person for an upload (its original name when Gradio passed it on)."""
    return getattr(path, "orig_name", None) or os.path.basename(str(path))


def uploaded_image(**kwargs) -> gr.Image:
    """A gr.Image whose upload reaches the handler as the untouched file path.

    Plain gr.Image opens the upload with PIL before the handler runs, so a corrupt file fails with
    Gradio's generic error. This one leaves decoding to pixelwise.images, whose messages say what is
    wrong (and which handles 16-bit, CMYK, palette and RGBA files). Done on the instance, not with a
    subclass: Gradio writes a .pyi stub next to any module that subclasses a component.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    own_preprocess = image.preprocess

    def pass_path_through(payload):
        if payload is None or payload.path is None:  # data: URLs (rare) take Gradio's own path
            return own_preprocess(payload)
        path = UploadedPath(payload.path)
        path.orig_name = payload.orig_name
        return path

    image.preprocess = pass_path_through
    return image


DISPLAY_QUALITY = 90  # JPEG quality of shown results: ~10x faster to encode than PNG, no visible loss


def _with_quality(value):
    # Gradio saves arrays and PIL images with PIL's defaults (JPEG quality 75); PIL reads per-image
    # settings from ``encoderinfo`` (documented in Image.save).
    if isinstance(value, np.ndarray) and value.dtype == np.uint8:
        value = Image.fromarray(value)
    if isinstance(value, Image.Image):
        value.encoderinfo = {"quality": DISPLAY_QUALITY}
    return value


def shown_as_jpeg(component):
    """A gr.Image or gr.ImageSlider output that sends its images as JPEG at DISPLAY_QUALITY: a 2000 px
    result encodes in ~10 ms instead of ~0.3 s as PNG. Downloads of full-size results stay PNG."""
    component.format = "jpeg"
    own_postprocess = component.postprocess

    def postprocess(value):
        if isinstance(value, (tuple, list)):
            return own_postprocess(type(value)(_with_quality(item) for item in value))
        return own_postprocess(_with_quality(value))

    component.postprocess = postprocess
    return component


DOWNLOADS_MAX_AGE_S = downloads_max_age_s()  # Gradio's copies of uploads and outputs live an hour (app.py's delete_cache)


def take_home_path(name: str) -> Path:
    """A fresh path ``<request folder>/<name>`` for a file to download under its own name (a label mask,
    a checkpoint copy): pixelwise.tempfiles.request_dir, private to this request."""
    return request_dir() / name


# ---------------------------------------------------------------- plain notices (wt-segment)
# Segment and Inside the models. wt-colourize builds a shared helper at the same time: the lead unifies the
# two; the imports stay with this section so that it merges as one block.
import re  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

NOTICE_S = 8  # a notice toast's life; the same text again on the same page within it is not shown twice
_LAST_NOTICES: dict[tuple[str | None, str], float] = {}
_NOTICES_LOCK = threading.Lock()


def plain_text(message) -> str:
    """A message in plain words: no Markdown marks, and a server path reduced to its file name."""
    text = re.sub(r"\*\*|__|`", "", str(message))
    return re.sub(r"(?<![\w:/.])(?:[A-Za-z]:)?(?:[/\\][^/\\\s]+){2,}", lambda m: re.split(r"[/\\]", m[0])[-1], text)


def plain_notice(message, request: gr.Request | None = None) -> str:
    """One warning toast in plain words for a refused input (the caller keeps the last good result on
    screen); repeats of the same text on the same page while the first is still up are not stacked."""
    text, now = plain_text(message), time.monotonic()
    key = (getattr(request, "session_hash", None), text)
    with _NOTICES_LOCK:
        for old in [old for old, shown in _LAST_NOTICES.items() if now - shown > NOTICE_S]:
            del _LAST_NOTICES[old]
        repeated = key in _LAST_NOTICES
        _LAST_NOTICES[key] = now
    if not repeated:
        gr.Warning(text, duration=NOTICE_S)
    return text


def checked_by_handler(component):
    """A gr.Slider or gr.Number whose typed values reach the handler as they are, out of range included:
    Gradio's own bounds check would fail the event before the handler runs, with an error toast and a red
    badge on every output; the handler refuses them instead, with one plain notice (pixelwise.limits.bounded)."""
    own_preprocess = component.preprocess

    def preprocess(payload):
        return payload if isinstance(payload, (int, float)) else own_preprocess(payload)

    component.preprocess = preprocess
    return component
