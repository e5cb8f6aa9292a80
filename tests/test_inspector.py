"""The pixel inspector, uncertainty maps and per-layer pictures (no data, no browser: seeded random
models saved as checkpoints, hand-made models whose logits are known)."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import gradio as gr
from colorizer import lab
from colorizer.checkpoint import save_checkpoint
from colorizer.inference import predict_logits
from colorizer.models import ModelConfig, build_model
from inside.anatomy import measure
from inside.layers import blocks, layer_pictures
from pixelwise import settings
from pixelwise.perpixel import (UNCERTAINTY_KINDS, Grid, OutsideImage, Scores, Snapshot, entropy_bits, source_index,
                                 uncertainty)
from pixelwise.pictures import image_grid, uncertainty_picture
from segmenter.data import image_path
from tests.helpers import requires_cifar, requires_flowers
from ui import inspector
from ui.colourize_tab import colourize_upload_panels

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, str]:
    """{column: checkpoint name}: a seeded random CNN and UNet with a random 24-colour palette, and in the
    third column a Lab Deep UNet with 30 ab classes; PIXELWISE_CHECKPOINTS points at them."""
    folder = tmp_path_factory.mktemp("inspector")
    for arch in ("cnn", "unet"):
        torch.manual_seed(1)
        model = build_model(arch, ModelConfig(3, 8, 24))
        save_checkpoint(folder / f"{arch}.pt", model, torch.rand(24, 3), {})
    torch.manual_seed(2)
    bins = lab.AbBins(torch.rand(30, 2) * 160 - 80, "kmeans")
    model = build_model("deep_unet", ModelConfig(3, 8, len(bins), depth=2))
    save_checkpoint(folder / "lab.pt", model, bins.display_palette(), {},
                    {"colour_space": "lab", "ab_centres": bins.centres})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXELWISE_CHECKPOINTS", str(folder))
        patch.delenv("PIXELWISE_HF_REPO", raising=False)
        yield {"cnn": "cnn.pt", "unet": "unet.pt", "beyond": "lab.pt"}


def upload_panels(path, checkpoints, class_map=False, work_size=96):
    return colourize_upload_panels(path, checkpoints, class_map=class_map, work_size=work_size)


def photo(tmp_path, size=(203, 157)) -> str:
    """A colourful gradient photo of an awkward size (its working size is not a simple fraction of it)."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    rgb = np.stack([255 * x / width, 255 * y / height, 128 + 100 * np.sin(x / 17)], axis=2)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(path)
    return str(path)


def select(x, y) -> gr.SelectData:
    return gr.SelectData(None, {"index": [x, y], "value": None, "selected": True})


def test_distributions_sum_to_one_and_argmax_is_the_class_map_colour(checkpoints, tmp_path):
    panels = upload_panels(photo(tmp_path), checkpoints, class_map=True, work_size=64)
    snapshot = panels.snapshot()
    assert set(snapshot.models) == {"cnn", "unet", "beyond"}  # every model column, whatever its classes
    rng = np.random.default_rng(0)
    for x, y in [(0, 0), (202, 156), *rng.integers((0, 0), (203, 157), size=(40, 2))]:
        for report in snapshot.inspect(x, y):
            assert report.probabilities.sum() == pytest.approx(1, abs=1e-12)
            assert report.chosen == int(np.argmax(report.probabilities))
            shown = panels.models[report.model].image[y, x]  # the class map at the clicked pixel
            assert report.hex(report.chosen) == "#%02x%02x%02x" % tuple(shown), (report.model, x, y)
            top, rest, count = report.top()
            assert len(top) == 10 and count == len(report.probabilities) - 10
            assert sum(p for _, p in top) + rest == pytest.approx(1)
            assert [p for _, p in top] == sorted((p for _, p in top), reverse=True)
            assert 0 <= report.entropy_bits <= math.log2(len(report.probabilities)) + 1e-6
            assert report.truth is not None  # the upload had colour


