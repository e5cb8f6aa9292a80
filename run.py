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

On Linux without an NVIDIA GPU, torch and torchvision come first from PyTorch's CPU index (about 1.4 GB
installed instead of 5.9 with the CUDA build pip's default index gives); when that index does not answer
within a few seconds, one line says so and the default index (with pip's own configuration) is used.
PIXELWISE_TORCH=cpu or =cuda (the default index) decides instead.
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
import threading
import urllib.request
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent
sys.path.insert(0, str(REPO))
from pixelwise.settings import system_site_choice, torch_build, venv_dir  # noqa: E402  (stdlib only: safe before any install)

VENV = venv_dir(REPO)
STAMP = VENV / "pixelwise-installed.json"
REQUIREMENTS = {"app": ["requirements.txt"], "test": ["requirements.txt", "requirements-dev.txt"]}
TEST_COMMAND = ["-m", "pytest", "-q"]
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = ("torch", "torchvision")  # the pair PyTorch's CPU index serves, pinned together
INDEX_PROBE_S = 4.0  # a reachable index answers in well under a second; offline, DNS alone can take longer
PIP_INSTALL = ["-m", "pip", "install", "--disable-pip-version-check", "-q"]


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
    shutil.rmtree(VENV, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, system_site_packages=system_site, symlinks=os.name != "nt").create(VENV)


def wanted_torch(system: str, has_nvidia_gpu: bool, environ: dict) -> str:
    """"cpu" (PyTorch's CPU index) or "default" (pip's own indexes): PIXELWISE_TORCH when set, else cpu on Linux
    without an NVIDIA GPU (elsewhere pip's default wheels are already CPU or Apple builds), unless pip is
    already pointed at a PyTorch index (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL), which is then left to pip."""
    chosen = torch_build()
    if chosen is not None:
        return "cpu" if chosen == "cpu" else "default"
    indexes = environ.get("PIP_INDEX_URL", "") + environ.get("PIP_EXTRA_INDEX_URL", "")
    if system != "Linux" or has_nvidia_gpu or "download.pytorch.org" in indexes:
        return "default"
    return "cpu"


def index_reachable(url: str, timeout_s: float = INDEX_PROBE_S) -> bool:
    """Does ``url`` answer within ``timeout_s``, name lookup included (a thread: urllib's timeout misses DNS)?"""
    answered = []

    def probe():
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/torch/", timeout=timeout_s):
                answered.append(True)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout_s)
    return bool(answered)


def torch_command(python: Path, versions: dict[str, str], index: str) -> list[str]:
    """pip installing the pinned torch and torchvision from ``index`` alone (their +cpu builds satisfy the pins)."""
    return [str(python), *PIP_INSTALL, "--index-url", index, *(f"{name}=={versions[name]}" for name in TORCH_PACKAGES)]


def requirements_command(python: Path, file: Path) -> list[str]:
    return [str(python), *PIP_INSTALL, "-r", str(file)]


def install_commands(python: Path, file: Path, torch_installed: str | None, choice: str,
                     reachable=None) -> list[list[str]]:
    """The pip commands that install ``file``: first the CPU torch pair when ``choice`` is cpu, the pinned torch
    is not installed yet and the CPU index answers (else one line says why the default index is used)."""
    versions = pins(file)
    commands = [requirements_command(python, file)]
    if choice != "cpu" or "torch" not in versions or (torch_installed or "").split("+")[0] == versions["torch"]:
        return commands
    if not (reachable or index_reachable)(CPU_TORCH_INDEX):
        print(f"run.py: PyTorch's CPU index ({CPU_TORCH_INDEX}) did not answer within {INDEX_PROBE_S:.0f} s; "
              "installing torch from pip's default index instead (on Linux the CUDA build, ~4.5 GB more)", flush=True)
        return commands
    print(f"run.py: no NVIDIA GPU: torch and torchvision from PyTorch's CPU index (~1.4 GB; PIXELWISE_TORCH=cuda "
          "for the CUDA build)", flush=True)
    return [torch_command(python, versions, CPU_TORCH_INDEX), *commands]


def installed_version(python: Path, name: str) -> str | None:
    """The version of ``name`` that ``python`` imports, None when it has none."""
    code = f"import importlib.metadata as m\ntry: print(m.version({name!r}))\nexcept m.PackageNotFoundError: pass"
    found = subprocess.run([str(python), "-c", code], capture_output=True, text=True).stdout.strip()
    return found or None


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
    file = REPO / files[-1]  # the last file includes the ones before it (-r)
    choice = wanted_torch(platform.system(), shutil.which("nvidia-smi") is not None, dict(os.environ))
    torch_installed = installed_version(python, "torch") if choice == "cpu" and "torch" in pins(file) else None
    print(f"run.py: installing {files[-1]} into {VENV}", flush=True)
    for command in install_commands(python, file, torch_installed, choice):
        subprocess.run(command, check=True)
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
    except ValueError as error:  # a setting with a value it cannot take
        print(f"run.py: {error}", file=sys.stderr)
        return 2
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
