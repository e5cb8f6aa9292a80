"""The colourize endpoint (also the MCP tool) with a reference photo (issue 32): its palette moves the Beyond
picture's colours, strength 0 is automatic colour, a broken or grey reference gets a plain message."""
import gradio as gr
import numpy as np
import pytest
from PIL import Image

from colorizer import metrics
from tests.helpers import CHECKPOINTS, REPO, requires_flowers, requires_imagenette, requires_mobilenet
from ui import colourize_tab, reference_section

pytestmark = [requires_mobilenet,
              pytest.mark.skipif(not (CHECKPOINTS / "colour_reference.pt").is_file(),
                                 reason="checkpoints/colour_reference.pt is missing (see docs/reference.md to train it)")]


def _photo(tmp_path):
    y, x = np.mgrid[0:120, 0:160]
    grey = (90 + 70 * np.sin(x / 17.0) * np.cos(y / 23.0)).astype(np.uint8)
    path = tmp_path / "grey_scene.png"
    Image.fromarray(np.stack([grey] * 3, axis=2)).save(path)
    return str(path)


def _flat(tmp_path, name, rgb):
    path = tmp_path / name
    Image.fromarray(np.full((64, 64, 3), rgb, np.uint8)).save(path)
    return str(path)


def _beyond(path, **kwargs):
    return colourize_tab.colourize(path, None, None, **kwargs)[3]


def test_a_reference_moves_the_beyond_colours_toward_its_palette(tmp_path):
    """The coffee photo with the rocket launch's blue sky as the reference turns blue; with the cat's warm
    palette its ab-class histogram meets the cat's more."""
    import torch

    from colorizer import reference

    photo, examples = str(REPO / "examples" / "coffee.jpg"), REPO / "examples"
    automatic = _beyond(photo)
    blue = _beyond(photo, reference=str(examples / "rocket.jpg"))
    warm = _beyond(photo, reference=str(examples / "chelsea_cat.jpg"))
    none = _beyond(photo, beyond_checkpoint="colour_reference.pt", reference=str(examples / "rocket.jpg"),
                   reference_strength=0.0)
    assert np.array_equal(none, _beyond(photo, beyond_checkpoint="colour_reference.pt"))  # strength 0: automatic
    assert metrics.ab_of(blue)[..., 1].mean() < metrics.ab_of(automatic)[..., 1].mean() - 10  # Lab b < 0 is blue
    centres = torch.load(CHECKPOINTS / "colour_reference.pt", weights_only=True)["ab_centres"]
    cat, _ = reference.photo_palette(np.asarray(Image.open(examples / "chelsea_cat.jpg").convert("RGB")), centres)
    overlap = lambda rgb: float(torch.minimum(reference.photo_palette(rgb, centres)[0], cat).sum())  # noqa: E731
    assert overlap(warm) > overlap(automatic) + 0.1


@pytest.mark.parametrize("make, words", [
    (lambda tmp: (tmp / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg") and str(tmp / "broken.jpg"),
     "Could not use the reference photo"),
    (lambda tmp: _flat(tmp, "grey.png", (128, 128, 128)), "has no colour")])
def test_a_broken_or_grey_reference_gets_a_plain_message(tmp_path, make, words):
    with pytest.raises(gr.Error, match=words):
        _beyond(_photo(tmp_path), reference=make(tmp_path))


def test_the_palette_strip_shows_the_references_main_colours(tmp_path):
    half = np.zeros((40, 40, 3), np.uint8)
    half[:, :10] = (200, 30, 30)
    half[:, 10:] = (40, 70, 200)
    Image.fromarray(half).save(tmp_path / "two.png")
    strip = reference_section.palette_strip(str(tmp_path / "two.png"), "colour_reference.pt")
    assert strip.count('class="reference-swatch"') == 2 and ">75%<" in strip and ">25%<" in strip
    assert reference_section.palette_strip(None, "colour_reference.pt") == reference_section.NO_REFERENCE
    assert "has no colour" in reference_section.palette_strip(_flat(tmp_path, "g.png", (90, 90, 90)), None)


@pytest.mark.skipif(not (REPO / "results" / "reference_quick.json").is_file(), reason="results/reference_quick.json missing")
@requires_imagenette
@requires_flowers
def test_the_shipped_reference_model_reproduces_its_recorded_quick_results(tmp_path):
    """results/reference_quick.json comes from `python scripts/reference_results.py --limit 12 --out
    results/reference_quick.md --picture ''`; the same run again, and the own palette helps on both sets."""
    import json

    from scripts import reference_results

    recorded = json.loads((REPO / "results" / "reference_quick.json").read_text())
    reference_results.main(["--limit", "12", "--out", str(tmp_path / "quick.md"), "--picture", ""])
    again = json.loads((tmp_path / "quick.json").read_text())
    for old, new in zip(recorded["rows"], again["rows"]):
        assert (old["set"], old["protocol"]) == (new["set"], new["protocol"])
        for key in ("auc", "auc_rebalanced", "colourfulness_share"):
            assert new[key] == pytest.approx(old[key], abs=0.005), (old["set"], old["protocol"], key)
        for key in ("psnr_rgb", "intersection_own", "intersection_partner"):
            assert new[key] == pytest.approx(old[key], abs=0.05), (old["set"], old["protocol"], key)
    psnr = {(row["set"], row["protocol"]): row["psnr_rgb"] for row in again["rows"]}
    for name in ("imagenette val", "flower test"):
        assert psnr[(name, "own colours (oracle)")] > psnr[(name, "no reference")]


def test_the_full_size_pngs_carry_the_reference_and_the_hints_shown(tmp_path):
    """The Full-size PNGs button makes what the page shows: with the page's reference photo and hints (it
    used to ignore both), and without the hint marks."""
    photo, rocket = str(REPO / "examples" / "coffee.jpg"), str(REPO / "examples" / "rocket.jpg")
    full = lambda **kwargs: np.asarray(Image.open(colourize_tab.on_full_size(  # noqa: E731
        photo, None, None, "colour_reference.pt", **kwargs)[0]).convert("RGB"))
    automatic, blue = full(), full(reference=rocket)
    assert metrics.ab_of(blue)[..., 1].mean() < metrics.ab_of(automatic)[..., 1].mean() - 10
    red = [{"x": 10, "y": 10, "colour": "#d02020", "reach": "point"}]
    hinted = full(reference=rocket, hints=red)
    assert not np.array_equal(hinted, blue)
    assert metrics.ab_of(hinted[:20, :20])[..., 0].mean() > metrics.ab_of(blue[:20, :20])[..., 0].mean() + 5
