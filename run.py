#!/usr/bin/env python3
"""Set up and run PixelWise: `python3 run.py app` serves the app, `python3 run.py test` runs the tests.

A Python script rather than a Makefile or shell script: every student has Python on Linux, macOS and
Windows, not every one has make or bash.

Each command creates (or reuses) the project-local virtual environment `.venv/`, installs the pinned
requirements into it only when the requirement files changed since the last install (a hash stamp in
`.venv/`), then runs `app.py` or `python -m pytest -q` with the venv's Python. Extra arguments are
passed on: `python3 run.py test tests/test_images.py -x`, `python3 run.py app --help`.

When the Python running this script already has every pinned version installed (a lab machine, CI),
the venv is created with `--system-site-packages` and pip finds everything satisfied, so no 2-6 GB of
torch is copied again. PIXELWISE_SYSTEM_SITE=0 forces an isolated venv, =1 forces reuse.
"""
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
from pixelwise.settings import system_site_choice, venv_dir  # noqa: E402  (stdlib only: safe before any install)

VENV = venv_dir(REPO)
STAMP = VENV / "pixelwise-installed.json"
REQUIREMENTS = {"app": ["requirements.txt"], "test": ["requirements.txt", "requirements-dev.txt"]}
TEST_COMMAND = ["-m", "pytest", "-q"]
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def venv_python() -> Path:
    """The venv's interpreter (Scripts\\python.exe on Windows, bin/python elsewhere)."""
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pins(path: Path) -> dict[str, str]:
    """name -> pinned version for every `name==version` line, following `-r other.txt`."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
        elif "==" in line:
            name, version = (part.strip() for part in line.split("==", 1))
            found[normalise(name.split("[", 1)[0])] = version  # gradio[mcp]: the extra's own packages come with pip
    return found


def normalise(name: str) -> str:
    """PEP 503 name: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins_satisfied_here(files: list[str]) -> bool:
    """Whether this interpreter already has every pinned version (local labels like +cu130 ignored)."""
    for file in files:
        for name, version in pins(REPO / file).items():
            try:
                installed = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                return False
            if installed.split("+", 1)[0] != version:
                return False
    return True


def read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def create_venv(files: list[str]) -> None:
    choice = system_site_choice()
    system_site = pins_satisfied_here(files) if choice is None else choice
    how = "reusing this Python's installed packages" if system_site else "isolated"
    print(f"run.py: creating {VENV} ({how})", flush=True)
    if not system_site:
        torch_hint()
    shutil.rmtree(VENV, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, system_site_packages=system_site, symlinks=os.name != "nt").create(VENV)


def torch_hint() -> None:
    """On Linux without an NVIDIA GPU, say how to get the CPU-only torch wheels (pip's default is CUDA)."""
    if platform.system() != "Linux" or shutil.which("nvidia-smi"):
        return
    indexes = os.environ.get("PIP_INDEX_URL", "") + os.environ.get("PIP_EXTRA_INDEX_URL", "")
    if "download.pytorch.org" not in indexes:
        print(f"run.py: no NVIDIA GPU here; for CPU-only torch wheels (a much smaller .venv) stop and rerun "
              f"with PIP_EXTRA_INDEX_URL={CPU_TORCH_INDEX}", flush=True)


def ensure_venv(mode: str) -> Path:
    """Create or reuse .venv and install `mode`'s requirements when they changed; return its Python."""
    files = REQUIREMENTS[mode]
    python = venv_python()
    if not python.exists():
        create_venv(files)
    stamp = read_stamp()
    wanted = {file: file_hash(REPO / file) for file in files}
    if all(stamp.get(file) == digest for file, digest in wanted.items()):
        return python
    for file in files[-1:]:  # the last file includes the ones before it (-r)
        print(f"run.py: installing {file} into {VENV}", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        "-r", str(REPO / file)], check=True)
    stamp.update(wanted)
    STAMP.write_text(json.dumps(stamp, indent=1))
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 11):
        print(f"run.py: PixelWise needs Python >= 3.11, this is {platform.python_version()}", file=sys.stderr)
        return 2
    if not argv or argv[0] not in REQUIREMENTS:
        print(__doc__.split("\n\n")[0] + "\nusage: python3 run.py {app,test} [args...]", file=sys.stderr)
        return 2
    mode, rest = argv[0], argv[1:]
    try:
        python = ensure_venv(mode)
    except subprocess.CalledProcessError as error:
        print(f"run.py: installing the requirements failed ({error}); fix the message above and rerun",
              file=sys.stderr)
        return error.returncode or 1
    command = [str(python), "app.py", *rest] if mode == "app" else [str(python), *TEST_COMMAND, *rest]
    try:
        return subprocess.run(command, cwd=REPO).returncode
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
