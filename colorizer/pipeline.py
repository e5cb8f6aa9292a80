"""One colourization pipeline: the Colourize tab, its API, the photo scripts and the benchmarks all
colourize through a ``Colourizer``, with the same ``Settings`` defaults.

A ``Colourizer`` is one checkpoint's model and palette, loaded once per process (again when the file
changes). ``run`` colourizes a photo at its own resolution (the model sees a small copy; its colours
are laid onto the photo's own lightness); ``run_small`` colourizes an image at the model's own size (a
32 x 32 CIFAR-10 test image). Both return the pictures and the logits behind them; ``scores`` wraps
logits for the pixel inspector and ``accuracy`` scores a colourization with the handout's metric.

    colourizer = Colourizer.load("checkpoints/unet.pt")
    result = colourizer.run(prepare_photo("photo.jpg"), Settings(decoding="mode"))
"""
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pixelwise.checkpoints import CheckpointError
from pixelwise.device import one_torch_thread
from pixelwise.perpixel import Scores

from . import lab
from .checkpoint import load_checkpoint
from .inference import (DEFAULT_DECODING, DEFAULT_TEMPERATURE, DEFAULT_WORK_SIZE, PhotoResult, PreparedPhoto,
                        classes_to_rgb, colourize_prepared, decode_rgb, is_lab, model_input, photo_logits,
                        predict_logits, prepare_photo, save_colour_png, takes_hints)
from .inspector import model_scores
from .reference import takes_reference
from .metrics import palette_accuracy

DECODINGS = lab.DECODINGS  # "mode" (argmax, the handout's), "mean", "annealed" (annealed mean)


@dataclass(frozen=True)
class Settings:
    """How a colourization is made: the decoding of each pixel's distribution and the model's working size."""
    decoding: str = DEFAULT_DECODING
    temperature: float = DEFAULT_TEMPERATURE  # the annealed mean's; ignored by the other decodings
    work_size: int = DEFAULT_WORK_SIZE  # photos only: the long side the model runs at (never enlarged)

    def __post_init__(self):
        if self.decoding not in DECODINGS:
            raise ValueError(f"decoding must be one of {DECODINGS}, not {self.decoding!r}")
        object.__setattr__(self, "temperature", float(self.temperature))
        object.__setattr__(self, "work_size", int(self.work_size))

    def describe(self) -> str:
        """How a caption names the decoding: 'mode', 'mean' or 'annealed mean T=0.38'."""
        return {"mode": "mode", "mean": "mean"}.get(self.decoding, f"annealed mean T={self.temperature:g}")


@dataclass(frozen=True)
class SmallResult:
    """An image colourized at the model's own size."""
    colour: np.ndarray  # H x W x 3 uint8, decoded as the settings say
    logits: torch.Tensor  # NC x H x W


