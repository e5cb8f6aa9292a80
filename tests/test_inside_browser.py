"""Browser test of the "Inside the models" tab (fixtures `page` and `app_url` from tests/conftest.py)."""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from inside.formulas import substitute, totals
from tests.helpers import HAVE_CIFAR

REPO_ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_MS = 60_000


def open_tab(page):
    page.get_by_role("tab", name="Inside the models").click()
    expect(page.locator("#inside-layers")).to_contain_text("downconv1.0", timeout=TIMEOUT_MS)
    return page.locator("#inside-tab")


def set_slider(tab, label: str, value: int):
    box = tab.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")


def test_tab_shows_measured_counts_formulas_chart_and_verdicts(page):
    open_tab(page)
    totals_box = page.locator("#inside-totals")
    for quantity in ("weights", "outputs", "connections"):
        expect(totals_box).to_contain_text(f"{substitute(totals('cnn')[quantity], 32, 24, 3, 32):,}")
    expect(totals_box).to_contain_text("Every layer's measured counts equal its formula")
    expect(page.locator("#inside-layers")).to_contain_text("BatchNorm2d")
    expect(page.locator("#inside-layers")).to_contain_text("NF·k^2 + NF")  # first conv: kernels + biases
    expect(page.locator("#inside-chart")).to_contain_text("Connections (multiply-accumulates) per layer")
    writeups = page.locator("#inside-writeups")
    expect(writeups).to_contain_text("✓ right")
    expect(writeups).to_contain_text("✗ wrong")
    expect(page.locator("#inside-writeup-summary")).to_contain_text("transcribed terms are right")


def test_model_choice_and_sliders_recount(page):
    tab = open_tab(page)
    tab.get_by_role("radio", name="unet").check()
    set_slider(tab, "NF (filters)", 8)
    set_slider(tab, "k (kernel side, odd)", 5)
    totals_box = page.locator("#inside-totals")
    expect(totals_box).to_contain_text("UNET at NF=8, NC=24, k=5, S=32", timeout=TIMEOUT_MS)
    expect(totals_box).to_contain_text(f"{substitute(totals('unet')['connections'], 8, 24, 5, 32):,}")
    set_slider(tab, "S (image side, multiple of 4)", 64)
    expect(totals_box).to_contain_text("S=64", timeout=TIMEOUT_MS)
    expect(totals_box).to_contain_text(f"{substitute(totals('unet')['outputs'], 8, 24, 5, 64):,}")
    expect(totals_box).to_contain_text("Every layer's measured counts equal its formula")


def test_affine_experiment_runs_from_the_tab(page):
    if not list((REPO_ROOT / "checkpoints").glob("*.pt")):
        pytest.skip("no checkpoint in checkpoints/ for the affine experiment")
    tab = open_tab(page)
    tab.get_by_role("button", name="↻ checkpoints").click()  # the app may have started before they existed
    expect(tab.get_by_label("Trained checkpoint")).to_have_value(re.compile(r"\.pt"))
    tab.get_by_label("(a, b) pairs: 'a,b' separated by spaces").fill("1,0 -1,1")
    set_slider(tab, "fine-tuning steps (0 skips (iii))", 0)
    set_slider(tab, "test images", 20)
    set_slider(tab, "training images for fine-tuning", 100)
    page.locator("#inside-affine-run").click()
    summary = page.locator("#inside-affine-summary")
    if not HAVE_CIFAR:  # the app may download CIFAR-10; offline it must say so at once, not time out
        # no folder: the download is tried and fails offline; an empty PIXELWISE_DATA folder: it says so
        offline = page.get_by_text(re.compile(r"cannot be reached \(offline\?\)|does not exist; expected DATA")).first
        expect(summary.filter(has_text="Reference (a=1, b=0)").or_(offline).first).to_be_visible(timeout=120_000)
        if offline.is_visible():
            expect(page.get_by_text("pixelwise.fetch cifar10").first).to_be_visible()
            return
    expect(summary).to_contain_text("Reference (a=1, b=0)", timeout=120_000)
    expect(summary).to_contain_text("20 test and 100 training images")
    table = page.locator("#inside-affine-table")
    expect(table).to_contain_text("-1")
    expect(table).to_contain_text("0.0%")  # a=1, b=0 changes nothing in (i) and (ii)


def test_layer_view_shows_every_step_with_the_tables_numbers(page):
    if not HAVE_CIFAR:
        pytest.skip("the layer view's default image is a CIFAR-10 test image: python -m pixelwise.fetch cifar10")
    open_tab(page)
    expect(page.locator("#inside-layer-checkpoint input")).to_have_value(re.compile(r"unet\.pt"))
    page.locator("#inside-layers-run").click()
    blocks = page.locator("#inside-layer-blocks")
    expect(blocks).to_contain_text("23 steps of UNet on CIFAR-10 test horse #0", timeout=TIMEOUT_MS)
    expect(blocks).to_contain_text("concatenate: rfconv.2 + downconv2.3")
    expect(blocks).to_contain_text("classify")
    table = page.locator("#inside-layer-table")
    expect(table).to_contain_text("concat → upconv1.0")  # a skip concatenation, a step of its own
    expect(table).to_contain_text("4718592")  # downconv2.0's connections, as in the counting table
    expect(page.locator("#inside-layer-gallery img").first).to_be_visible()