def test_true_class_is_the_nearest_palette_colour_or_ab_bin(checkpoints, tmp_path):
    panels = upload_panels(photo(tmp_path), checkpoints, work_size=64)
    snapshot = panels.snapshot()
    small = np.asarray(Image.open(photo(tmp_path)).resize(snapshot.models["cnn"].size, Image.Resampling.BILINEAR))
    folder = settings.checkpoint_dir()
    cnn_palette = torch.load(folder / checkpoints["cnn"], weights_only=True)["palette"]
    lab_centres = torch.load(folder / checkpoints["beyond"], weights_only=True)["ab_centres"]
    for report in snapshot.inspect(100, 80):
        pixel = torch.from_numpy(small[report.y, report.x].astype(np.float32) / 255)
        if report.model == "cnn":
            assert report.truth == int(((cnn_palette - pixel) ** 2).sum(1).argmin())
        if report.model == "beyond":
            ab = lab.rgb_to_lab(pixel)[1:]
            assert report.truth == int(((lab_centres - ab) ** 2).sum(1).argmin())


def test_a_grey_upload_has_no_true_class(checkpoints, tmp_path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.tile(np.arange(0, 250, 2, dtype=np.uint8), (90, 1))).save(path)
    for report in upload_panels(str(path), checkpoints).snapshot().inspect(10, 10):
        assert report.truth is None
        assert "true" not in inspector.model_chart(report)


def test_the_true_row_says_true_colour_and_its_palette_class_or_the_true_class_name():
    """Issue 31: "◀ true (#13)" said nothing to a newcomer (and #13 was the rank). A colourizer's row says
    "true colour (palette class N)", a segmenter's "true class (flower)", the head gives p and rank; no truth, no row."""
    from pixelwise.perpixel import PixelReport

    p = np.full(24, 0.01)
    p[3], p[13] = 0.5, 0.27  # class 13: the 2nd most likely
    colours = np.zeros((24, 3), np.uint8)
    colour = PixelReport("unet", "UNet", 0, 1, 2, p, 3, 2.0, colours, 13)
    chart = inspector.model_chart(colour)
    assert "◀ true colour (palette class 13)" in chart and "2nd most likely" in chart and "(#" not in chart
    flower = PixelReport("flower", "Flower", 0, 1, 2, np.array([0.3, 0.7]), 1, 0.9, colours[:2], 0,
                         ("background", "flower"))
    assert "◀ true class (background)" in inspector.model_chart(flower)
    no_truth = PixelReport("flower", "Flower", 0, 1, 2, np.array([0.3, 0.7]), 1, 0.9, colours[:2], None,
                           ("background", "flower"))
    assert "true" not in inspector.model_chart(no_truth)  # an upload has no truth mask: no row, no error


def test_clicks_outside_the_picture_or_on_a_gap_give_a_clear_message(checkpoints, tmp_path):
    snapshot = upload_panels(photo(tmp_path), checkpoints).snapshot()
    for x, y in [(-1, 5), (203, 5), (5, 157), (1000, 1000)]:
        with pytest.raises(OutsideImage, match="outside"):
            snapshot.inspect(x, y)
        assert "outside" in inspector.on_select(snapshot, select(x, y))
        assert "outside" in inspector.inspect_pixel_json(snapshot, x, y)["error"]
    assert "Nothing to inspect" in inspector.on_select(None, select(3, 3))
    # Train live's strips: 3 pictures per row, 32 x 32 shown 3x, 3 px white gaps between them
    strip = image_grid([[np.zeros((32, 32, 3), np.uint8)] * 3] * 2)
    grid = Grid(rows=2, cols=3, cell=(96, 96), gap=3)
    assert strip.shape[:2] == (2 * 96 + 3, 3 * 96 + 6)
    assert (strip[96:99] == 255).all() and (strip[:, 96:99] == 255).all()
    with pytest.raises(OutsideImage, match="gap"):
        grid.locate(97, 10)
    with pytest.raises(OutsideImage, match="gap"):
        grid.locate(10, 98)
    assert grid.locate(99 + 95, 99 + 4) == (1, 95, 4)


