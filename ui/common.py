"""Small UI helpers shared by the tabs: handlers that name their outputs, an upload widget that passes
files through untouched, one plain notice for a refused input, sliders whose typed numbers act, where
CIFAR-10 comes from, and shown pictures as files with meaningful names."""
import contextlib
import functools
import html
import inspect
import logging
import os
import re
from pathlib import Path
from typing import Callable

import gradio as gr
import numpy as np
from PIL import Image

from pixelwise.checkpoints import CheckpointError
from pixelwise.device import resolve_device
from pixelwise.errors import DataUnavailable
from pixelwise.images import ImageError
from pixelwise.limits import OutOfRange
from pixelwise.settings import REPO_ROOT, cifar_root, cifar_root_from_env, shown_path
from pixelwise.tempfiles import request_dir


REFUSALS = logging.getLogger("pixelwise.refused")
# The app's own refusals in plain words: a handler that lets one through is answered with it, not a crash.
PLAIN_REFUSALS = (OutOfRange, ImageError, CheckpointError, DataUnavailable)


def refusal(message) -> gr.Error:
    """The error to raise for a deliberate refusal (a bad number, an unreadable file): ``message`` in plain
    words for the person, and one line in the log, not the traceback Gradio prints for a crash."""
    text = plain(message)
    REFUSALS.warning("refused: %s", text)
    return gr.Error(text, print_exception=False)


def refusing_plainly(handler: Callable) -> Callable:
    """``handler`` (a function or a generator) with PLAIN_REFUSALS raised as ``refusal``s."""
    if inspect.isgeneratorfunction(handler):
        @functools.wraps(handler)
        def stream(*args, **kwargs):
            try:
                yield from handler(*args, **kwargs)
            except PLAIN_REFUSALS as error:
                raise refusal(error) from None
        return stream

    @functools.wraps(handler)
    def call(*args, **kwargs):
        try:
            return handler(*args, **kwargs)
        except PLAIN_REFUSALS as error:
            raise refusal(error) from None
    return call


def named_outputs(handler: Callable, components: dict[str, gr.components.Component], name: str | None = None) -> Callable:
    """Wire a handler that returns (or yields) {output name: value} to Gradio, which wants {component: value}.

    Handlers stay plain functions that tests call directly and read by name; an output a handler
    leaves out keeps its value in the page. Use with ``list(components.values())`` as the outputs.
    ``name``: the wrapper's __name__, which Gradio's MCP server uses as the tool name (default the handler's)."""
    def as_components(result: dict) -> dict:
        if not result:  # Gradio reads an empty dict as one value for several outputs: keep each as it is
            return {component: gr.skip() for component in components.values()}
        return {components[name]: value for name, value in result.items()}

    handler = refusing_plainly(handler)

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


def example_buttons(examples: list[tuple[str, str]], elem_id: str) -> gr.Dataset:
    """The (file of examples/, label) photos as one-click buttons whose click gives the handler the index
    (``example_path`` turns it into the file). A plain Dataset, not gr.Examples: gr.Examples puts its photo
    in the upload box by a prop update, which makes a fresh gr.Image in the session and loses
    uploaded_image's own file handling, so a text file renamed .png uploaded afterwards failed inside Gradio."""
    example_files([name for name, _ in examples])  # served in place
    return gr.Dataset(components=["textbox"], samples=[[label] for _, label in examples], type="index",
                      layout="gallery", label="Examples: one click (sources and licences: examples/README.md)",
                      elem_id=elem_id)


def example_path(examples: list[tuple[str, str]], index) -> str:
    """The file of the example button ``index`` (example_buttons), as example_files names it."""
    return example_files([examples[int(index)][0]])[0]


def api_endpoint(handler: Callable, inputs: list, api_name: str, state: gr.State | None = None, **kwargs):
    """A public API (and MCP) endpoint that answers with plain values, for an action whose page event returns
    page updates (plots, Markdown, gr.update()s) and is kept private: the click of a hidden button, so its
    arguments are the page's own controls (same types, choices and bounds in the API info). ``handler``
    returns (or yields) a JSON-able value, or ``{"result": value, "session": new state}`` when ``state`` is
    given, so that later calls of the same client session (``stop``) see it; its __name__ is the MCP tool's."""
    outputs = {"result": gr.JSON(visible=False)} | ({"session": state} if state is not None else {})
    fn = named_outputs(handler, outputs, api_name) if state is not None else refusing_plainly(handler)
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


def buttons_above_css(selector: str) -> str:
    """CSS for the gr.Image blocks of a fixed height matched by ``selector``: their download and full-screen buttons in a strip above
    the picture, not over its top corner (where they hid the picture's top, a map's title, and caught clicks meant
    for the inspector), and the picture filling what the strip leaves of its box: filling the whole box, it
    overflowed it, and a click on the picture scrolled the strip out of view (overflow: clip cannot scroll)."""
    return f"""
{selector} .icon-button-wrapper {{ position: static; justify-content: flex-end; margin: 0 0 2px 0; box-shadow: none;
  background: none; }}
{selector} {{ overflow: clip !important; display: flex !important; flex-direction: column; }}
{selector} .image-container {{ display: flex; flex-direction: column; flex: 1 1 0; min-height: 0; }}
{selector} .image-container > button {{ flex: 1 1 0; min-height: 0; }}
{selector} .image-frame, {selector} .image-frame img {{ height: 100%; }}
"""


UPLOAD_CLASS = "pw-upload"  # the upload boxes of uploaded_image: UPLOAD_JS watches what they show

