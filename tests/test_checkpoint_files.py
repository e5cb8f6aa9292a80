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


# ---------------------------------------------------------------- oddly typed fields, unique names, the cache (issue 30)

def _edited(path, edit):
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint)
    torch.save(checkpoint, path)


ODD_FIELDS = {  # name -> (edit of a good checkpoint, words its note must hold)
    "arch_list.pt": (lambda c: c.update(arch=["cnn"]), "unknown arch"),
    "arch_dict.pt": (lambda c: c.update(arch={"a": 1}), "unknown arch"),
    "huge_filters.pt": (lambda c: c["config"].update(num_filters=10**12), "num_filters must be a whole number"),
    "bool_kernel.pt": (lambda c: c["config"].update(kernel=True), "kernel must be a whole number"),
    "text_colours.pt": (lambda c: c["config"].update(num_colours="24"), "num_colours must be a whole number"),
    "config_list.pt": (lambda c: c.update(config=[3, 8, 24, 1]), "bad config"),
    "category_dict.pt": (lambda c: c["meta"].update(category={"a": 1}), "category must be a short text"),
    "batch_text.pt": (lambda c: c["meta"].update(batch_size="100"), "batch_size must be a whole number"),
    "acc_nan.pt": (lambda c: c["meta"].update(val_acc=float("nan")), "val_acc must be a number from 0 to 1"),
}


def test_oddly_typed_checkpoints_are_refused_plainly_and_the_listing_goes_on(tmp_path):
    from runs.catalog import list_checkpoints

    save_checkpoint(tmp_path / "good.pt", UNet(num_filters=8), torch.rand(24, 3), {"category": "horse", "batch_size": 10})
    for name, (edit, _) in ODD_FIELDS.items():
        (tmp_path / name).write_bytes((tmp_path / "good.pt").read_bytes())
        _edited(tmp_path / name, edit)
    found, problems = list_checkpoints(tmp_path)  # raised TypeError / RuntimeError before
    assert [info.path.name for info in found] == ["good.pt"]
    assert len(problems) == len(ODD_FIELDS)
    for name, (_, words) in ODD_FIELDS.items():
        notes = [problem for problem in problems if f"/{name}: " in problem]
        assert len(notes) == 1 and words in notes[0], (name, problems)


def test_an_odd_flower_checkpoint_is_refused_before_anything_is_built(tmp_path):
    from pixelwise.checkpoints import CheckpointError
    from segmenter.models import load_flower_checkpoint

    for name, config in (("huge", {"num_classes": 10**9, "output_stride": 16}),
                         ("typed", {"num_classes": [2], "output_stride": 16}),
                         ("stride", {"num_classes": 2, "output_stride": 2.5})):
        torch.save({"arch": "deeplabv3_mobilenet_v2", "config": config, "state_dict": {}, "meta": {}},
                   tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointError, match="must be a whole number"):
            load_flower_checkpoint(tmp_path / f"{name}.pt")  # 10**9 answered the allocator's raw text before


class _FakeRun:
    """What save_run needs of a finished run: its config's names and a save that writes a small checkpoint."""

    def __init__(self, mark: float):
        from types import SimpleNamespace

        self.config, self.mark = SimpleNamespace(model="cnn", category="horse"), mark

    def save(self, path, overwrite=True):
        from pixelwise.checkpoints import save_atomic

        return save_atomic({"mark": torch.tensor(self.mark)}, path, overwrite)


def test_two_saves_in_the_same_second_keep_both_models(tmp_path, monkeypatch):
    from datetime import datetime
    from types import SimpleNamespace

    import runs.catalog
    from ui import train_tab

    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2026, 12, 7, 1, 2, 3)

    monkeypatch.setenv("PIXELWISE_TRAINED", str(tmp_path))
    monkeypatch.setattr(runs.catalog, "datetime", FrozenClock)
    first, second = (SimpleNamespace(results={10: _FakeRun(mark)}, saved=None) for mark in (1.0, 2.0))
    train_tab.save_run(first, 10)
    train_tab.save_run(second, 10)
    assert first.saved != second.saved
    assert sorted(path.name for path in tmp_path.glob("*.pt")) == [
        "cnn_horse_bs10_20261207-010203-2.pt", "cnn_horse_bs10_20261207-010203.pt"]
    assert [torch.load(run.saved, weights_only=True)["mark"].item() for run in (first, second)] == [1.0, 2.0]


def test_a_save_that_must_not_overwrite_refuses_a_taken_name(tmp_path):
    from pixelwise.checkpoints import save_atomic

    save_atomic({"mark": 1}, tmp_path / "taken.pt", overwrite=False)
    with pytest.raises(FileExistsError):
        save_atomic({"mark": 2}, tmp_path / "taken.pt", overwrite=False)
    assert torch.load(tmp_path / "taken.pt", weights_only=True) == {"mark": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["taken.pt"]  # no temporary file left


def test_the_trained_folder_keeps_only_its_newest_checkpoints(tmp_path, monkeypatch):
    import os

    from runs.catalog import save_trained

    monkeypatch.setenv("PIXELWISE_TRAINED_KEEP", "3")
    for number in range(5):
        path = save_trained(lambda path, n=number: _FakeRun(n).save(path, overwrite=False),
                            "cnn", "horse", number + 1, folder=tmp_path)
        os.utime(path, (1_000_000 + number, 1_000_000 + number))  # file times one second apart, oldest first
    kept = sorted(torch.load(path, weights_only=True)["mark"].item() for path in tmp_path.glob("*.pt"))
    assert kept == [2.0, 3.0, 4.0]


def test_listing_reads_each_file_once_however_many_there_are(tmp_path, monkeypatch):
    import os
    import shutil

    import runs.catalog

    save_checkpoint(tmp_path / "c000.pt", UNet(num_filters=2), torch.rand(24, 3), {"category": "horse"})
    for number in range(1, 300):
        shutil.copyfile(tmp_path / "c000.pt", tmp_path / f"c{number:03d}.pt")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    reads = []
    real_read = runs.catalog.read_checkpoint_dict
    monkeypatch.setattr(runs.catalog, "read_checkpoint_dict", lambda *a, **k: reads.append(a[0]) or real_read(*a, **k))
    found, problems = runs.catalog.list_checkpoints(tmp_path)
    assert (len(found), len(problems), len(reads)) == (300, 1, 301)
    reads.clear()
    assert runs.catalog.list_checkpoints(tmp_path) == (found, problems)
    assert reads == []  # 300 misses past the old 256-entry cache; the unreadable file was read again every time
    os.utime(tmp_path / "c007.pt", (2_000_000, 2_000_000))  # a changed file is read again
    runs.catalog.list_checkpoints(tmp_path)
    assert [os.path.basename(path) for path in reads] == ["c007.pt"]
