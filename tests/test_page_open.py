"""What every page open draws, drawn once per process where it is the same for every visitor."""
import os
import shutil

import pytest

from ui import inside_tab


@pytest.fixture
def drawn(monkeypatch):
    """Counts the layer drawings (no data needed: the drawing is stood in for)."""
    calls = []

    def draw(*inputs):
        calls.append(inputs)
        return {"layer_blocks": f"drawing {len(calls)}", "layer_grid": "", "layer_table": None, "notice": ""}
    monkeypatch.setattr(inside_tab, "layers_on_page", draw)
    monkeypatch.setattr(inside_tab, "_FIRST_LAYERS", {})
    return calls


def _first(checkpoint="unet.pt", upload=None):
    return inside_tab.layers_of_first_image(checkpoint, inside_tab.IMAGE_SOURCES[0], "horse", 0, upload, False)


def test_the_first_image_s_layers_are_drawn_once_for_every_page(drawn):
    assert _first()["layer_blocks"] == "drawing 1"
    assert _first()["layer_blocks"] == "drawing 1"  # the second visitor gets the same answer, not a new drawing
    assert len(drawn) == 1


def test_an_upload_or_an_unknown_checkpoint_is_drawn_every_time(drawn):
    _first(upload="photo.png"), _first(upload="photo.png")
    _first("no such.pt"), _first("no such.pt")
    assert len(drawn) == 4


def test_a_checkpoint_file_written_again_is_drawn_again(drawn, tmp_path, monkeypatch):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy("checkpoints/unet.pt", folder / "unet.pt")
    monkeypatch.setattr(inside_tab, "find_checkpoint", lambda name: folder / name)
    _first(), _first()
    stat = (folder / "unet.pt").stat()
    os.utime(folder / "unet.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a save over it
    assert _first()["layer_blocks"] == "drawing 2"


def test_a_refusal_is_not_kept(monkeypatch):
    monkeypatch.setattr(inside_tab, "_FIRST_LAYERS", {})
    monkeypatch.setattr(inside_tab, "layers_on_page", lambda *inputs: {"notice": "no CIFAR-10 here"})
    assert _first() == {} and inside_tab._FIRST_LAYERS == {}