# Installed once per page (app.py's launch(js=...)). Two things Gradio's upload box and example buttons do:
# - a file the browser cannot draw (a refused file, or a format only the server decodes) left a broken-image
#   sliver in the box: the picture is hidden and a line says there is no preview (a picture that loads puts it back);
# - an example button's highlight is Gradio's hover state, which stays until the pointer leaves the button: a
#   new file (dialog, drop, paste) ends it, so the old example does not look chosen beside the new photo.
UPLOAD_JS = """() => {
  const inBox = (node) => node && node.closest && node.closest('.%(box)s');
  document.addEventListener('error', (event) => {
    const img = event.target;
    if (img.tagName !== 'IMG' || !inBox(img)) return;
    img.style.display = 'none';
    const frame = img.parentElement;
    if (!frame.querySelector(':scope > .pw-no-preview')) {
      const note = document.createElement('div');
      note.className = 'pw-no-preview';
      note.textContent = 'No preview of this file';
      // in the frame's flow (the hidden picture leaves it no height), below the box's floating label
      note.style.cssText = 'display: flex; align-items: center; justify-content: center; min-height: 90px;'
        + ' padding: 36px 8px 8px; color: var(--body-text-color-subdued)';
      frame.appendChild(note);
    }
  }, true);
  document.addEventListener('load', (event) => {
    const img = event.target;
    if (img.tagName !== 'IMG' || !inBox(img)) return;
    img.style.display = '';
    const note = img.parentElement.querySelector(':scope > .pw-no-preview');
    if (note) note.remove();
  }, true);
  const unhover = () => document.querySelectorAll('.gallery-item').forEach((button) => {
    button.dispatchEvent(new MouseEvent('mouseleave'));
    button.blur();
  });
  ['change', 'drop', 'paste'].forEach((kind) => document.addEventListener(kind, (event) => {
    if (inBox(event.target)) unhover();
  }, true));
}""" % {"box": UPLOAD_CLASS}


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
    kwargs["elem_classes"] = [*([kwargs["elem_classes"]] if isinstance(kwargs.get("elem_classes"), str)
                                else kwargs.get("elem_classes") or []), UPLOAD_CLASS]
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




def take_home_path(name: str) -> Path:
    """A fresh path ``<request folder>/<name>`` for a file to download under its own name (a label mask,
    a checkpoint copy): pixelwise.tempfiles.request_dir, private to this request."""
    return request_dir() / name


def shown_files(pictures: dict[str, np.ndarray | None], stem: str) -> dict[str, str | None]:
    """Shown pictures as JPEG files ``<stem>_<name>.jpg`` (quality DISPLAY_QUALITY) in this request's own folder
    (request_dir): a panel's download keeps a name that says what it is, and two people's never collide."""
    folder, stem = request_dir(), re.sub(r"[^\w-]+", "-", stem).strip("-")[:60] or "result"
    files = {}
    for name, picture in pictures.items():
        files[name] = None if picture is None else str(folder / f"{stem}_{name}.jpg")
        if picture is not None:
            Image.fromarray(picture).save(files[name], quality=DISPLAY_QUALITY)
    return files


# ---------------------------------------------------------------- one message, once, in plain words

NOTICE_CSS = """
.pw-notice { border: 1px solid #d97706; border-left-width: 5px; border-radius: 6px; padding: 8px 12px;
             background: var(--block-background-fill); color: var(--body-text-color); font-size: 14px; }
"""
_FOLDERS = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+)+[\\/]")  # a folder path up to its last separator


def plain(message) -> str:
    """A message (text or an exception) in plain words: no Markdown marks (``**``, backticks), no server
    folder (a path keeps only its last part)."""
    text = str(message).replace("**", "").replace("`", "")
    return _FOLDERS.sub("", text).strip()


def notice_box(elem_id: str) -> gr.HTML:
    """The one place a tab (or a section of one) says why an input was refused, and the only kind of message
    the page gives: its text is replaced, so repeated refusals never stack, and the results around it stay as
    they were. Empty (and invisible) until needed; see ``notice``."""
    return gr.HTML("", elem_id=elem_id, css_template=NOTICE_CSS, padding=False)


def notice(message=None) -> str:
    """The value for a notice_box: ``message`` in plain words (``plain``), or "" to clear the box.
    Handlers return it instead of gr.Warning/gr.Error, and leave the other outputs out (they keep their value)."""
    if not message:
        return ""
    return f'<div class="pw-notice" role="status">{html.escape(plain(message))}</div>'


def clamped_js(inputs: list) -> str:
    """An event's ``js`` that sends ``inputs`` as they are, but each slider's value pulled into its range
    (blank: its start value). A number being typed passes through values like 1 on its way to 128, which
    Gradio would refuse with an error toast before the handler runs; clamped, typing acts as a slider move."""
    steps = [f"v[{n}] = (typeof v[{n}] !== 'number' || isNaN(v[{n}])) ? {c.value} : "
             f"Math.min({c.maximum}, Math.max({c.minimum}, v[{n}]));"
             for n, c in enumerate(inputs) if isinstance(c, gr.Slider)]
    return f"(...v) => {{ {' '.join(steps)} return v.slice(0, {len(inputs)}); }}"


def checked_by_handler(component):
    """A gr.Slider or gr.Number whose typed values reach the handler as they are, out of range included:
    Gradio's own bounds check would fail the event before the handler runs, with an error toast and a red
    badge on every output; the handler refuses them instead (pixelwise.limits.bounded), in its notice_box."""
    own_preprocess = component.preprocess

    def preprocess(payload):
        return payload if isinstance(payload, (int, float)) else own_preprocess(payload)

    component.preprocess = preprocess
    return component