def test_the_chart_and_the_api_answer_for_a_click(checkpoints, tmp_path):
    snapshot = upload_panels(photo(tmp_path), checkpoints).snapshot()
    chart = inspector.on_select(snapshot, select(50, 60))
    assert chart.count('class="pw-model"') == 3 and "entropy" in chart and "rest (" in chart and "◀ true" in chart
    answer = inspector.inspect_pixel_json(snapshot, 50, 60)
    json.dumps(answer)  # plain JSON
    assert [model["label"] for model in answer["models"]] == ["CNN (cnn.pt)", "UNet (unet.pt)", "Beyond the handout (lab.pt)"]
    for model in answer["models"]:
        assert sum(entry["p"] for entry in model["classes"]) == pytest.approx(1, abs=1e-4)
        assert model["rest"] == {"p": 0.0, "classes": 0}  # every class listed when top is not given
    top3 = inspector.inspect_pixel_json(snapshot, 50, 60, top=3)["models"][0]
    assert len(top3["classes"]) == 3 and top3["rest"]["classes"] == 21


def test_click_maps_to_the_pixel_pil_nearest_shows():
    small = np.arange(7 * 5).reshape(5, 7).astype(np.uint8)
    big = np.asarray(Image.fromarray(small).resize((31, 23), Image.Resampling.NEAREST))
    for y in range(23):
        for x in range(31):
            assert small[source_index(y, 23, 5), source_index(x, 31, 7)] == big[y, x]


