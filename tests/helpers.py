"""Where the tests find their data (pixelwise.settings: the PIXELWISE_* variables, else ../shared), and the
skip markers for tests that need it: without the data they skip at once, naming the command that fetches it."""
from pathlib import Path

import pytest

from pixelwise import settings

REPO = settings.REPO_ROOT
SHARED = settings.SHARED_ROOT
CIFAR = settings.cifar_root_from_env() or SHARED / "data" / "cifar10"
FLOWERS = settings.flowers_root()
MOBILENET = settings.SHARED_WEIGHTS / "mobilenet_v2-b0353104.pth"
IMAGENETTE = settings.imagenette_root()
CHECKPOINTS = REPO / "checkpoints"
FETCH = "python -m pixelwise.fetch"


def _has_cifar(root: Path) -> bool:
    return (root / "train" / "horse").is_dir() and (root / "test" / "horse").is_dir()


def _has_flowers(root: Path) -> bool:
    return (root / "images").is_dir() and (root / "masks").is_dir() and any((root / "masks").glob("*.png"))


HAVE_CIFAR, HAVE_FLOWERS, HAVE_MOBILENET = _has_cifar(CIFAR), _has_flowers(FLOWERS), MOBILENET.is_file()
HAVE_IMAGENETTE = (IMAGENETTE / "train").is_dir() and (IMAGENETTE / "val").is_dir()
CIFAR_REASON = f"needs the CIFAR-10 image folder {CIFAR}: run `{FETCH} cifar10` (or set PIXELWISE_DATA)"
FLOWERS_REASON = f"needs Oxford 17 Flowers at {FLOWERS}: run `{FETCH} flowers17` (or set PIXELWISE_FLOWERS)"
MOBILENET_REASON = f"needs the ImageNet MobileNetV2 weights {MOBILENET}: run `{FETCH} mobilenet_v2`"

IMAGENETTE_REASON = f"needs Imagenette at {IMAGENETTE}: run `{FETCH} imagenette` (or set PIXELWISE_IMAGENETTE)"
requires_imagenette = pytest.mark.skipif(not HAVE_IMAGENETTE, reason=IMAGENETTE_REASON)
requires_cifar = pytest.mark.skipif(not HAVE_CIFAR, reason=CIFAR_REASON)
requires_flowers = pytest.mark.skipif(not HAVE_FLOWERS, reason=FLOWERS_REASON)
requires_mobilenet = pytest.mark.skipif(not HAVE_MOBILENET, reason=MOBILENET_REASON)


def wait_for_first_examples(page, timeout_ms: float = 180_000) -> None:
    """Every tab opens on its first example (app.py: demo.load). Wait until Colourize and Segment show theirs, so
    that a test's own upload or example is not overwritten by them, nor a wait for a caption satisfied by them.
    (A tab is drawn once opened: Segment is opened to see its example, then Colourize again.)"""
    page.wait_for_function("() => { const img = document.querySelector('#colourize-grey img');"
                           " return !!img && img.src.includes('astronaut_'); }", timeout=timeout_ms)
    if (CHECKPOINTS / "flowers_deeplab.pt").is_file():
        page.get_by_role("tab", name="Segment", exact=True).click()
        page.locator("#segment-iou").get_by_text("flower.jpg").wait_for(timeout=timeout_ms)
        page.get_by_role("tab", name="Colourize", exact=True).click()


def plot_data(update):
    """A plot output's data: a redraw sends a bare DataFrame when only the data changed (ui.train_tab), else an
    update dict with the data under "value"."""
    return update["value"] if isinstance(update, dict) else update
