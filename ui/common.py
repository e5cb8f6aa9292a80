"""Small UI helpers shared by the tabs: an upload widget that passes files through untouched,
and numpy helpers for showing tiny 32 x 32 images at a visible size."""
import gradio as gr
import numpy as np

from colorizer.trainer import resolve_device


def inference_device() -> str:
    """Where the app runs models: CUDA when present, else the CPU (the same rule as training)."""
    return str(resolve_device("auto"))


def uploaded_image(**kwargs) -> gr.Image:
    """A gr.Image whose upload reaches the handler as the untouched file path.

    Plain gr.Image opens the upload with PIL before the handler runs, so a corrupt file fails with
    Gradio's generic error. This one leaves decoding to colorizer.images, whose messages say what is
    wrong (and which handles 16-bit, CMYK, palette and RGBA files). Done on the instance, not with a
    subclass: Gradio writes a .pyi stub next to any module that subclasses a component.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    own_preprocess = image.preprocess

    def pass_path_through(payload):
        if payload is None or payload.path is None:  # data: URLs (rare) take Gradio's own path
            return own_preprocess(payload)
        return str(payload.path)

    image.preprocess = pass_path_through
    return image


def enlarge(rgb: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so a 32 x 32 image is shown with crisp pixels."""
    return np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)


def image_grid(rows: list[list[np.ndarray]], factor: int = 3, gap: int = 3) -> np.ndarray:
    """Equal-sized RGB images laid out in rows, enlarged ``factor`` times, white gaps between them."""
    def join(pieces, axis):
        spacer_shape = list(pieces[0].shape)
        spacer_shape[axis] = gap
        spacer = np.full(spacer_shape, 255, np.uint8)
        out = [pieces[0]]
        for piece in pieces[1:]:
            out += [spacer, piece]
        return np.concatenate(out, axis=axis)

    return join([join([enlarge(image, factor) for image in row], axis=1) for row in rows], axis=0)
