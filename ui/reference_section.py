"""The Colourize tab's reference colours (issue 32): a photo whose palette the Beyond model follows (global
hints, SIGGRAPH 2017). Upload one, pick an example, or take the Beyond picture shown; its palette is shown as
swatches with their shares; a slider blends from automatic colour to the reference's; Clear restores automatic
colour. The reference stays for the next photo and works with the click hints. No ML here: colorizer.reference
reads the palette and the pipeline applies it."""
import html
from dataclasses import dataclass

import gradio as gr
import numpy as np

from colorizer.inference import prepare_photo
from colorizer.panels import REFERENCE_CHECKPOINT
from colorizer.reference import ReferencePhotoError, photo_palette, reference_rgb, swatches
from pixelwise.checkpoints import CheckpointError
from pixelwise.images import ImageError
from runs.catalog import list_checkpoints, load_colourizer
from ui.common import example_path, inference_device, uploaded_image

NO_REFERENCE = "No reference: the Beyond model chooses its colours itself."


@dataclass
class ReferenceControls:
    photo: gr.Image  # the reference's file path: an input of the colourize endpoint
    examples: gr.Dataset
    take_beyond: gr.Button
    strength: gr.Slider
    clear: gr.Button
    strip: gr.HTML  # the palette's swatches


def build_reference_controls(examples: list[tuple[str, str]]) -> ReferenceControls:
    with gr.Accordion("Reference colours: give the Beyond picture another photo's palette", open=True,
                      elem_id="reference-controls"):
        with gr.Row():
            photo = uploaded_image(label="Reference photo", sources=["upload", "clipboard"], height=160,
                                   elem_id="reference-photo", scale=1)
            with gr.Column(scale=2):
                choices = gr.Dataset(components=["textbox"], samples=[[label] for _, label in examples], type="index",
                                     layout="gallery", label="Or an example as the reference",
                                     elem_id="reference-examples")
                take_beyond = gr.Button("Use the Beyond picture shown as the reference", size="sm",
                                        elem_id="reference-take-beyond")
                strength = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Reference strength",
                                     info="0: automatic colour; 1: the reference's palette", elem_id="reference-strength")
                clear = gr.Button("Clear reference", size="sm", elem_id="reference-clear")
        strip = gr.HTML(NO_REFERENCE, elem_id="reference-palette", padding=False)
    return ReferenceControls(photo, choices, take_beyond, strength, clear, strip)


# ---------------------------------------------------------------- handlers (plain values in, updates out)

def example_reference(index, examples: list[tuple[str, str]]) -> dict:
    """An example button: that photo becomes the reference."""
    return {"reference": example_path(examples, index)}


def beyond_as_reference(picture) -> dict:
    """The Beyond picture shown (a finished colourization) becomes the reference."""
    if picture is None:
        return {}
    return {"reference": np.asarray(picture)}


def reference_checkpoint_for(beyond: str | None, reference) -> str | None:
    """The Beyond checkpoint to use: the chosen one, or the reference model when a reference is given and the
    chosen one takes none (and the reference model is there)."""
    if not reference or not beyond:
        return beyond
    listed = list_checkpoints()[0]
    try:
        if load_colourizer(beyond, inference_device(), listed).takes_reference:
            return beyond
    except CheckpointError:
        return beyond
    return REFERENCE_CHECKPOINT if any(info.name == REFERENCE_CHECKPOINT for info in listed) else beyond


def palette_strip(reference, beyond: str | None) -> str:
    """The reference's main colours as swatches with their shares (HTML), or why there are none."""
    if not reference:
        return NO_REFERENCE
    try:
        model = load_colourizer(beyond or REFERENCE_CHECKPOINT, inference_device()).model
        centres = getattr(model, "ab_centres", None)
        if centres is None:
            return "The Beyond model has no ab classes to show a palette in."
        shares, saturation = photo_palette(reference_rgb(prepare_photo(reference, 256)), centres)
    except (ReferencePhotoError, ImageError, CheckpointError) as error:
        return f"<p>{html.escape(str(error))}</p>"
    cells = "".join(
        f'<div class="reference-swatch" title="{100 * share:.0f}%" style="flex:{share:.4f} 1 0;'
        f'background:rgb{rgb};min-width:28px;height:34px;display:flex;align-items:end;justify-content:center;'
        f'color:white;text-shadow:0 0 3px black;font-size:12px">{100 * share:.0f}%</div>'
        for rgb, share in swatches(shares, centres))
    return (f'<div style="display:flex;gap:2px;border-radius:4px;overflow:hidden">{cells}</div>'
            f'<p style="font-size:12px;margin:2px 0">The reference\'s main colours (at one lightness) and their '
            f'shares of its pixels; saturation {saturation:.2f}.</p>')
