"""A clone with no data folder: the tests that need data skip at once and name the command that fetches it."""
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

from pixelwise.deploy import tracked_files
from pixelwise.settings import REPO_ROOT

# Every module or test that reads CIFAR-10, the flowers or the MobileNetV2 weights.
DATA_TESTS = [
    "tests/test_colorizer.py", "tests/test_app_handlers.py", "tests/test_browser.py", "tests/test_segment_browser.py",
    "tests/test_segmenter.py::test_weights_enum_loads_offline_from_seeded_torch_home",
    "tests/test_segmenter.py::test_split_is_fixed_disjoint_and_stratified",
    "tests/test_segmenter.py::test_short_head_fine_tune_beats_the_untrained_head",
    "tests/test_segmenter.py::test_shipped_checkpoint_reproduces_its_test_iou",
    "tests/test_segmenter.py::test_test_image_iou_uses_the_truth_mask_and_its_ignore_band",
    "tests/test_anatomy.py::test_affine_experiment_numbers_are_sane",
    "tests/test_anatomy.py::test_cli_prints_table_and_json",
]


def _clone(destination):
    """The working tree's files (tracked and new, nothing ignored), as a fresh clone would have them."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, capture_output=True,
                           text=True).stdout.split() or tracked_files()
    for name in names:
        if (REPO_ROOT / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, destination / name)


def test_without_data_every_data_test_skips_fast_with_the_fetch_command(tmp_path):
    clone, empty = tmp_path / "clone" / "pixelwise", tmp_path / "empty"
    clone.mkdir(parents=True)
    empty.mkdir()
    _clone(clone)  # no ../shared beside it
    env = dict(os.environ, PIXELWISE_DATA=str(empty), PIXELWISE_FLOWERS=str(empty), PIXELWISE_CACHE=str(empty),
               TORCH_HOME=str(empty), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    report = tmp_path / "report.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={report}", *DATA_TESTS], cwd=clone, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    cases = ElementTree.parse(report).getroot().iter("testcase")
    results = [(case.get("name"), float(case.get("time")), case.find("skipped")) for case in cases]
    assert len(results) > 40
    for name, seconds, skipped in results:
        assert skipped is not None, f"{name} ran without data"
        assert "python -m pixelwise.fetch" in skipped.get("message"), (name, skipped.get("message"))
        assert seconds < 1.0, (name, seconds)
