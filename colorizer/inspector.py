"""The pixel inspector's colourizer part: the class each true colour belongs to, the classes' display
colours, and a colourizer's logits as pixelwise.perpixel.Scores (the model-agnostic maths is there)."""
import numpy as np
import torch

from pixelwise.perpixel import Scores

from . import lab
from .palette import nearest_colour_labels


def true_classes(rgb: np.ndarray, palette: torch.Tensor, ab_centres: torch.Tensor | None = None) -> np.ndarray:
    """... x 3 uint8 true colours -> their classes: the nearest palette colour, or for Lab models the
    nearest ab centre (what each model was trained to predict)."""
    rgb = torch.from_numpy(np.array(rgb, dtype=np.uint8))  # a copy: PIL's arrays are read-only
    if ab_centres is None:
        return nearest_colour_labels(rgb, palette.cpu()).numpy()
    return lab.AbBins(ab_centres.float().cpu(), "given").labels(lab.rgb_to_lab(rgb)[..., 1:]).numpy()


def class_colours(palette: torch.Tensor) -> np.ndarray:
    """NC x 3 float palette in [0, 1] -> NC x 3 uint8 (the checkpoint palette; Lab: the display palette)."""
    return (palette.detach().cpu().float() * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def model_scores(label: str, model, palette: torch.Tensor, logits: torch.Tensor,
                 true_rgb: np.ndarray | None = None) -> Scores:
    """Scores of a colourizer's NC x h x w logits; ``true_rgb`` (h x w x 3 uint8, the original at the
    model's size) gives each pixel's true class, as that model's training labels would."""
    centres = getattr(model, "ab_centres", None) if getattr(model, "colour_space", "rgb") == "lab" else None
    truth = None if true_rgb is None else true_classes(true_rgb, palette, centres)[None]
    return Scores(label, logits, class_colours(palette), truth=truth)


def strip_scores(label: str, samples, logits: torch.Tensor, palette: torch.Tensor) -> Scores:
    """Scores of a Train live strip: ``samples`` (grey, truth, prediction) uint8 triples, ``logits`` the
    final model's count x NC x h x w on them."""
    truth = np.stack([true for _, true, _ in samples])
    return Scores(label, logits, class_colours(palette), truth=true_classes(truth, palette))
