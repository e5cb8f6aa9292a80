"""A stroke drawn by dragging on the picture (issue 29): the painted layer turned into the ordered points of a
stroke hint, in the upload's own pixels (colorizer.selection.drawn_stroke). Plain arrays, no model."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from colorizer.selection import MAX_DRAWN_POINTS, NothingDrawn, drawn_stroke


def painted_layer(size, lines, width=5) -> np.ndarray:
    """An RGBA layer of ``size`` (w, h), transparent but for yellow lines [(x0, y0, x1, y1), ...] ``width`` wide."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for line in lines:
        draw.line(line, fill=(255, 255, 0, 255), width=width)
    return np.asarray(layer)


def test_a_drawn_diagonal_gives_points_along_it_in_the_uploads_pixels():
    """Drawn on the 384 x 256 shown picture, from (40, 40) to (340, 200); the upload is twice as large."""
    points = drawn_stroke(painted_layer((384, 256), [(40, 40, 340, 200)]), (768, 512))
    xs, ys = np.array(points, float).T
    assert 8 <= len(points) <= MAX_DRAWN_POINTS
    assert np.all(np.diff(xs) > 0), "not in order along the line"
    assert abs(xs[0] - 80) < 12 and abs(ys[0] - 80) < 12 and abs(xs[-1] - 680) < 12 and abs(ys[-1] - 400) < 12
    off_line = np.abs((ys - 80) - (xs - 80) * (320 / 600))  # distance from the doubled diagonal, vertically
    assert off_line.max() < 10


def test_a_curve_drawn_right_to_left_is_followed_from_its_left_end():
    layer = painted_layer((200, 100), [(180, 20, 100, 80), (100, 80, 20, 20)])  # a V drawn from the right
    points = drawn_stroke(layer, (200, 100))
    assert points[0][0] < 30 and points[-1][0] > 170
    lowest = max(points, key=lambda point: point[1])
    assert abs(lowest[0] - 100) < 10 and lowest[1] > 70  # through the V's bottom, not across its top


def test_only_the_newly_painted_stroke_counts():
    old = painted_layer((200, 100), [(10, 10, 60, 10)])
    both = painted_layer((200, 100), [(10, 10, 60, 10), (100, 90, 190, 50)])
    points = drawn_stroke(both, (200, 100), before=old[..., 3] > 0)
    assert min(x for x, _ in points) >= 95 and points[0][1] > 80


def test_a_long_stroke_is_thinned_to_at_most_64_points():
    points = drawn_stroke(painted_layer((2000, 1000), [(10, 500, 1990, 520)], width=20), (4000, 2000))
    assert len(points) <= MAX_DRAWN_POINTS and points[0][0] < 60 and points[-1][0] > 3940


@pytest.mark.parametrize("layer", [np.zeros((50, 80, 4), np.uint8), np.zeros((50, 80), np.uint8)])
def test_an_empty_layer_says_so_plainly(layer):
    with pytest.raises(NothingDrawn, match="Nothing drawn: drag across the picture"):
        drawn_stroke(layer, (80, 50))
