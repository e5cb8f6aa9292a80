"""Checkpoint files that must not be offered (empty, text, random bytes, damaged, pickled objects, weights
that do not fit), the plain note each gets, and the removal of interrupted saves. No data needed."""
import time

import numpy as np
import pytest
import torch

from colorizer import ModelConfig, UNet, save_checkpoint


# ---------------------------------------------------------------- unfit files, plain notes, stale temp files

def _pickled_objects(path):
    torch.save({"arch": "unet", "config": ModelConfig(), "state_dict": {}}, path)  # a dataclass: pickled code


UNFIT_CHECKPOINTS = {  # name -> (how to make it, words its note must hold)
    "empty.pt": (lambda path: path.write_bytes(b""), "empty"),
    "notes.pt": (lambda path: path.write_text("my training notes: lr 1e-3, 25 epochs\n"), "holds text"),
    "noise.pt": (lambda path: path.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8))),
                 "not a file that torch.save writes"),
    "cut.pt": (lambda path: path.write_bytes(b"PK\x03\x04" + b"\x00" * 200), "damaged or cut short"),
    "objects.pt": (_pickled_objects, "pickled Python objects"),
}


@pytest.mark.parametrize("name", list(UNFIT_CHECKPOINTS))
def test_unfit_checkpoint_files_are_not_listed_and_the_note_says_why(tmp_path, name):
    from runs.catalog import list_checkpoints

    make, words = UNFIT_CHECKPOINTS[name]
    make(tmp_path / name)
    found, problems = list_checkpoints(tmp_path)
    assert found == [] and len(problems) == 1
    assert f"{name}: " in problems[0] and words in problems[0], problems[0]
    assert str(tmp_path) not in problems[0] and "codec" not in problems[0] and "Unpickl" not in problems[0]


def test_a_checkpoint_whose_weights_do_not_fit_its_config_is_not_listed(tmp_path):
    from runs.catalog import list_checkpoints

    save_checkpoint(tmp_path / "good.pt", UNet(num_filters=8), torch.rand(24, 3), {"category": "horse"})
    save_checkpoint(tmp_path / "wrong.pt", UNet(num_filters=8), torch.rand(24, 3), {"category": "horse"})
    checkpoint = torch.load(tmp_path / "wrong.pt", weights_only=True)
    checkpoint["config"]["num_filters"] = 16  # a well-formed config that the weights do not fit
    torch.save(checkpoint, tmp_path / "wrong.pt")
    found, problems = list_checkpoints(tmp_path)
    assert [info.path.name for info in found] == ["good.pt"]
    assert len(problems) == 1 and "wrong.pt: its weights do not fit the UNet" in problems[0]
    assert "in the file but" in problems[0] and "not offered" in problems[0]


def test_stale_partial_saves_are_removed_at_start_up_and_fresh_ones_kept(tmp_path):
    import os
    from runs.catalog import list_checkpoints, remove_interrupted_saves
    from pixelwise.tempfiles import STALE_AFTER_S

    session = tmp_path / "session"
    session.mkdir()
    stale = session / ".unet_bs100.pt.k2j4x8.pixelwise-partial"  # what a killed save leaves
    legacy = tmp_path / ".cnn.pt.a8f3.tmp"  # the name used before
    fresh = tmp_path / ".cnn.pt.q1w2.pixelwise-partial"  # a save in progress
    for path in (stale, legacy, fresh):
        path.write_bytes(b"half a checkpoint")
    old = time.time() - STALE_AFTER_S - 60
    for path in (stale, legacy):
        os.utime(path, (old, old))
    found, problems = list_checkpoints(tmp_path)
    assert stale.exists() and legacy.exists()  # listing only reads
    assert sorted(remove_interrupted_saves(tmp_path)) == sorted([stale, legacy])
    assert not stale.exists() and not legacy.exists() and fresh.exists()
    assert found == [] and problems == []
