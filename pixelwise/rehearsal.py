"""A Space upload rehearsed on this machine: ``python -m pixelwise.deploy --rehearse [--reuse-packages]``.

Lays out exactly the files an upload carries (pixelwise.deploy.plan) in a fresh temporary folder with nothing
beside it (no ../shared, no data), installs requirements.txt alone into a fresh venv there (or, with
``--reuse-packages``, checks that this Python has its pins and uses it), starts ``python app.py`` there with a
Space's environment and nothing of this shell's, and checks what a visitor and an agent first meet: the page,
every example photo through colourize and segment, and the MCP tools' schemas. Prints each check; 0 when all pass.
"""
import importlib.metadata
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

from .settings import REPO_ROOT

# What Hugging Face sets in a Space's container (an invented Space's names); GRADIO_SERVER_NAME stays local
# here (a Space listens on 0.0.0.0) and analytics off, as there is no network to send them to.
SPACE_ENV = {"SPACE_ID": "rehearsal/pixelwise", "SPACE_AUTHOR_NAME": "rehearsal", "SPACE_REPO_NAME": "pixelwise",
             "SPACE_TITLE": "PixelWise", "SPACE_HOST": "rehearsal-pixelwise.hf.space", "SYSTEM": "spaces",
             "PYTHONUNBUFFERED": "1", "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_ANALYTICS_ENABLED": "False"}
KEPT_FROM_SHELL = ("PATH", "LANG", "LC_ALL", "TMPDIR")  # nothing else: no PIXELWISE_* pointing at data
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MCP_TOOLS = 15
# Gradio watches a Space's files with the `spaces` package, which every Space has installed beforehand (it is not
# on this machine's package mirror); without it that watcher's thread stops at start-up and the app runs on.
NO_SPACES_PACKAGE = re.compile(r"Exception in thread [^\n]*\nTraceback \(most recent call last\):\n(?:  .*\n)+"
                               r"RuntimeError: `spaces` package is required to run hot-reloading in Spaces\n")


def lay_out(rows: list, root: Path, folder: Path) -> Path:
    """Copy the planned files (path, size, lfs) from ``root`` into ``folder``/app; the app's folder."""
    app = folder / "app"
    for name, _, _ in rows:
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, app / name)
    return app


def missing_pins(requirements: Path) -> list[str]:
    """``name==version`` lines of ``requirements`` this Python does not have (local labels like +cpu ignored)."""
    missing = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" not in line:
            continue
        name, version = (part.strip() for part in line.split("==", 1))
        try:
            installed = importlib.metadata.version(name.split("[", 1)[0])
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if (installed or "").split("+", 1)[0] != version:
            missing.append(f"{line} (installed: {installed})")
    return missing


def python_for(app: Path, folder: Path, reuse_packages: bool) -> tuple[Path | None, str]:
    """(the interpreter to run the app with, or None, and what was done) with requirements.txt alone."""
    requirements = app / "requirements.txt"
    if reuse_packages:
        missing = missing_pins(requirements)
        return (None, f"this Python lacks: {'; '.join(missing)}") if missing else \
            (Path(sys.executable), "this Python has every pin of requirements.txt")
    env_dir = folder / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)])
    return (python, "requirements.txt installed alone") if done.returncode == 0 else \
        (None, f"pip install -r requirements.txt failed (exit {done.returncode})")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(python: Path, app: Path, folder: Path, port: int) -> tuple[subprocess.Popen, Path]:
    home = folder / "home"  # the Space's own home: caches start empty
    home.mkdir(exist_ok=True)
    env = {name: os.environ[name] for name in KEPT_FROM_SHELL if name in os.environ}
    env |= SPACE_ENV | {"HOME": str(home), "GRADIO_SERVER_PORT": str(port)}
    log = folder / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(python), "app.py"], cwd=app, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, log


