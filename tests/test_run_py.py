"""run.py's lean install, without the network: which PyTorch it asks for on each machine, the pip command lines
it builds (the CPU index first, or exactly today's install when that index does not answer), the probe's bound,
and the torch step run for real by pip against a local index of stand-in wheels built here."""
import http.server
import os
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

import run

REQUIREMENTS = run.REPO / "requirements.txt"
PINS = run.pins(REQUIREMENTS)
PYTHON = Path("/venv/bin/python")


@pytest.fixture(autouse=True)
def no_torch_setting(monkeypatch):
    monkeypatch.delenv("PIXELWISE_TORCH", raising=False)


@pytest.mark.parametrize("system, gpu, environ, setting, wanted", [
    ("Linux", False, {}, None, "cpu"),                      # a student's laptop: the lean build, unasked
    ("Linux", True, {}, None, "default"),                   # an NVIDIA GPU: pip's default CUDA build
    ("Darwin", False, {}, None, "default"),                 # macOS and Windows wheels are CPU builds already
    ("Windows", False, {}, None, "default"),
    ("Linux", False, {"PIP_EXTRA_INDEX_URL": run.CPU_TORCH_INDEX}, None, "default"),  # pip was told already
    ("Linux", False, {}, "cuda", "default"),                # PIXELWISE_TORCH decides
    ("Linux", True, {}, "cpu", "cpu"),
    ("Darwin", False, {}, "CPU", "cpu"),
])
def test_which_torch_each_machine_gets(monkeypatch, system, gpu, environ, setting, wanted):
    if setting:
        monkeypatch.setenv("PIXELWISE_TORCH", setting)
    assert run.wanted_torch(system, gpu, environ) == wanted


def test_a_wrong_setting_is_refused_plainly(monkeypatch, capsys):
    monkeypatch.setenv("PIXELWISE_TORCH", "rocm")
    monkeypatch.setattr(run, "VENV", Path("/nonexistent/pixelwise-venv"))
    monkeypatch.setattr(run, "venv_python", lambda: Path(sys.executable))  # an existing venv: no creation
    monkeypatch.setattr(run, "read_stamp", dict)  # the requirements "changed": run.py decides what to install
    assert run.main(["app"]) == 2
    assert "PIXELWISE_TORCH is 'rocm': set it to cpu or cuda" in capsys.readouterr().err


def never_probed(url):
    raise AssertionError(f"probed {url}")