class Colourizer:
    """One colourizer checkpoint's model and palette, for inference only (the model may be shared)."""

    def __init__(self, model: nn.Module, palette: torch.Tensor):
        self.model, self.palette = model, palette

    @staticmethod
    def load(path: str | Path, device: str | torch.device = "cpu") -> "Colourizer":
        """The checkpoint at ``path``, read once per process and device (again if the file changes on disk)."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: no such checkpoint file")
        return _load(str(path), path.stat().st_mtime_ns, str(device))

    @property
    def is_lab(self) -> bool:
        """Lab models see lightness and predict ab classes; the handout's see grey and predict palette colours."""
        return is_lab(self.model)

    @property
    def lightness_plane(self) -> str:
        """The plane of a photo this model's colours are laid onto (PreparedPhoto.keep_only)."""
        return "lightness" if self.is_lab else "luma"

    @property
    def takes_hints(self) -> bool:
        """A hint model: it also reads user colour hints (colorizer.hints)."""
        return takes_hints(self.model)

    @property
    def takes_reference(self) -> bool:
        """A model with the global-hint branch: a reference photo's palette steers it (colorizer.reference)."""
        return takes_reference(self.model)

    def logits(self, photo: PreparedPhoto, settings: Settings = Settings(),
               hints=None, reference=None, reference_strength: float = 1.0) -> tuple[torch.Tensor, tuple[int, int]]:
        """NC x h x w logits on the photo's working-size copy, and that (width, height)."""
        with one_torch_thread():
            return photo_logits(self.model, photo, settings.work_size, hints, reference=reference,
                                reference_strength=reference_strength)

    def run(self, photo: PreparedPhoto, settings: Settings = Settings(), hints=None,
            logits: torch.Tensor | None = None, reference=None, reference_strength: float = 1.0) -> PhotoResult:
        """The photo colourized at its (prepared) size: logits at the working size, the decoded colour on
        the photo's own lightness, the class map on demand. ``hints``: [(x, y, (r, g, b)), ...] in the
        upload's own pixel coordinates (hint models only; colorizer.hints.HintError when bad). ``logits``:
        this model's from an earlier run on the same photo, settings and hints, decoded again without a run.
        ``reference``: a photo whose palette the colours follow, ``reference_strength`` of the way (0-1)."""
        return colourize_prepared(self.model, self.palette, photo, settings.work_size, settings.decoding,
                                  settings.temperature, hints, logits, reference=reference,
                                  reference_strength=reference_strength)

    def class_map(self, logits: torch.Tensor) -> np.ndarray:
        """NC x h x w logits -> h x w x 3 uint8: each pixel's most likely class in its own colour."""
        return classes_to_rgb(logits.argmax(dim=0).numpy(), self.palette)

    def save_png(self, logits: torch.Tensor, photo: PreparedPhoto, path, settings: Settings = Settings()) -> Path:
        """``logits`` (from ``logits`` on the shown copy) laid onto ``photo``'s lightness, written strip by strip."""
        return save_colour_png(self.model, self.palette, logits, photo, path, settings.decoding, settings.temperature)

    def run_small(self, rgb: np.ndarray, settings: Settings = Settings()) -> SmallResult:
        """An H x W x 3 uint8 image colourized at its own size (the model sees it whole)."""
        x = model_input(self.model, rgb)
        logits = predict_logits(self.model, x)
        return SmallResult(decode_rgb(self.model, self.palette, logits, x, settings.decoding, settings.temperature),
                           logits)

    def scores(self, label: str, logits: torch.Tensor, true_rgb: np.ndarray | None = None) -> Scores:
        """What the pixel inspector reads of these logits; ``true_rgb`` (at the logits' size) gives true classes."""
        return model_scores(label, self.model, self.palette, logits, true_rgb)

    def own_reference(self, reference: torch.Tensor | None) -> torch.Tensor | None:
        """The palette this model is scored with: its own (handout models), else ``reference`` (a handout palette)."""
        return reference if self.is_lab else self.palette


def accuracy(colour: np.ndarray, true_rgb: np.ndarray, reference: torch.Tensor) -> float:
    """The handout's metric for any model: the shown colours and the truth each mapped to the nearest colour
    of the ``reference`` palette; the share of pixels that agree."""
    return palette_accuracy(torch.from_numpy(colour), torch.from_numpy(true_rgb), reference)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, device: str) -> Colourizer:
    return Colourizer(*load_checkpoint(path, device))


def colourize_photo(model: nn.Module, palette: torch.Tensor, image, long_side: int = DEFAULT_WORK_SIZE,
                    decoding: str = DEFAULT_DECODING, temperature: float = DEFAULT_TEMPERATURE,
                    max_side: int | None = None) -> PhotoResult:
    """Run the model on a downscaled copy, then lay the predicted colour onto the original's
    full-resolution lightness, so the output is as large and sharp as the input (or, with ``max_side``,
    shrunk to that long side). Palette models: the decoded RGB's chroma (YCbCr Cb, Cr) on the original's
    Y. Lab models: the decoded ab, upsampled, with the original's L. Decodes as the tab does unless told
    otherwise. Several models on one upload: prepare_photo once, then Colourizer.run per model."""
    settings = Settings(decoding, temperature, long_side)
    return Colourizer(model, palette).run(prepare_photo(image, max_side), settings)
