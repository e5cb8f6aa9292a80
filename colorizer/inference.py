"""Colourizing one grey image, or a photo of any size at full resolution: the steps. They take the decoding
and working size from their caller; colorizer.pipeline (Colourizer, Settings) puts them together with the
one set of defaults."""
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from pixelwise.device import one_torch_thread
from pixelwise.precision import autocast
from pixelwise.images import DISPLAY_LONG_SIDE, has_colour, open_image, shrink, to_rgb

from . import hints as hint_module, lab, reference as reference_module, regions
from .palette import labels_to_rgb, nearest_colour_labels

# The defaults of every colourization (the tab, the API, the scripts; colorizer.pipeline.Settings reads them).
DEFAULT_DECODING = "annealed"  # Zhang et al.'s annealed mean
DEFAULT_TEMPERATURE = lab.DEFAULT_TEMPERATURE  # T of the annealed mean (0.38, Zhang's)
DEFAULT_WORK_SIZE = 96  # long side (px) of the copy of a photo the models run on


def grey_of(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> H x W float in [0, 1]: the mean of R, G and B, as in training."""
    return rgb.astype(np.float32).mean(axis=2) / 255.0


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """H x W grey (float in [0, 1] or uint8) -> H x W x 3 uint8, for showing it beside colour images."""
    grey = np.asarray(grey)
    grey = grey if grey.dtype == np.uint8 else (grey * 255).round().clip(0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def is_lab(model: nn.Module) -> bool:
    """Lab models take lightness L / 100 and predict ab classes; the handout's take mean-RGB grey and predict palette colours."""
    return getattr(model, "colour_space", "rgb") == "lab"


def model_input(model: nn.Module, rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> the H x W float input in [0, 1] that this model was trained on."""
    if is_lab(model):
        return (lab.rgb_to_lab(torch.from_numpy(np.array(rgb)))[..., 0] / 100).numpy()  # a copy: inputs may be read-only
    return grey_of(rgb)


def takes_hints(model: nn.Module) -> bool:
    """A hint model reads L plus the three hint planes of colorizer.hints."""
    return getattr(getattr(model, "config", None), "in_channels", 1) == 1 + hint_module.HINT_PLANES


@torch.no_grad()
def predict_logits(model: nn.Module, grey: np.ndarray | torch.Tensor, hint_planes: torch.Tensor | None = None,
                   precision: str = "fp32") -> torch.Tensor:
    """H x W input in [0, 1] (or uint8) -> NC x H x W float logits on the CPU. Any H, W: edges are padded
    (the input replicated, hint planes with zeros) to the multiple of the model's poolings. Hint models also read ``hint_planes``
    (3 x H x W, colorizer.hints; None: no hint, automatic colourization). ``precision``: a resolved one
    (pixelwise/precision.py)."""
    grey = grey if isinstance(grey, torch.Tensor) else torch.from_numpy(np.array(grey))  # a copy: inputs may be read-only
    grey = grey.float() / 255.0 if grey.dtype == torch.uint8 else grey.float()
    height, width = grey.shape
    multiple = getattr(model, "size_multiple", 4)
    pad_h, pad_w = -height % multiple, -width % multiple
    x = F.pad(grey[None, None], (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else grey[None, None]
    if takes_hints(model):  # hint planes padded with zeros: a hint on the edge must not grow into the padding
        planes = hint_planes if hint_planes is not None else torch.zeros(hint_module.HINT_PLANES, height, width)
        x = torch.cat([x, F.pad(planes[None].float(), (0, pad_w, 0, pad_h))], dim=1)
    device = next(model.parameters()).device
    was_training = model.training
    if was_training:  # a cached model is in eval mode already: two walks of its ~100 modules saved per call
        model.eval()
    with autocast(precision, device):
        logits = model(x.to(device))[0, :, :height, :width].float().cpu()
    if was_training:
        model.train()
    return logits


def predict_classes(model: nn.Module, grey: np.ndarray | torch.Tensor) -> np.ndarray:
    """H x W grey in [0, 1] (or uint8) -> H x W colour-class indices (the mode of each pixel's distribution)."""
    return predict_logits(model, grey).argmax(dim=0).numpy()


def decode_rgb(model: nn.Module, palette: torch.Tensor, logits: torch.Tensor, grey: np.ndarray | None,
               decoding: str, temperature: float = lab.DEFAULT_TEMPERATURE) -> np.ndarray:
    """NC x H x W logits -> H x W x 3 uint8. Palette models: the decoded mix of palette colours (mode = the
    handout's argmax). Lab models: the decoded ab with the input's own lightness ``grey`` (L / 100)."""
    if is_lab(model):
        ab = lab.decode_colours(logits[None], model.ab_centres, decoding, temperature)[0]
        lab_image = torch.cat([torch.from_numpy(np.asarray(grey, np.float32))[None] * 100, ab]).permute(1, 2, 0)
        return lab.lab_to_uint8(lab_image).numpy()
    rgb = lab.decode_colours(logits[None], palette.cpu().float(), decoding, temperature)[0].permute(1, 2, 0)
    return (rgb * 255).round().clamp(0, 255).to(torch.uint8).numpy()


def classes_to_rgb(classes: np.ndarray, palette: torch.Tensor) -> np.ndarray:
    """H x W class indices -> H x W x 3 uint8 palette colours."""
    return labels_to_rgb(torch.from_numpy(classes), palette.cpu()).numpy()


def colourize(model: nn.Module, palette: torch.Tensor, grey: np.ndarray | torch.Tensor) -> np.ndarray:
    """Grey image (H x W, [0, 1] or uint8) -> H x W x 3 uint8 RGB, each pixel its predicted palette colour.
    (predict_classes gives the class indices themselves.)"""
    return classes_to_rgb(predict_classes(model, grey), palette)


def pixel_accuracy(classes: np.ndarray, true_rgb: np.ndarray, palette: torch.Tensor) -> float:
    """Fraction of pixels whose predicted class is the nearest palette colour of the true pixel."""
    truth = nearest_colour_labels(torch.from_numpy(np.ascontiguousarray(true_rgb)), palette.cpu()).numpy()
    return float((classes == truth).mean())


STRIP_PIXELS = 1 << 17  # full-resolution colour is composed this many pixels at a time: bounded memory


@dataclass
class PhotoResult:
    grey: np.ndarray  # H x W x 3 uint8, the grey the model saw, at the photo's (prepared) size; shared, read-only
    colour: np.ndarray  # H x W x 3 uint8: predicted colour on the original's own lightness
    original: np.ndarray | None  # H x W x 3 uint8, or None when the input had no colour
    work_size: tuple[int, int]  # (width, height) the model ran at
    logits: torch.Tensor | None = None  # NC x h x w at the working size: the per-pixel distributions behind it
    full_size: tuple[int, int] | None = None  # (width, height) of the upload, when the images above are smaller
    palette: torch.Tensor | None = None  # NC x 3: the class colours class_map draws

    @functools.cached_property
    def class_map(self) -> np.ndarray:
        """H x W x 3 uint8: the raw class colours (the mode), upscaled without smoothing; made when asked for."""
        classes = classes_to_rgb(self.logits.argmax(dim=0).numpy(), self.palette)
        return _resize(classes, self.grey.shape[1::-1], Image.Resampling.NEAREST)


@dataclass
class PreparedPhoto:
    """One upload decoded once, and what every model needs from it computed once (lazily): the grey
    and luminance planes, Lab lightness, and the small working-size copies the models run on."""
    rgb: np.ndarray  # H x W x 3 uint8 at the size results are made: the upload's own, or capped for display
    full_size: tuple[int, int]  # (width, height) of the upload itself
    _planes: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self.size = (self.rgb.shape[1], self.rgb.shape[0])  # (width, height) of the planes below

    def keep_only(self, *planes: str) -> None:
        """Compute ``planes`` ('luma', 'lightness') and let go of the RGB: a full-size download needs no more."""
        for plane in planes:
            getattr(self, plane)
        self.rgb = None

    def _plane(self, key, make):
        if key not in self._planes:
            self._planes[key] = make()
        return self._planes[key]

    @property
    def grey(self) -> np.ndarray:
        """H x W uint8 mean of R, G and B (the handout models' grey), in C via PIL's matrix convert."""
        third = 1 / 3
        return self._plane("grey", lambda: np.asarray(Image.fromarray(self.rgb).convert("L", (third, third, third, 0))))

    @property
    def luma(self) -> np.ndarray:
        """H x W uint8 luminance Y of YCbCr: what palette models' colours are laid onto."""
        return self._plane("luma", lambda: np.asarray(Image.fromarray(self.rgb).convert("YCbCr").getchannel(0)))

    @property
    def lightness(self) -> np.ndarray:
        """H x W float16 Lab L in [0, 100]: what Lab models' ab is laid onto."""
        return self._plane("lightness", lambda: lightness_of_rgb(self.rgb))  # float16: half the memory, L within 0.03

    @property
    def grey_rgb(self) -> np.ndarray:
        """The grey as H x W x 3 uint8, for showing; one copy shared by every model's result."""
        return self._plane("grey_rgb", lambda: grey_to_rgb(self.grey))

    @property
    def has_colour(self) -> bool:
        return self._plane("has_colour", lambda: has_colour(self.rgb))

    def small(self, work: tuple[int, int]) -> np.ndarray:
        """The working-size copy the models see (one per size, shared by every model)."""
        return self._plane(("small", work), lambda: _resize(self.rgb, work, Image.Resampling.BILINEAR))


def prepare_photo(image: "str | Path | bytes | Image.Image | np.ndarray", max_side: int | None = DISPLAY_LONG_SIDE,
                  name: str | None = None) -> PreparedPhoto:
    """Decode an upload once (a file, bytes, a PIL image or an array), shrunk so its long side is at most
    ``max_side`` (None: full size). Raises pixelwise.images.ImageError naming the file as ``name``."""
    if isinstance(image, np.ndarray):
        rgb = to_rgb(image)
        full = rgb.shape[1::-1]
        rgb = rgb if not max_side or max(full) <= max_side else to_rgb(shrink(Image.fromarray(rgb), max_side))
        return PreparedPhoto(rgb, tuple(full))
    if not isinstance(image, Image.Image):
        image = open_image(image, name, max_side)
    full = getattr(image, "full_size", image.size)  # open_image notes it: a JPEG may be decoded smaller
    return PreparedPhoto(to_rgb(shrink(image, max_side)), tuple(full))


Y_SCALE = 65532  # XYZ Y in 16-bit fixed point: three rounded channel terms never pass 65535


@functools.cache
def _lightness_tables() -> tuple[list[np.ndarray], np.ndarray]:
    """Lab L depends on XYZ Y alone, and Y is a sum of one term per channel: three 256-entry tables of
    16-bit Y terms, and one 65536-entry table from Y to L (lab.rgb_to_lab's formulas, in float64)."""
    levels = torch.arange(256, dtype=torch.float64) / 255
    linear = torch.where(levels > 0.04045, ((levels + 0.055) / 1.055) ** 2.4, levels / 12.92)
    weights = lab._SRGB_TO_XYZ[1].double() / float(lab._WHITE[1])
    terms = [(linear * weight * Y_SCALE).round().numpy().astype(np.uint16) for weight in weights]
    y = torch.arange(65536, dtype=torch.float64) / Y_SCALE
    f = torch.where(y > 0.008856, y.clamp(min=1e-12) ** (1 / 3), 7.787 * y + 16 / 116)
    return terms, (116 * f - 16).float().numpy()


def lightness_of_rgb(rgb: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8 -> H x W float16 Lab L (as lab.rgb_to_lab, to within 0.05), through lookup tables
    a strip at a time: no float copy of the whole image."""
    terms, to_lightness = _lightness_tables()
    out = np.empty(rgb.shape[:2], np.float16)
    for top, bottom in _strips(*rgb.shape[:2]):
        strip = rgb[top:bottom]
        y = terms[0][strip[..., 0]]
        y += terms[1][strip[..., 1]]
        y += terms[2][strip[..., 2]]
        out[top:bottom] = to_lightness[y]
    return out


def _strips(height: int, width: int):
    rows = max(1, STRIP_PIXELS // max(1, width))
    for top in range(0, height, rows):
        yield top, min(height, top + rows)


def _upsampled_rows(small: Image.Image, size: tuple[int, int], top: int, bottom: int, resample) -> np.ndarray:
    """Rows top..bottom of ``small`` resized to ``size``, without making the rest: PIL's box reads the
    matching band of the source (its filter still sees the neighbours), so strips join seamlessly."""
    scale = small.height / size[1]
    band = small.resize((size[0], bottom - top), resample, box=(0, top * scale, small.width, bottom * scale))
    return np.asarray(band)


def colour_strips(model: nn.Module, palette: torch.Tensor, logits: torch.Tensor, photo: PreparedPhoto,
                  decoding: str, temperature: float = lab.DEFAULT_TEMPERATURE):
    """Yield (top row, rows x W x 3 uint8): the decoded colour of working-size ``logits`` laid onto
    ``photo``'s own lightness, a strip at a time. Palette models: the decoded RGB's chroma (YCbCr Cb, Cr,
    upsampled bicubic) on the photo's Y. Lab models: the decoded ab (upsampled bilinear) with its L."""
    width, height = photo.size
    if is_lab(model):
        ab = lab.decode_colours(logits[None], model.ab_centres.float(), decoding, temperature)[0].numpy()
        bands = [Image.fromarray(np.ascontiguousarray(channel), "F") for channel in ab]
        lightness = photo.lightness
        for top, bottom in _strips(height, width):
            a, b = (_upsampled_rows(band, (width, height), top, bottom, Image.Resampling.BILINEAR) for band in bands)
            strip = np.stack([lightness[top:bottom].astype(np.float32), a, b], axis=-1)
            yield top, lab.lab_to_uint8(torch.from_numpy(strip)).numpy()
        return
    small = decode_rgb(model, palette, logits, None, decoding, temperature)
    _, cb, cr = Image.fromarray(small).convert("YCbCr").split()
    luma = photo.luma
    for top, bottom in _strips(height, width):
        chroma = [Image.fromarray(_upsampled_rows(band, (width, height), top, bottom, Image.Resampling.BICUBIC))
                  for band in (cb, cr)]
        yield top, np.asarray(Image.merge("YCbCr", (Image.fromarray(luma[top:bottom]), *chroma)).convert("RGB"))


def compose_colour(model: nn.Module, palette: torch.Tensor, logits: torch.Tensor, photo: PreparedPhoto,
                   decoding: str, temperature: float = lab.DEFAULT_TEMPERATURE) -> np.ndarray:
    """colour_strips put together: H x W x 3 uint8 at the photo's (prepared) size."""
    out = np.empty((photo.size[1], photo.size[0], 3), np.uint8)
    for top, strip in colour_strips(model, palette, logits, photo, decoding, temperature):
        out[top:top + len(strip)] = strip
    return out


def save_colour_png(model: nn.Module, palette: torch.Tensor, logits: torch.Tensor, photo: PreparedPhoto, path,
                    decoding: str, temperature: float = lab.DEFAULT_TEMPERATURE) -> Path:
    """The full-size colour result as a PNG (fast compression), pasted strip by strip into the one image
    PIL encodes: no second full-size copy. ``logits`` from the display-size photo, so it matches what was shown."""
    image = Image.new("RGB", photo.size)
    for top, strip in colour_strips(model, palette, logits, photo, decoding, temperature):
        image.paste(Image.fromarray(strip), (0, top))
    image.save(path, format="PNG", compress_level=1)
    return Path(path)


def long_side_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Shrink (never enlarge) so the long side is at most ``long_side``; both sides a multiple of 4, at least 4.
    (The segmenter's rule is the other way round: segmenter.inference.short_side_size.)"""
    scale = min(1.0, long_side / max(width, height))
    return tuple(max(4, int(round(side * scale / 4)) * 4) for side in (width, height))


def _resize(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, resample)) if array.shape[1::-1] != size else array


def photo_logits(model: nn.Module, photo: PreparedPhoto, long_side: int = DEFAULT_WORK_SIZE,
                 hints=None, hint_reach="point", reference=None,
                 reference_strength: float = 1.0) -> tuple[torch.Tensor, tuple[int, int]]:
    """The model's NC x h x w logits on the photo's working-size copy, and that (width, height). ``hints``:
    (x, y, (r, g, b)) in the upload's own pixel coordinates after its EXIF rotation (or colorizer.hints.Hint /
    dicts), hint models only; ``hint_reach`` ("point", "object", "larger" or a number) for hints naming none.
    ``reference``: a photo whose palette the colours follow (reference_logits)."""
    work = long_side_size(*photo.size, long_side)
    grey = model_input(model, photo.small(work))

    def run(net: nn.Module) -> torch.Tensor:
        if not hints:
            return predict_logits(net, grey)
        if not takes_hints(model):
            raise hint_module.HintError("this model takes no hints; choose the hint model")
        checked = hint_module.checked_hints(hints, photo.full_size, hint_reach)
        return steered_logits(net, grey, checked, photo.full_size, work)[0]

    if reference is None:
        return run(model), work
    return reference_logits(model, run, reference, reference_strength), work


def reference_logits(model: nn.Module, run: Callable, reference, strength: float = 1.0) -> torch.Tensor:
    """``run(model)``'s logits with a reference photo's palette as the global hint, ``strength`` of the way from
    no reference (0) to the full reference (1): the two runs' logits interpolated, so that 0 is exactly the
    automatic colour and 1 exactly the reference's (a palette fed at part strength was never seen in training);
    it costs one more pass on the small working copy. Raises colorizer.reference.ReferencePhotoError."""
    vector = reference_module.reference_hint(model, reference, strength)
    with_reference = run(GlobalHinted(model, vector))
    if strength >= 1.0:
        return with_reference
    return torch.lerp(run(model), with_reference, float(strength))


class GlobalHinted(nn.Module):
    """A model with the global branch given one global hint in every pass (hints may run it more than once)."""

    def __init__(self, model: nn.Module, vector: torch.Tensor):
        super().__init__()
        self.model, self.vector = model, vector
        self.config, self.size_multiple = model.config, getattr(model, "size_multiple", 4)  # what predict_logits reads
        self.train(model.training)  # never switches the shared model's mode: predict_logits toggles only if training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.vector[None].to(x.device).expand(len(x), -1))


OBJECT_MODES = ("cover", "confine", "both", "pull")  # how an object-reach hint enters: click_results.py measures them
OBJECT_MODE = "pull"  # measured best on train photos (docs/hints.md, "Steering the object")
PULL_SIGMA = 20.0  # "pull": the region's distributions times a Gaussian of this width (ab units) around the hint
AGREEMENT_POWER = 2.0  # "pull": a region pixel moves by (its agreement with the hint / the click's) ** this; 0: off


def steered_logits(model: nn.Module, grey: np.ndarray, hints: list, size: tuple[int, int], work: tuple[int, int],
                   base: torch.Tensor | None = None, mode: str = OBJECT_MODE,
                   region_cache: dict | None = None) -> tuple[torch.Tensor, np.ndarray | None]:
    """Logits with checked ``hints`` (colorizer.hints.Hint) on the working-size input ``grey`` (L / 100), and
    the h x w mask of the regions that object-reach hints cover (None when every hint is a point: today's
    SIGGRAPH 2017 patches, one model run). A hint with reach finds its region (colorizer.regions) on the
    lightness and the model's features (region_costs: one zero-hint run, which also gives ``base`` when it is
    not given). ``mode``: "confine" (the point hints' change
    kept inside the regions: hinted and zero-hint distributions mixed by the soft region mask); "pull"
    (confine, the hinted distributions also multiplied by a Gaussian around the ab of the hint whose region
    owns the pixel, the geodesically nearest: a later click inside an earlier region takes its own part; and
    each pixel's change scaled by agreement_gate, so what the model is sure is another colour stays);
    "cover" (the hint planes cover the region); "both". A point hint beside them is not confined.
    ``region_cache``: a dict kept by the caller between calls on one photo (its regions are found once)."""
    if all(hint.reach == 0 for hint in hints):
        return predict_logits(model, grey, hint_module.hint_planes(hints, size, work)), None
    cache = {} if region_cache is None else region_cache
    if "costs" not in cache:
        base, cache["costs"] = region_costs(model, grey, base)
    base = predict_logits(model, grey) if base is None else base
    base_probabilities = torch.softmax(base, dim=0)
    distances = hint_distances(hints, size, work, cache)
    masks = [None if d is None else regions.soft_mask(d, h.reach) for d, h in zip(distances, hints)]
    union = np.max([mask for mask in masks if mask is not None], axis=0)
    planes = hint_module.hint_planes(hints, size, work, regions=masks if mode in ("cover", "both") else None)
    hinted = predict_logits(model, grey, planes)
    if mode == "cover" or any(mask is None for mask in masks):
        return hinted, union
    weight = torch.from_numpy(union)[None]
    if mode == "pull":  # each region's hinted distributions times a Gaussian around its own hint's ab
        owners = torch.from_numpy(regions.nearest_weights(distances, [hint.reach for hint in hints]) > 0).float()
        centres = unwrapped(model).ab_centres.float()
        exponents = pull_exponents(centres, hint_module.hint_ab(hints))
        hinted = hinted - pull_penalty(exponents, owners)
        if AGREEMENT_POWER:
            pixels = [hint_module.hint_pixels(hint, size, work) for hint in hints]
            weight = weight * agreement_gate(base_probabilities, exponents, owners, pixels)[None]
    hinted = torch.softmax(hinted, dim=0)
    return (weight * hinted + (1 - weight) * base_probabilities).clamp(min=1e-12).log(), union


def unwrapped(model: nn.Module) -> nn.Module:
    """The model itself, when a GlobalHinted (a reference photo's palette) wraps it."""
    return getattr(model, "model", model)


def pull_exponents(centres: torch.Tensor, wanted: torch.Tensor) -> torch.Tensor:
    """Q x N: -log of "pull"'s Gaussian (PULL_SIGMA) around each hint's ab ``wanted`` at each ab class centre."""
    return torch.cdist(centres, wanted.float()) ** 2 / (2 * PULL_SIGMA ** 2)


def pull_penalty(exponents: torch.Tensor, owners: torch.Tensor) -> torch.Tensor:
    """Q x h x w: what "pull" takes off the log-probabilities, the Gaussian (pull_exponents) around the ab of the
    hint that owns each pixel (``owners``: N x h x w, 1 where a hint's region owns it), so a pixel keeps the
    modes of its distribution that agree with its hint."""
    return torch.einsum("qn,nhw->qhw", exponents, owners)


def agreement_gate(probabilities: torch.Tensor, exponents: torch.Tensor, owners: torch.Tensor,
                   pixels: list) -> torch.Tensor:
    """h x w in [0, 1]: how far "pull" may move each pixel: the zero-hint probability mass near its owning
    hint's ab (the Gaussian of pull_exponents), relative to that mass at the hint's own pixels (the least of
    them along a stroke: every pixel it crosses moves fully), to AGREEMENT_POWER. A pixel the model sees as a
    different thing from the clicked one (a leaf beside a pink petal) keeps its colour though the region
    reached it; 1 where no hint owns a pixel (``owners``: at most one hint per pixel, regions.nearest_weights)."""
    agreement = torch.einsum("qhw,qn->nhw", probabilities.float(), torch.exp(-exponents))
    at_click = torch.stack([agreement[index, [row for _, row in own], [column for column, _ in own]].min()
                            for index, own in enumerate(pixels)])
    gate = (agreement / at_click.clamp(min=1e-12)[:, None, None]).clamp(max=1) ** AGREEMENT_POWER
    return torch.where(owners.sum(0) > 0, (gate * owners).sum(0), 1.0)


def hint_distances(hints: list, size, work, cache: dict) -> list[np.ndarray | None]:
    """Each hint's h x w geodesic distance from its pixels over ``cache["costs"]`` (inf beyond its reach; None
    for a point hint), each found once per photo and kept in ``cache``."""
    keys = [(tuple(hint.points), hint.reach) for hint in hints]
    missing = [(key, hint) for key, hint in zip(keys, hints) if hint.reach > 0 and key not in cache]
    if missing:  # all new regions in one pass
        found = regions.geodesic_distances(cache["costs"], [hint_module.hint_pixels(h, size, work) for _, h in missing],
                                           [regions.THRESHOLD * h.reach for _, h in missing])
        cache.update({key: distance for (key, _), distance in zip(missing, found)})
    return [cache[key] if hint.reach > 0 else None for key, hint in zip(keys, hints)]


def region_costs(model: nn.Module, grey: np.ndarray, base: torch.Tensor | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """The zero-hint logits (``base`` when given) and the step costs (colorizer.regions.step_costs) that an
    object hint's region is found on: the lightness and the model's features, from one zero-hint run (the
    class distributions for a model without them). The tab's region outline finds it the same way."""
    logits, features = logits_and_features(model, grey)
    base = logits if base is None else base
    costs = regions.step_costs(np.asarray(grey, np.float64) * 100,
                               torch.softmax(base, dim=0) if features is None else features)
    return base, costs


def logits_and_features(model: nn.Module, grey: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The zero-hint logits and, from the same run, C x h x w features the regions are found on: the last
    decoder block's output (after its ReLU, each pixel scaled to sum 1, so regions.step_costs reads it as it
    reads distributions); None for a model without one. Its 32 numbers per pixel separated objects better
    than the 218 class probabilities: on 12 flower *train* photos one click's region covered more of the
    flower (docs/hints.md)."""
    blocks = getattr(unwrapped(model), "up", None)
    if not blocks:
        return predict_logits(model, grey), None
    caught = []
    hook = blocks[-1].register_forward_hook(lambda module, inputs, output: caught.append(output))
    try:
        logits = predict_logits(model, grey)
    finally:
        hook.remove()
    height, width = np.shape(grey)
    features = caught[0][0, :, :height, :width].float().clamp(min=0)
    return logits, features / features.sum(0, keepdim=True).clamp(min=1e-6)


def colourize_prepared(model: nn.Module, palette: torch.Tensor, photo: PreparedPhoto,
                       long_side: int = DEFAULT_WORK_SIZE, decoding: str = DEFAULT_DECODING,
                       temperature: float = DEFAULT_TEMPERATURE, hints=None,
                       logits: torch.Tensor | None = None, hint_reach="point", reference=None,
                       reference_strength: float = 1.0) -> PhotoResult:
    """One model on a prepared photo: logits at the working size, colour on the photo's own lightness
    (colorizer.pipeline.Colourizer.run is this with its Settings).
    ``hints``: [(x, y, (r, g, b)), ...] in the upload's own pixel coordinates after its EXIF rotation (hint
    models; HintError if bad); dicts may also be strokes ({"stroke": [[x, y], ...], "colour"}) and name their
    own "reach". ``hint_reach``: for the hints that name none: "point" (the pixel's small patch, as SIGGRAPH
    2017), "object" (the region the pixel belongs to, and nothing outside it), "larger" or a number 0-4.
    ``logits``: this model's logits on this photo from before (same working size and hints): decoded
    again, the model is not run (a decoding change redraws without it).
    ``reference``: a PreparedPhoto or RGB array whose palette the colours follow, ``reference_strength`` of the
    way (0-1; models with the global branch, colorizer.reference; ReferencePhotoError if unusable)."""
    with one_torch_thread():
        if logits is None:
            logits, work = photo_logits(model, photo, long_side, hints, hint_reach, reference, reference_strength)
        else:
            work = (logits.shape[-1], logits.shape[-2])
        colour = compose_colour(model, palette, logits, photo, decoding, temperature)
    return PhotoResult(
        grey=photo.grey_rgb, colour=colour, original=photo.rgb if photo.has_colour else None, work_size=work,
        logits=logits, full_size=photo.full_size if photo.full_size != photo.size else None, palette=palette.cpu(),
    )