def wait_for_page(url: str, process: subprocess.Popen, timeout_s: float) -> str | None:
    """None once the page answers 200, else why not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the app exited (code {process.returncode}) before its page answered"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200 and b"PixelWise" in response.read():
                    return None
        except OSError:
            pass
        time.sleep(1)
    return f"the page did not answer within {timeout_s:.0f} s"


def check_examples(url: str, app: Path, downloads: Path) -> list[tuple[str, str | None]]:
    """Every example photo through /colourize (five pictures) and /segment (three), each at the photo's size."""
    from gradio_client import Client, handle_file
    from PIL import Image

    client = Client(url, verbose=False, download_files=str(downloads))
    results = []
    for photo in sorted(path for path in (app / "examples").iterdir() if path.suffix.lower() in IMAGE_SUFFIXES):
        size = Image.open(photo).size
        for endpoint, count in (("/colourize", 5), ("/segment", 3)):
            try:
                answer = client.predict(handle_file(str(photo)), api_name=endpoint)
                shown = [Image.open(path).size for path in answer if path]
                ok = len(answer) == count and shown and all(found == size for found in shown)
                results.append((f"{endpoint} {photo.name}", None if ok else f"answered {len(answer)} files of sizes {shown}"))
            except Exception as error:  # any failure is the finding: report it and go on
                results.append((f"{endpoint} {photo.name}", f"{type(error).__name__}: {error}"))
    return results


def check_mcp_schema(url: str) -> str | None:
    """None when /gradio_api/mcp/schema lists every tool with a valid JSON Schema (Draft 2020-12)."""
    with urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=60) as response:
        tools = json.loads(response.read())
    if len(tools) != MCP_TOOLS:
        return f"{len(tools)} MCP tools, expected {MCP_TOOLS}"
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    for tool in tools:
        try:
            Draft202012Validator.check_schema(tool["inputSchema"])
        except SchemaError as error:
            return f"tool {tool['name']}: invalid input schema: {error.message}"
    return None


def run_checks(url: str, app: Path, folder: Path) -> list[tuple[str, str | None]]:
    checks = [("MCP schema", check_mcp_schema(url))]
    return checks + check_examples(url, app, folder / "downloads")


def stop(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """Terminate ``process``, and kill it if it has not ended within ``timeout_s`` (the tests' apps too)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def rehearse(rows: list, root: Path = REPO_ROOT, reuse_packages: bool = False, start_timeout_s: float = 900,
             keep: bool = False) -> int:
    """Lay out, install, start and check (module docstring); print each step; 0 when every check passed."""
    folder = Path(tempfile.mkdtemp(prefix="pixelwise-rehearsal-"))
    failures = 0

    def report(what: str, problem: str | None) -> None:
        nonlocal failures
        failures += problem is not None
        print(f"{'ok    ' if problem is None else 'FAILED'} {what}" + (f": {problem}" if problem else ""), flush=True)

    try:
        app = lay_out(rows, root, folder)
        print(f"rehearsal: {len(rows)} files laid out in {app} (nothing beside it)", flush=True)
        python, how = python_for(app, folder, reuse_packages)
        report(f"packages ({how})" if python else "packages", None if python else how)
        if python is None:
            return 1
        process, log = start_app(python, app, folder, port := free_port())
        url = f"http://127.0.0.1:{port}/"
        try:
            problem = wait_for_page(url, process, start_timeout_s)
            report("the page", problem)
            if problem is None:
                for what, problem in run_checks(url, app, folder):
                    report(what, problem)
        finally:
            stop(process)
        text = log.read_text(errors="replace")
        if NO_SPACES_PACKAGE.search(text):
            print("note   Gradio's Space file watcher stopped: it needs the `spaces` package, which a Space has "
                  "installed and the app's Python here has not", flush=True)
        rest = NO_SPACES_PACKAGE.sub("", text)
        report("the app's log has no traceback", rest[rest.index("Traceback"):][:2000] if "Traceback" in rest else None)
        if failures:
            print(f"rehearsal: {failures} check(s) FAILED; the app's log:\n{text[-4000:]}", flush=True)
        return 1 if failures else 0
    finally:
        if keep:
            print(f"rehearsal: kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
