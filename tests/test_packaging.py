"""The two-command setup: pyproject.toml agrees with requirements*.txt, run.py reuses its venv, CI
runs the README's test command."""
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import run  # noqa: E402  (the repo-root script)

REPO = Path(run.__file__).resolve().parent


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _pin_dict(lines: list[str]) -> dict[str, str]:
    return {run.normalise(name.split("[")[0]): version for name, version in (line.split("==") for line in lines)}


def test_pyproject_and_requirements_txt_ask_for_the_same_extras():
    listed = [line.split("#")[0].split("==")[0].strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert "gradio[mcp]==6.31.0" in _pyproject()["project"]["dependencies"] and "gradio[mcp]" in listed
    assert {name for name in listed if "[" in name} == {line.split("==")[0] for line in
                                                        _pyproject()["project"]["dependencies"] if "[" in line}


def test_pyproject_dependencies_equal_requirements_txt():
    project = _pyproject()["project"]
    assert _pin_dict(project["dependencies"]) == run.pins(REPO / "requirements.txt")


def test_pyproject_test_extra_equals_requirements_dev_txt():
    project = _pyproject()["project"]
    dev_only = {name: v for name, v in run.pins(REPO / "requirements-dev.txt").items()
                if name not in run.pins(REPO / "requirements.txt")}
    assert _pin_dict(project["optional-dependencies"]["test"]) == dev_only


def test_pyproject_declares_python_and_pytest_settings():
    data = _pyproject()
    assert data["project"]["name"] == "pixelwise"
    assert data["project"]["requires-python"] == ">=3.11"
    assert data["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    assert not (REPO / "pytest.ini").exists()  # one place for pytest settings


def test_ci_and_readme_use_the_same_test_command():
    ci_lines = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line.strip()]
    assert ci_lines[-1] == "python3 run.py test"
    assert "python3 run.py test" in (REPO / "README.md").read_text()


def test_pins_follow_includes_and_normalise_names(tmp_path):
    (tmp_path / "a.txt").write_text("Foo_Bar==1.0  # why\n\n# comment\n")
    (tmp_path / "b.txt").write_text("-r a.txt\nbaz.qux==2.1\n")
    assert run.pins(tmp_path / "b.txt") == {"foo-bar": "1.0", "baz-qux": "2.1"}


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """A project whose only pin is the pytest already installed, with run.py pointed at it."""
    version = importlib.metadata.version("pytest")
    (tmp_path / "requirements.txt").write_text(f"pytest=={version}\n")
    (tmp_path / "requirements-dev.txt").write_text("-r requirements.txt\n")
    venv_dir = tmp_path / ".venv"
    monkeypatch.setattr(run, "REPO", tmp_path)
    monkeypatch.setattr(run, "VENV", venv_dir)
    monkeypatch.setattr(run, "STAMP", venv_dir / "pixelwise-installed.json")
    monkeypatch.delenv("PIXELWISE_SYSTEM_SITE", raising=False)
    return tmp_path


def test_run_creates_the_venv_once_and_installs_only_when_requirements_change(tiny_project, monkeypatch):
    pip_calls = []
    real_run = subprocess.run

    def spy(command, **kwargs):
        if command[1:4] == ["-m", "pip", "install"]:  # not venv's own ensurepip call
            pip_calls.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(run.subprocess, "run", spy)
    python = run.ensure_venv("test")
    assert python.exists() and len(pip_calls) == 1
    cfg = (tiny_project / ".venv" / "pyvenv.cfg").read_text()
    assert "include-system-site-packages = true" in cfg  # pins satisfied here: reuse, no reinstall

    assert run.ensure_venv("test") == python and len(pip_calls) == 1  # nothing changed: no pip
    assert run.ensure_venv("app") == python and len(pip_calls) == 1   # app's files are a subset

    (tiny_project / "requirements-dev.txt").write_text("-r requirements.txt\n# changed\n")
    run.ensure_venv("test")
    assert len(pip_calls) == 2


def test_run_rejects_unknown_commands(capsys):
    assert run.main(["deploy"]) == 2
    assert "usage: python3 run.py {app,test}" in capsys.readouterr().err
