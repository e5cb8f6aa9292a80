"""Steering (issue 29): hint reach and strokes, hint planes at the edges, plain refusals, duplicates, the
suggestions, and the hint controls' handlers; on pictures and models the tests make themselves."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from colorizer import hints, inference, lab
from pixelwise.device import one_torch_thread
from tests.test_hints import _hint_model


class _Recorder(nn.Module):
    """A hint 'model' that records the input it is given (and answers zeros)."""
    size_multiple = 8
    colour_space = "lab"

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"in_channels": 4})()
        self.weight = nn.Parameter(torch.zeros(1))
        self.seen = None

    def forward(self, x):
        self.seen = x
        return torch.zeros(x.shape[0], 5, *x.shape[2:])


@pytest.mark.parametrize("corner", ["bottom", "right", "bottom right"])
def test_hint_planes_at_the_bottom_and_right_edges_cover_only_the_hinted_pixels(corner):
    model, size = _Recorder(), (61, 45)  # 61 x 45: padded to 64 x 48
    x = size[0] - 1 if "right" in corner else 30
    y = size[1] - 1 if "bottom" in corner else 20
    planes = hints.hint_planes([hints.Hint(x, y, (255, 0, 0))], size, size)
    inference.predict_logits(model, torch.rand(size[1], size[0]), planes)
    seen_mask = model.seen[0, 3]
    assert seen_mask.shape == (48, 64)
    assert seen_mask.sum() == planes[2].sum()  # 6 pixels on an edge (4 in a corner), not 6 + the padding
    assert seen_mask[size[1]:].sum() == 0 and seen_mask[:, size[0]:].sum() == 0


def test_point_reach_gives_the_earlier_output_away_from_the_padded_edges():
    """Away from the edges the input is what it was before zero padding, so the logits are bit for bit the
    same as the earlier path (input and planes padded together by replication)."""
    model = _hint_model()
    rgb = np.random.default_rng(1).integers(0, 256, (70, 130, 3), dtype=np.uint8)
    photo = inference.prepare_photo(rgb)
    given = [(65, 35, "#00ff00"), (20, 10, "#ff00ff")]
    now = inference.colourize_prepared(model, torch.zeros(12, 3), photo, hints=given, hint_reach="point")
    work = now.work_size
    grey = torch.from_numpy(inference.model_input(model, photo.small(work)))
    planes = hints.hint_planes(hints.checked_hints(given, photo.full_size), photo.full_size, work)
    x = torch.cat([grey[None, None], planes[None]], dim=1)
    pad_h, pad_w = -x.shape[2] % model.size_multiple, -x.shape[3] % model.size_multiple
    with torch.no_grad(), one_torch_thread():  # as colourize_prepared runs it: sums in the same order
        earlier = model(F.pad(x, (0, pad_w, 0, pad_h), mode="replicate"))[0, :, :work[1], :work[0]]
    assert torch.equal(now.logits, earlier)


def _discs_photo():
    """A grey background, a dark disc on the left and a light one on the right (RGB, 96 x 56: the working
    size itself, so the edges stay crisp where the region is found)."""
    rows, columns = np.mgrid[0:56, 0:96]
    grey = np.full((56, 96), 128, np.uint8)
    grey[(rows - 28) ** 2 + (columns - 24) ** 2 < 16 ** 2] = 20
    grey[(rows - 28) ** 2 + (columns - 72) ** 2 < 16 ** 2] = 240
    return np.repeat(grey[..., None], 3, axis=2)


def test_an_object_hint_changes_its_disc_and_nothing_outside_it():
    model, photo = _hint_model(), inference.prepare_photo(_discs_photo())
    plain = inference.colourize_prepared(model, torch.zeros(12, 3), photo, decoding="annealed")
    steered = inference.colourize_prepared(model, torch.zeros(12, 3), photo, decoding="annealed",
                                           hints=[(24, 28, (0, 200, 0))], hint_reach="object")
    change = np.abs(steered.colour.astype(int) - plain.colour.astype(int)).max(axis=2)
    rows, columns = np.mgrid[0:56, 0:96]
    outside = (rows - 28) ** 2 + (columns - 24) ** 2 > 17 ** 2  # a pixel's margin for the soft edge
    assert change[outside].max() <= 1  # the other disc and the background as they were
    assert change[12:44, 8:40].max() >= 2  # the clicked disc changed (a dark disc: a few RGB levels)


def test_a_stroke_covers_every_model_pixel_along_it_and_goes_through_the_api_shape():
    size = work = (100, 60)
    (stroke,) = hints.checked_hints([{"stroke": [[10, 10], [40, 10], [40, 30]], "colour": "#ff0000"}], size)
    assert stroke.points == [(10, 10), (40, 10), (40, 30)] and stroke.reach == 0
    pixels = set(hints.hint_pixels(stroke, size, work))
    assert {(x, 10) for x in range(10, 41)} | {(40, y) for y in range(10, 31)} == pixels
    planes = hints.hint_planes([stroke], size, work, patch=1)
    assert planes[2].sum() == len(pixels)
    model, photo = _hint_model(), inference.prepare_photo(_discs_photo())
    stroked = inference.colourize_prepared(model, torch.zeros(12, 3), photo,
                                           hints=[{"stroke": [[20, 28], [30, 30]], "colour": "#00ff00",
                                                   "reach": "object"}])
    plain = inference.colourize_prepared(model, torch.zeros(12, 3), photo)
    assert not np.array_equal(stroked.colour, plain.colour)


@pytest.mark.parametrize("bad, words", [
    ([{"x": float("nan"), "y": 1, "colour": "#ff0000"}], "whole pixel number"),
    ([{"x": float("inf"), "y": 1, "colour": "#ff0000"}], "whole pixel number"),
    ([{"x": 1, "y": -math.inf, "colour": "#ff0000"}], "whole pixel number"),
    ([{"x": 1.5, "y": 1, "colour": "#ff0000"}], "whole pixel number"),
    ([{"x": 1, "y": 1, "colour": "rgb(nan,0,0)"}], "finite numbers"),
    ([{"x": 1, "y": 1, "colour": "rgb(1e999,0,0)"}], "finite numbers"),
    ([{"x": 1, "y": 1, "colour": (1e999, 0, 0)}], "0-255"),
    ([{"x": 1, "y": 1, "colour": "lab(50 300 0)"}], "a and b"),
    ([{"x": 1, "y": 1, "colour": "#ff0000", "reach": "galaxy"}], "reach"),
    ([{"stroke": [[1, 1], [2]], "colour": "#ff0000"}], "stroke"),
    (5, "must be a list"),
    ("not json", "JSON list"),
    ([7], "is not"),
])
def test_nan_infinite_and_wrongly_typed_hints_get_plain_messages(bad, words):
    with pytest.raises(hints.HintError, match=words):
        hints.checked_hints(bad, (100, 50))


def test_nan_and_wrong_hints_through_the_colourize_endpoint_are_plain_errors(tmp_path):
    import gradio as gr
    from PIL import Image
    from ui import colourize_tab

    path = tmp_path / "grey.png"
    Image.fromarray(_discs_photo()).save(path)
    for bad in (5, [{"x": float("nan"), "y": 1, "colour": "#ff0000"}], [{"x": 1, "y": 1, "colour": "rgb(1e999,0,0)"}]):
        with pytest.raises(gr.Error) as raised:
            colourize_tab.colourize(str(path), None, None, None, hints=bad)
        assert "Traceback" not in str(raised.value.message) and "hint" in str(raised.value.message)


def test_two_hints_on_one_pixel_keep_the_later_one_once():
    given = [(3, 4, "#ff0000"), (5, 5, "#00ff00"), (3, 4, "#0000ff")]
    checked = hints.checked_hints(given, (10, 10))
    assert [(h.x, h.y, h.rgb) for h in checked] == [(5, 5, (0, 255, 0)), (3, 4, (0, 0, 255))]


def test_a_lab_colour_reaches_the_planes_exactly():
    """A suggestion at L = 30 with ab (0, 80) arrived as about (4, 40) when sent as a gamut-clipped RGB."""
    (hint,) = hints.checked_hints([{"x": 5, "y": 5, "colour": hints.lab_text(30, 0, 80)}], (10, 10))
    planes = hints.hint_planes([hint], (10, 10), (10, 10))
    assert torch.allclose(planes[:2, 5, 5] * hints.AB_SCALE, torch.tensor([0.0, 80.0]))
    rgb_ab = lab.rgb_to_lab(torch.tensor(hint.rgb, dtype=torch.uint8))[1:]
    assert (rgb_ab - torch.tensor([0.0, 80.0])).norm() > 10  # the RGB it is drawn with is another ab


# ------------------------------------------------------------------ suggestions

def _grid():
    return torch.tensor([[a, b] for a in range(-100, 101, 10) for b in range(-100, 101, 10)], dtype=torch.float32)


@pytest.mark.parametrize("suggest", [hints.suggest_colours, hints.suggest_modes])
def test_suggestions_on_a_flat_distribution_do_not_fail(suggest):
    centres = _grid()  # 441 classes: each 0.0023, under every mass threshold
    found = suggest(torch.full((len(centres),), 1 / len(centres)), centres, 50.0)
    assert 1 <= len(found) <= 8


def test_suggestions_on_a_one_hot_distribution_give_that_colour():
    centres = _grid()
    p = torch.zeros(len(centres))
    p[100] = 1
    (only,) = hints.suggest_modes(p, centres, 40.0)
    assert only.mass == pytest.approx(1.0) and only.lab == pytest.approx((40.0, *centres[100].tolist()))


def test_suggestions_on_a_two_mode_distribution_give_both_modes_most_probable_first():
    centres = _grid()
    p = torch.zeros(len(centres))
    red, blue = int(((centres - torch.tensor([60.0, 40.0])).norm(dim=1)).argmin()), \
        int(((centres - torch.tensor([10.0, -60.0])).norm(dim=1)).argmin())
    p[red], p[blue] = 0.3, 0.7
    found = hints.suggest_modes(p, centres, 55.0)
    assert [s.lab[1:] for s in found] == [pytest.approx(tuple(centres[blue].tolist())),
                                          pytest.approx(tuple(centres[red].tolist()))]
    assert [s.mass for s in found] == [pytest.approx(0.7), pytest.approx(0.3)]


# ------------------------------------------------------------------ the hint controls (no server)

def test_the_remove_list_never_answers_nothing_and_takes_a_stale_choice():
    from ui import hints_section

    listed = [{"x": 1, "y": 2, "colour": "#ff0000", "reach": "object"}, {"x": 3, "y": 4, "colour": "#00ff00"}]
    for stale in (None, "4", "9: (1, 1) #000000 point"):
        answer = hints_section.remove_hint(listed, [], stale)
        assert answer["changed"] is False and answer["message"] and "hints" not in answer
    label = hints_section._listed(listed)["choices"][1]
    answer = hints_section.remove_hint(listed, [], label)
    assert answer["hints"] == listed[:1] and answer["changed"] is True


def test_hint_events_that_change_nothing_say_so_and_a_second_hint_on_a_pixel_replaces_the_first():
    from ui import hints_section

    assert hints_section.undo_hint([], [])["changed"] is False
    assert hints_section.clear_hints([], [])["changed"] is False
    assert hints_section.add_hint([], [], None, "#ff0000")["changed"] is False
    target = {"x": 5, "y": 6, "shown": [5, 6]}
    first = hints_section.add_hint([], [], target, "#ff0000", "object")
    second = hints_section.add_hint(first["hints"], first["history"], target, "lab(50.0 10.0 20.0)", "point")
    assert second["hints"] == [{"x": 5, "y": 6, "colour": "lab(50.0 10.0 20.0)", "reach": "point"}]
    assert "replaces hint 1" in second["message"] and second["changed"] is True


def test_the_dropdown_takes_a_stale_value_without_an_error():
    import gradio as gr
    from ui import hints_section

    with gr.Blocks():
        controls = hints_section.build_hint_controls()
    assert controls.remove.preprocess("4") == "4"  # was "Value: 4 is not in the list of choices"


def test_the_sampler_is_uniform_as_the_docstring_says_not_the_papers_gaussian():
    assert "uniform" in hints.__doc__ and "Gaussian" in hints.__doc__
    generator = torch.Generator().manual_seed(4)
    centres = [left + 0.5 for _ in range(3000) for _, left, _, _ in hints.sample_patches(64, 64, generator, max_patch=1)]
    outer = np.mean([(c < 8) or (c > 56) for c in centres])
    assert outer == pytest.approx(0.25, abs=0.03)  # a Gaussian with sigma = 16 would put ~13% there


@pytest.mark.parametrize("size", [(1227, 815), (97, 61), (640, 480)])
def test_a_click_reads_the_model_pixel_its_hint_lands_on(size):
    """One rounding rule: the suggestions come from the very model pixel the hint goes to (128 of 5,023 clicks
    were one model pixel apart)."""
    from PIL import Image

    work = inference.long_side_size(*size, 96)
    centres = _grid()
    image = Image.new("RGB", (min(size[0], 400), min(size[1], 400)), (128, 128, 128))
    rng = np.random.default_rng(0)
    for x, y in zip(rng.integers(0, size[0], 40), rng.integers(0, size[1], 40)):
        column, row = hints.model_pixel(int(x), int(y), size, work)
        logits = torch.full((len(centres), work[1], work[0]), -30.0)
        logits[0] = 0  # everywhere class 0 ...
        logits[0, row, column], logits[200, row, column] = -30.0, 0.0  # ... but class 200 on the hint's pixel
        (only,) = hints.click_suggestions(logits, centres, image, (int(x), int(y)), size)
        assert only.lab[1:] == pytest.approx(tuple(centres[200].tolist()), abs=1e-3)


def test_the_regions_features_come_from_the_same_run_as_the_zero_hint_logits():
    model = _hint_model()
    grey = np.random.default_rng(2).random((40, 72)).astype(np.float32)
    logits, features = inference.logits_and_features(model, grey)
    assert torch.equal(logits, inference.predict_logits(model, grey))  # the hook changes nothing
    assert features.shape == (8, 40, 72) and features.min() >= 0
    assert torch.allclose(features.sum(0)[features.sum(0) > 0], torch.tensor(1.0))


def test_a_second_object_click_in_the_same_region_takes_the_part_nearer_to_it():
    """Two clicks on one wide bar, each with one of the model's own class colours: in "pull" each half
    decodes nearest to its own click's colour."""
    model = _hint_model()
    grey = np.full((56, 96), 128, np.uint8)
    grey[20:36, 4:92] = 40  # one dark bar across the picture
    photo = inference.prepare_photo(np.repeat(grey[..., None], 3, axis=2))
    first, second = model.ab_centres[0].tolist(), model.ab_centres[5].tolist()
    given = [{"x": 10, "y": 28, "colour": f"lab(30 {first[0]} {first[1]})", "reach": "object"},
             {"x": 85, "y": 28, "colour": f"lab(30 {second[0]} {second[1]})", "reach": "object"}]
    result = inference.colourize_prepared(model, torch.zeros(12, 3), photo, hints=given)
    ab = lab.decode_colours(result.logits[None], model.ab_centres)[0]
    for column, wanted, other in ((12, first, second), (82, second, first)):
        here = ab[:, 28, column]
        assert (here - torch.tensor(wanted)).norm() < (here - torch.tensor(other)).norm()