def test_no_gpu_and_the_cpu_index_answers_torch_comes_from_it_first(capsys):
    commands = run.install_commands(PYTHON, REQUIREMENTS, None, "cpu", reachable=lambda url: True)
    assert commands == [
        [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--index-url",
         "https://download.pytorch.org/whl/cpu", f"torch=={PINS['torch']}", f"torchvision=={PINS['torchvision']}"],
        [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", str(REQUIREMENTS)]]
    assert "PyTorch's CPU index" in capsys.readouterr().out


def test_the_cpu_index_silent_one_line_and_exactly_todays_install(capsys):
    """CI here: no internet but a local mirror in pip's own configuration, which the plain command keeps using."""
    commands = run.install_commands(PYTHON, REQUIREMENTS, None, "cpu", reachable=lambda url: False)
    assert commands == [[str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r",
                         str(REQUIREMENTS)]]
    (line,) = capsys.readouterr().out.splitlines()
    assert "did not answer" in line and "default index" in line


@pytest.mark.parametrize("choice, installed", [("default", None), ("cpu", PINS["torch"] + "+cpu"),
                                               ("cpu", PINS["torch"])])
def test_nothing_is_probed_when_torch_is_not_to_come_from_the_cpu_index(choice, installed):
    commands = run.install_commands(PYTHON, REQUIREMENTS, installed, choice, reachable=never_probed)
    assert [command[-2:] for command in commands] == [["-r", str(REQUIREMENTS)]]


def test_requirements_without_torch_are_installed_as_they_are(tmp_path):
    (tmp_path / "requirements.txt").write_text("pytest==9.0.3\n")
    commands = run.install_commands(PYTHON, tmp_path / "requirements.txt", None, "cpu", reachable=never_probed)
    assert len(commands) == 1


@pytest.mark.parametrize("answers", [False, True])
def test_a_first_install_here_without_a_gpu(tmp_path, monkeypatch, capsys, answers):
    """ensure_venv as `python3 run.py test` runs it on this Linux machine without nvidia-smi: with the CPU index
    silent (CI here) exactly the one pip command of before; with it answering, the torch pair from it first."""
    venv_dir = tmp_path / ".venv"
    (venv_dir / "bin").mkdir(parents=True)
    (venv_dir / "bin" / "python").symlink_to(sys.executable)  # an existing venv: nothing created
    monkeypatch.setattr(run, "VENV", venv_dir)
    monkeypatch.setattr(run, "STAMP", venv_dir / "pixelwise-installed.json")
    monkeypatch.setattr(run, "venv_python", lambda: venv_dir / "bin" / "python")
    monkeypatch.setattr(run.platform, "system", lambda: "Linux")
    monkeypatch.setattr(run.shutil, "which", lambda name: None)
    monkeypatch.setattr(run, "index_reachable", lambda url: answers)
    monkeypatch.setattr(run, "installed_version", lambda python, name: None)  # torch not there yet
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    commands = []
    monkeypatch.setattr(run.subprocess, "run", lambda command, **kwargs: commands.append(command))
    python = str(run.ensure_venv("test"))
    today = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r",
             str(run.REPO / "requirements-dev.txt")]
    torch_first = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--index-url",
                   run.CPU_TORCH_INDEX, f"torch=={PINS['torch']}", f"torchvision=={PINS['torchvision']}"]
    assert commands == ([torch_first, today] if answers else [today])
    assert run.ensure_venv("test") == Path(python) and len(commands) == (2 if answers else 1)  # stamped: no pip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_probe_gives_up_on_a_closed_port_and_on_a_server_that_never_answers():
    assert not run.index_reachable(f"http://127.0.0.1:{free_port()}/", timeout_s=2)
    with socket.socket() as silent:  # accepts connections (the backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        assert not run.index_reachable(f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_s=0.5)


def stand_in_wheel(folder: Path, name: str, version: str) -> Path:
    """A tiny installable wheel ``name`` ``version`` (a package holding its version) in ``folder``."""
    dist_info = f"{name}-{version}.dist-info"
    files = {f"{name}/__init__.py": f"__version__ = {version!r}\n",
             f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: pixelwise-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    files[f"{dist_info}/RECORD"] = "".join(f"{path},,\n" for path in files) + f"{dist_info}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def stand_in_index(tmp_path) -> Path:
    """A PEP 503 index (a folder per project with an index.html) holding +cpu stand-ins of the pinned pair."""
    index = tmp_path / "simple"
    for name in run.TORCH_PACKAGES:
        project = index / name
        project.mkdir(parents=True)
        wheel = stand_in_wheel(project, name, PINS[name] + "+cpu")
        (project / "index.html").write_text(f'<html><body><a href="{wheel.name}">{wheel.name}</a></body></html>\n')
    return index


def test_pip_installs_the_pinned_pair_from_an_index_of_stand_in_wheels(stand_in_index, tmp_path):
    """The torch step exactly as built, run by pip (into a folder, not this venv), against a local index: the
    +cpu builds satisfy the pins. pip's own configuration is left out so only this index can answer."""
    target = tmp_path / "installed"
    command = run.torch_command(Path(sys.executable), PINS, stand_in_index.as_uri())
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1")
    subprocess.run([*command, "--target", str(target)], check=True, env=env, timeout=300)
    assert sorted(path.name for path in target.glob("*.dist-info")) == [
        f"torch-{PINS['torch']}+cpu.dist-info", f"torchvision-{PINS['torchvision']}+cpu.dist-info"]


def test_the_probe_finds_an_index_that_answers(stand_in_index):
    handler = lambda *args: http.server.SimpleHTTPRequestHandler(*args, directory=str(stand_in_index))  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert run.index_reachable(f"http://127.0.0.1:{server.server_address[1]}/")
    finally:
        server.shutdown()
        server.server_close()