class KnownLogits(nn.Module):
    """A hand-made "model": certain on the left half (one logit 1000 above the rest: p = 1 exactly in
    float32), undecided on the right half (all logits equal)."""
    size_multiple = 1

    def __init__(self, classes=24):
        super().__init__()
        self.classes = classes
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        n, _, height, width = x.shape
        logits = torch.zeros(n, self.classes, height, width)
        logits[:, 5, :, : width // 2] = 1000.0
        return logits


def test_uncertainty_is_zero_where_the_model_is_certain_and_maximal_where_it_is_undecided():
    logits = predict_logits(KnownLogits(), np.zeros((6, 8), np.float32))
    entropy = uncertainty(logits, UNCERTAINTY_KINDS[0])
    assert torch.all(entropy[:, :4] == 0)
    assert torch.allclose(entropy[:, 4:], torch.tensor(math.log2(24)))
    one_minus_max = uncertainty(logits, UNCERTAINTY_KINDS[1])
    assert torch.all(one_minus_max[:, :4] == 0)
    assert torch.allclose(one_minus_max[:, 4:], torch.tensor(1 - 1 / 24))
    assert float(entropy_bits(logits[:, 0, 0])) == 0.0
    picture = uncertainty_picture(logits, UNCERTAINTY_KINDS[0], (80, 60))
    assert picture.shape[0] == 60 and picture.shape[1] > 80  # the map and its colour bar
    left, right = picture[30, 10], picture[30, 70]
    assert tuple(left) == (68, 1, 84, 255) and tuple(right) == (253, 231, 37, 255)  # viridis ends: certain, unsure
    view = inspector.uncertainty_view(Snapshot({"m": Scores("known", logits, np.zeros((24, 3), np.uint8))},
                                               shown=(80, 60)), UNCERTAINTY_KINDS[1])
    assert 60 < view.shape[0] < 100  # the map under its title (issue 24: titles beside, not over, the map)


@pytest.mark.parametrize("arch", ["cnn", "unet"])
@pytest.mark.parametrize("nf,side", [(4, 8), (8, 32), (13, 20), (32, 64)])
def test_feature_map_shapes_equal_the_anatomy_tables(arch, nf, side):
    torch.manual_seed(0)
    model = build_model(arch, ModelConfig(3, nf, 24))
    rgb = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    pictures = layer_pictures(model, rgb, channels=None, long_side=side)
    table = measure(arch, nf, 24, 3, side).rows
    layers = [picture for picture in pictures if picture.step.row is not None]
    assert [(p.step.name, p.shape) for p in layers] == [(row.name, row.output_shape) for row in table]
    for picture in layers:  # the caption carries the table's numbers
        row = next(row for row in table if row.name == picture.step.name)
        assert f"{row.weights:,} weights" in picture.caption() and f"{row.connections:,} connections" in picture.caption()
        assert len(picture.channels) == row.output_shape[0]  # all channels on request
    concats = [picture for picture in pictures if picture.step.kind == "concat"]
    if arch == "cnn":
        assert concats == []
    else:  # the three skips, each as wide as its two inputs, read by the next module
        assert [p.step.name for p in concats] == ["concat → upconv1.0", "concat → upconv2.0", "concat → finalconv"]
        assert [p.shape[0] for p in concats] == [4 * nf, 2 * nf, 24 + 1]
        assert concats[-1].step.sources == ("upconv2.3", "input")
    lines = dict(blocks(pictures, 24))
    assert lines["downconv1"].startswith("downsample") and lines["upconv1"].startswith("upsample")
    assert lines["finalconv"].startswith("classify")


def test_eight_most_active_channels_by_default():
    torch.manual_seed(0)
    model = build_model("unet", ModelConfig(3, 16, 24))
    pictures = layer_pictures(model, np.full((32, 32, 3), 120, np.uint8))
    for picture in pictures:
        output = picture.step.output[0]
        activity = output.abs().mean(dim=(1, 2))
        assert len(picture.channels) == 8
        assert activity[picture.channels].tolist() == sorted(activity.tolist(), reverse=True)[:8]
        assert picture.picture.ndim == 3 and picture.picture.dtype == np.uint8


@requires_cifar
def test_train_live_strips_are_clickable_for_every_batch_size():
    from ui import train_tab

    outputs = list(train_tab.start_training("UNet", [50, 100], 1, 1e-3, 8, "horse", 0, 300, 100, None))
    session = outputs[-1]["session"]
    snapshot = inspector.strip_snapshot(session)
    assert list(snapshot.models) == ["bs 50", "bs 100"]
    # second image (row 1), its truth column (col 1), model pixel (10, 20): 3x enlarged, 3 px gaps
    reports = snapshot.inspect(99 + 3 * 10 + 1, 99 + 3 * 20 + 2)
    for report in reports:
        assert (report.image, report.x, report.y) == (1, 10, 20)
        assert report.probabilities.sum() == pytest.approx(1)
        assert report.truth is not None
    strip = session.strips[50][0]  # the prediction column shows each pixel's chosen class
    assert reports[0].hex(reports[0].chosen) == "#%02x%02x%02x" % tuple(strip[99 + 3 * 20 + 2, 2 * 99 + 3 * 10 + 1])
    assert "gap" in inspector.on_select(snapshot, select(97, 5))
    assert inspector.uncertainty_view(snapshot, UNCERTAINTY_KINDS[0]).shape[0] >= 4 * 96


@requires_flowers
def test_segment_click_gives_the_class_distribution_behind_the_mask(monkeypatch):
    from ui.segment_tab import FLOWER_MODEL, run_segment

    monkeypatch.setenv("PIXELWISE_CHECKPOINTS", str(settings.REPO_ROOT / "checkpoints"))  # the shipped flower model

    out = run_segment(str(image_path(2)), 2, FLOWER_MODEL, 0.5)
    snapshot, mask = out["inspection"], out["mask"]
    for x, y in [(128, 128), (3, 3), (200, 40)]:
        (report,) = snapshot.inspect(x, y)
        assert report.probabilities.sum() == pytest.approx(1) and len(report.probabilities) == 2
        assert report.hex(report.chosen) == "#%02x%02x%02x" % tuple(mask[y, x])
        assert report.name(report.chosen) in ("flower", "background")
    assert "outside" in inspector.inspect_pixel_json(snapshot, 256, 0)["error"]
    confidence = inspector.uncertainty_view(snapshot, UNCERTAINTY_KINDS[1])
    assert 240 < confidence.shape[0] < 300  # the map, drawn at most 240 px, under its title


def text_ink(rgba: np.ndarray) -> np.ndarray:
    """Where the maps' grey text is: opaque enough and grey (viridis colours are never grey)."""
    rgb = rgba[..., :3].astype(int)
    return (rgba[..., 3] > 100) & (rgb.max(axis=2) - rgb.min(axis=2) < 30)


def test_uncertainty_maps_lie_on_a_transparent_ground_with_text_that_reads_light_and_dark():
    """Issue 31: in dark mode the maps were glaring white blocks. Their ground is transparent (the page's shows
    through), the heat maps opaque, the text a grey with contrast on white and on Gradio's dark ground."""
    from pixelwise.pictures import INK, uncertainty_maps

    generator = torch.Generator().manual_seed(0)
    models = {key: Scores(key.upper(), torch.randn(24, 32, 32, generator=generator), np.zeros((24, 3), np.uint8))
              for key in ("cnn", "unet")}
    maps = uncertainty_maps(Snapshot(models, shown=(256, 256)), UNCERTAINTY_KINDS[0])
    assert maps.ndim == 3 and maps.shape[2] == 4
    alpha = maps[..., 3]
    assert alpha[0, -1] == 0 and alpha[-1, -1] == 0  # the corners: ground, not white
    assert (alpha == 0).mean() > 0.2 and (alpha == 255).mean() > 0.5  # ground around opaque maps
    assert text_ink(maps).sum() > 100  # titles and tick labels drawn
    luminance = lambda rgb: sum(w * ((c / 255 / 12.92) if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4)
                                for w, c in zip((0.2126, 0.7152, 0.0722), rgb))
    contrast = lambda a, b: (max(a, b) + 0.05) / (min(a, b) + 0.05)
    ink = luminance(INK[:3])
    assert contrast(ink, luminance((255, 255, 255))) >= 3 and contrast(ink, luminance((11, 15, 25))) >= 3


def test_uncertainty_map_titles_and_ticks_are_readable_where_the_page_shows_them():
    """Issue 24: three 384 x 256 maps side by side were drawn 1,200 px wide with 11 px text and shown ~480 px
    wide: 4 px letters. Letters must be at least 8 px tall (a 12 px font's capitals) when shown 480 px wide."""
    from pixelwise.pictures import SHOWN_WIDTH, uncertainty_maps

    generator = torch.Generator().manual_seed(0)
    models = {key: Scores(label, torch.randn(classes, 64, 96, generator=generator), np.zeros((classes, 3), np.uint8))
              for key, label, classes in (("cnn", "CNN (cnn.pt)", 24), ("unet", "UNet (unet.pt)", 24),
                                          ("beyond", "Beyond the handout (colour_hints.pt)", 229))}
    for kind in UNCERTAINTY_KINDS:
        maps = uncertainty_maps(Snapshot(models, shown=(384, 256)), kind)
        scale = SHOWN_WIDTH / maps.shape[1]
        ink = text_ink(maps)
        title_rows = np.flatnonzero(ink[:, :40].any(axis=1))  # the "C" of "CNN" at the top left
        first_gap = np.flatnonzero(np.diff(title_rows) > 1)
        cap = (title_rows[first_gap[0]] if len(first_gap) else title_rows[-1]) - title_rows[0] + 1
        assert cap * scale >= 8, f"title letters {cap * scale:.1f} px tall as shown"
        bar = ink[:, 246:246 + 120].any(axis=1)  # right of the first map (240 px wide): its bar's units and ticks
        edges = np.flatnonzero(np.diff(np.concatenate([[0], bar.astype(int), [0]])))
        tallest = max(end - start for start, end in zip(edges[::2], edges[1::2]))
        assert tallest * scale >= 7, f"tick labels {tallest * scale:.1f} px tall as shown"