class _TwoThings(_Recorder):
    """A hint 'model' that sees two things on any picture, whatever the hints: the left half is likely
    class 1 (ab (60, 0)), the right half surely class 2 (ab (-60, 0))."""
    ab_centres = torch.tensor([[0.0, 0.0], [60.0, 0.0], [-60.0, 0.0]])

    def forward(self, x):
        logits = torch.zeros(x.shape[0], 3, *x.shape[2:])
        logits[:, 1, :, :x.shape[3] // 2] = 3.0
        logits[:, 2, :, x.shape[3] // 2:] = 5.0
        return logits


@pytest.mark.parametrize("power", [inference.AGREEMENT_POWER, 0.0])
def test_a_region_pixel_the_model_sees_as_another_thing_keeps_its_colour(monkeypatch, power):
    """A flat picture: the region of a click on the left reaches the right half too, but the model is sure the
    right half is another colour than the hint, so "pull" leaves it (with the gate off, it turned the hint's)."""
    monkeypatch.setattr(inference, "AGREEMENT_POWER", power)
    grey, size = np.full((16, 32), 0.5, np.float32), (32, 16)
    checked = hints.checked_hints([{"x": 4, "y": 8, "colour": "lab(50 60 0)", "reach": "larger"}], size)
    logits, union = inference.steered_logits(_TwoThings(), grey, checked, size, size)
    probabilities = torch.softmax(logits, dim=0)
    assert union[:, 24:].min() > 0.5  # the region reached the right half
    assert probabilities[1, :, :16].min() > 0.9  # the left half: the hint's colour
    if power:
        assert probabilities[2, :, 16:].min() > 0.98  # the right half as it was
    else:
        assert probabilities[1, :, 16:].min() > 0.5


def test_the_agreement_gate_is_one_at_the_click_and_falls_with_the_mass_near_the_hint():
    centres = torch.tensor([[0.0, 0.0], [60.0, 0.0], [-60.0, 0.0]])
    probabilities = torch.tensor([[0.5, 0.2, 0.0, 1.0], [0.5, 0.8, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])[:, None]
    owners = torch.tensor([[[1.0, 1.0, 1.0, 0.0]]])  # the last pixel is in no region
    exponents = inference.pull_exponents(centres, torch.tensor([[60.0, 0.0]]))
    gate = inference.agreement_gate(probabilities, exponents, owners, [[(0, 0)]])[0]
    assert gate[0] == pytest.approx(1.0) and gate[1] == 1.0  # the click; more mass near the hint than it
    assert gate[2] < 1e-6 and gate[3] == 1.0  # sure of another colour; no region: not gated here
    stroke = inference.agreement_gate(probabilities, exponents, owners, [[(0, 0), (1, 0)]])[0]
    assert stroke[0] == 1.0 and stroke[1] == 1.0  # along a stroke every pixel it crosses moves fully


def test_object_hints_through_a_reference_wrapped_model_find_its_centres_and_features():
    model = _hint_model()  # no global branch: the wrapper's vector is ignored, so both must agree exactly
    grey = np.random.default_rng(3).random((40, 72)).astype(np.float32)
    checked = hints.checked_hints([(30, 20, "#00ff00")], (72, 40), "object")
    alone = inference.steered_logits(model, grey, checked, (72, 40), (72, 40))
    wrapped = inference.steered_logits(inference.GlobalHinted(model, torch.zeros(3)), grey, checked, (72, 40), (72, 40))
    assert torch.equal(alone[0], wrapped[0]) and np.array_equal(alone[1], wrapped[1])


# ------------------------------------------------------------------ the steering panel (no server)

class _Click:
    """What Gradio hands a select handler: the clicked point of the shown picture."""
    def __init__(self, x, y):
        self.index = [x, y]


def _clickable(monkeypatch, tmp_path):
    """The discs photo as an upload, a snapshot of the hint model's logits on it, the model loaded by name."""
    from PIL import Image

    from pixelwise.perpixel import Scores, Snapshot
    from ui import hints_section

    path = tmp_path / "discs.png"
    Image.fromarray(_discs_photo()).save(path)
    model = _hint_model()
    loaded = type("Loaded", (), {"takes_hints": True, "model": model})()
    monkeypatch.setattr(hints_section, "load_colourizer", lambda name, device: loaded)
    photo = inference.prepare_photo(_discs_photo())
    logits, _ = inference.photo_logits(model, photo, 96)
    snapshot = Snapshot({"beyond": Scores("beyond", logits, np.zeros((12, 3), np.uint8))}, shown=(96, 56))
    return str(path), snapshot


def test_a_second_click_on_the_photo_does_not_decode_the_upload_again(monkeypatch, tmp_path):
    """pick_pixel decoded the whole upload on every click; the session now keeps it, decoded once."""
    from pixelwise import images
    from ui import hints_section

    path, snapshot = _clickable(monkeypatch, tmp_path)
    decodes = []
    counting = lambda *args, **kwargs: decodes.append(args[0]) or images.open_image(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(inference, "open_image", counting)
    monkeypatch.setattr(hints_section, "open_image", counting, raising=False)  # where it decoded before
    first = hints_section.pick_pixel(snapshot, path, "hints.pt", _Click(20, 28))
    second = hints_section.pick_pixel(snapshot, path, "hints.pt", _Click(70, 28), first["photo"])
    assert second["target"]["x"] == 70 and second["suggestions"]["choices"]
    assert len(decodes) == 1
    other = tmp_path / "other.png"
    other.write_bytes((tmp_path / "discs.png").read_bytes())
    hints_section.pick_pixel(snapshot, str(other), "hints.pt", _Click(20, 28), second["photo"])
    assert len(decodes) == 2  # another photo is decoded, and replaces the one kept


def test_the_click_shows_the_region_its_hint_reaches_and_it_grows_with_the_reach(monkeypatch, tmp_path):
    """The region comes as a see-through layer at the shown picture's size, to lay over it: clear inside,
    dimmed outside, outlined in magenta."""
    from ui import hints_section

    path, snapshot = _clickable(monkeypatch, tmp_path)
    answer = hints_section.pick_pixel(snapshot, path, "hints.pt", _Click(24, 28), reach="object")
    layer = answer["region"]
    assert layer.shape == (56, 96, 4)  # the shown picture's (height, width), RGBA
    magenta = np.all(layer == (255, 0, 255, 255), axis=2)
    rows, columns = np.nonzero(magenta)
    assert magenta.any() and columns.max() < 45, "the outline left the clicked disc"
    assert layer[28, 14, 3] == 0 and layer[28, 90, 3] > 0  # the clicked disc clear (beside its dot), the far side dimmed
    point = hints_section.show_region(answer["photo"], snapshot, "hints.pt", answer["target"], "point")["region"]
    assert np.all(point == (255, 0, 255, 255), axis=2).sum() < magenta.sum()
    assert hints_section.show_region(None, snapshot, "hints.pt", answer["target"], "object") == {"region": None}


def test_the_outline_goes_when_the_hints_change():
    """Added, removed, undone or cleared: the picture is drawn again, and the outline laid over it goes."""
    from ui import hints_section

    target = {"x": 5, "y": 6, "shown": [5, 6]}
    added = hints_section.add_hint([], [], target, "#ff0000", "object")
    assert added["region"] is None
    label = added["remove"]["choices"][0]
    for answer in (hints_section.remove_hint(added["hints"], added["history"], label),
                   hints_section.undo_hint(added["hints"], added["history"]),
                   hints_section.clear_hints(added["hints"], added["history"])):
        assert answer["changed"] is True and answer["region"] is None
    assert "region" not in hints_section.clear_hints([], [])  # nothing changed: the outline stays


def test_a_stroke_dragged_across_the_picture_becomes_the_target_and_its_colour_a_stroke_hint(monkeypatch, tmp_path):
    """The drawing copy's layer (at the shown 96 x 56) turned into the stroke's points; the next stroke drawn
    beside it is taken alone (the layer keeps both)."""
    from PIL import Image, ImageDraw

    from ui import hints_section

    path, snapshot = _clickable(monkeypatch, tmp_path)
    layer = Image.new("RGBA", (96, 56), (0, 0, 0, 0))
    ImageDraw.Draw(layer).line((12, 28, 36, 28), fill=(255, 255, 0, 255), width=3)
    answer = hints_section.pick_stroke(snapshot, path, "hints.pt", {"layers": [np.asarray(layer)]}, None)
    target = answer["target"]
    assert target["stroke"][0] in ([12, 28], [13, 28]) and target["stroke"][-1] in ([35, 28], [36, 28])
    assert all(y == 28 for _, y in target["stroke"]) and answer["suggestions"]["choices"]
    assert answer["region"] is not None and "A stroke of" in answer["message"]
    added = hints_section.add_hint([], [], target, "#00ff00", "object")
    assert added["hints"] == [{"stroke": target["stroke"], "colour": "#00ff00", "reach": "object"}]
    assert "stroke (1" in added["remove"]["choices"][0]
    ImageDraw.Draw(layer).line((60, 10, 60, 40), fill=(255, 255, 0, 255), width=3)
    again = hints_section.pick_stroke(snapshot, path, "hints.pt", {"layers": [np.asarray(layer)]}, answer["painted"],
                                      answer["photo"])
    assert {x for x, _ in again["target"]["stroke"]} <= {59, 60, 61} and again["target"]["stroke"][0][1] < 15
    checked = hints.checked_hints(added["hints"], (96, 56))
    assert checked[0].points == [tuple(point) for point in target["stroke"]] and checked[0].reach == 1.0


def test_an_empty_drawing_says_so_and_picks_nothing(monkeypatch, tmp_path):
    from ui import hints_section

    path, snapshot = _clickable(monkeypatch, tmp_path)
    empty = {"layers": [np.zeros((56, 96, 4), np.uint8)]}
    answer = hints_section.pick_stroke(snapshot, path, "hints.pt", empty, None)
    assert "target" not in answer and answer["message"].startswith("Nothing drawn")
    assert hints_section.pick_stroke(snapshot, path, "hints.pt", None, None)["message"].startswith("Nothing drawn")


def test_a_stroke_hint_is_drawn_as_its_line_on_the_picture():
    picture = np.full((60, 100, 3), 128, np.uint8)
    stroke = hints.checked_hints([{"stroke": [[10, 30], [90, 30]], "colour": "#00ff00"}], (100, 60))
    marked = hints.mark_hints(picture, stroke, (100, 60))
    assert (marked[30, 40:70] == (0, 255, 0)).all()  # along the line, past its numbered dot
    assert (marked[10, 40:70] == 128).all()  # off it


def test_the_outline_shown_for_a_click_is_the_region_its_hint_reaches():
    from colorizer import selection

    model = _hint_model()  # a textured photo: a region found on other costs would differ
    photo = inference.prepare_photo(np.random.default_rng(5).integers(0, 256, (56, 96, 3), dtype=np.uint8))
    logits, work = inference.photo_logits(model, photo, 96)
    shown = selection.selected_region(model, photo, logits, [(24, 28)], "larger")
    grey = inference.model_input(model, photo.small(work))
    checked = hints.checked_hints([(24, 28, "#00ff00")], photo.full_size, "larger")
    _, reached = inference.steered_logits(model, grey, checked, photo.full_size, work)
    assert np.array_equal(shown, reached) and 1 < (reached > 0).sum() < reached.size


def test_a_second_click_on_the_photo_runs_no_model_for_its_region_and_converts_no_picture(monkeypatch, tmp_path):
    """The region's costs (one zero-hint run of the model) are kept in the session's ClickedPhoto, per model and
    working size, and so is the photo as a PIL image the suggestions read."""
    from colorizer import selection
    from ui import hints_section

    path, snapshot = _clickable(monkeypatch, tmp_path)
    runs, pictures = [], []
    counting = lambda *args, **kwargs: runs.append(1) or inference.region_costs(*args, **kwargs)  # noqa: E731
    monkeypatch.setattr(selection, "region_costs", counting)
    suggest = hints.click_suggestions
    monkeypatch.setattr(hints_section.hint_model, "click_suggestions",
                        lambda logits, centres, image, *rest: pictures.append(image) or suggest(logits, centres, image, *rest))
    first = hints_section.pick_pixel(snapshot, path, "hints.pt", _Click(20, 28))
    second = hints_section.pick_pixel(snapshot, path, "hints.pt", _Click(70, 28), first["photo"])
    larger = hints_section.show_region(second["photo"], snapshot, "hints.pt", second["target"], "larger")
    assert len(runs) == 1, f"the model ran {len(runs)} times for the regions of one photo"
    assert len(pictures) == 2 and pictures[0] is pictures[1]
    assert first["region"] is not None and second["region"] is not None and larger["region"] is not None
    assert not np.array_equal(first["region"], second["region"])  # still each click's own region


def test_the_drawing_copy_is_the_beyond_picture_in_draw_mode_only(tmp_path):
    from PIL import Image

    from ui import hints_section

    Image.new("RGB", (400, 200)).save(tmp_path / "beyond.jpg")
    sent = {"path": str(tmp_path / "beyond.jpg"), "url": "http://x/beyond.jpg"}  # as the page sends it, undecoded
    assert hints_section.drawing_copy("click", sent)["draw"]["visible"] is False
    shown = hints_section.drawing_copy("draw", sent)["draw"]
    assert shown["visible"] is True and shown["value"]["background"] == sent["path"] and shown["value"]["layers"] == []
    assert shown["brush"].default_size == 10  # the long side / 40: a thin line on any picture
    assert "Colourize a photo first" in hints_section.drawing_copy("draw", None)["draw"]["label"]
