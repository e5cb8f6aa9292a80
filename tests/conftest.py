"""Shared fixtures for browser tests: a live `python app.py` and a Playwright page on Chromium.

`app_url` starts the app once per test session on a free port; `page` gives each test a
fresh browser page already opened at that URL. The browser is Debian's /usr/bin/chromium when
installed (.ci/run installs it), else a Chromium that Playwright already downloaded; with neither,
browser tests skip and say how to get one.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# A test run writes its temporary files into one folder of its own, removed when the run ends (issue 21:
# nothing left in the temp directory): gradio_client leaves an empty <tmp>/<40 hex digits> folder for every
# file it downloads, the in-process Gradio its cache, the apps the tests start theirs (they inherit TMPDIR),
# pytest its tmp_path folders. Set before anything imports gradio (it reads the temp directory at import).
TEST_TEMP = Path(tempfile.mkdtemp(prefix="pixelwise-tests-"))
os.environ["TMPDIR"] = tempfile.tempdir = str(TEST_TEMP)

import pytest  # noqa: E402

from pixelwise.rehearsal import stop  # noqa: E402
from pixelwise.settings import screenshot_dir  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Cold imports of torch + gradio and building every tab: building alone took 6.7 min under `nice -n 10` on the
# 2-core box shared with a training run (2026-12-02), so the default leaves room; PIXELWISE_TEST_APP_START_S overrides.
APP_START_TIMEOUT_S = float(os.environ.get("PIXELWISE_TEST_APP_START_S", "900"))
APP_START_TRIES = 3  # gradio's launch can fail under load ("When localhost is not accessible..."): start again
LOCALHOST_FAILURE = "localhost is not accessible"


def find_chromium() -> str | None:
    """Debian's Chromium, else the one `playwright install chromium` put in Playwright's cache, else None."""
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    try:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # playwright missing, or its driver cannot start
        return None
    return path if path and os.path.exists(path) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_answers(url: str, proc: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + APP_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"app.py did not answer at {url} within {APP_START_TIMEOUT_S}s:\n"
                       f"{log_path.read_text()[-4000:]}")


def app_checkpoints(folder: Path) -> Path:
    """The shipped checkpoints, linked into ``folder``, plus a tiny beyond-the-handout model (1 epoch, NF 8)
    when checkpoints/colour_mobile_unet.pt is not there yet, so the Colourize tab always has its three models."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in (REPO_ROOT / "checkpoints").glob("*.pt"):
        (folder / path.name).symlink_to(path)
    from tests.helpers import CIFAR, HAVE_CIFAR

    if not (folder / "colour_mobile_unet.pt").exists() and HAVE_CIFAR:
        from colorizer import TrainConfig, train

        config = TrainConfig(model="mobile_unet", target="lab_grid", rebalance=0.5, pretrained=False, data_root=str(CIFAR),
                             epochs=1, num_filters=8, train_limit=200, val_limit=50, device="cpu")
        train(config).save(folder / "colour_mobile_unet.pt")
    return folder


def _start_app(env: dict, url: str, log_path: Path) -> subprocess.Popen:
    """`python app.py`, answering at ``url``; started again when gradio's launch failed to reach localhost
    (it does so now and then on a loaded machine), up to APP_START_TRIES times."""
    for attempt in range(1, APP_START_TRIES + 1):
        with open(log_path, "w") as log:
            proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_answers(url, proc, log_path)
            return proc
        except RuntimeError:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if attempt == APP_START_TRIES or LOCALHOST_FAILURE not in log_path.read_text():
                raise
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory) -> Path:
    """The running app's own folder: its log (app.log), checkpoints, trained/ folder and run cache."""
    return tmp_path_factory.mktemp("app")


@pytest.fixture(scope="session")
def app_url(app_dir):
    """URL of a `python app.py` started for this test session on a free port; killed at the end."""
    port = _free_port()
    log_path = app_dir / "app.log"
    # Checkpoints saved by browser tests, and the runs kept for replay, go to a temporary folder.
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               PIXELWISE_TRAINED=str(app_dir / "trained"), PIXELWISE_RUN_CACHE=str(app_dir / "runs"),
               PIXELWISE_CHECKPOINTS=str(app_checkpoints(app_dir / "checkpoints")))
    env.setdefault("OMP_NUM_THREADS", "1")
    url = f"http://127.0.0.1:{port}/"
    proc = _start_app(env, url, log_path)
    try:
        yield url
    finally:
        stop(proc, timeout_s=15)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where a browser test's screenshots go: PIXELWISE_SCREENSHOT_DIR when set (to keep them), else a temp folder."""
    folder = screenshot_dir()
    if folder:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (skips, naming the install commands, without one)."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(f"no Chromium: `apt-get install -y chromium` (Debian/Ubuntu, as .ci/run does) or "
                    f"`python -m playwright install chromium` (any OS; then rerun `python3 run.py test`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    """A fresh Playwright page (own context, 1400x1000) opened at the running app, its first examples shown."""
    from tests.helpers import wait_for_first_examples

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_role("tab").first.wait_for()
    wait_for_first_examples(page)
    yield page
    context.close()


def pytest_unconfigure(config):
    """The run's temp folder goes at the very end (after every fixture's teardown and the apps' exits)."""
    shutil.rmtree(TEST_TEMP, ignore_errors=True)
