"""pixelwise.deploy: what a Space gets (dry run), front matter checks, clear failures without token or network, and
the rehearsal (the uploaded files started alone, as a Space would: pixelwise/rehearsal.py)."""
import re
import socket
import subprocess
import time

import pytest

from pixelwise import deploy
from pixelwise.rehearsal import rehearse

FRONT = "---\ntitle: T\nsdk: gradio\nsdk_version: 6.31.0\npython_version: \"3.11\"\napp_file: app.py\n---\n# T\n"


@pytest.fixture
def project(tmp_path):
    """A small git checkout with what a Space needs and what it must not get."""
    files = {
        "README.md": FRONT, "app.py": "print('hi')\n", "requirements.txt": "gradio==6.31.0\n",
        "colorizer/models.py": "", "checkpoints/unet.pt": b"\x80weights",
        "checkpoints/session/mine.pt": b"\x80session", "colorizer/__pycache__/models.cpython-311.pyc": b"\x00",
        "tests/test_app.py": "", ".ci/run": "", "run.py": "", "requirements-dev.txt": "",
        "results/big.csv": "x" * (deploy.LFS_MIN_BYTES + 1), "untracked.txt": "",
    }
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "-f", *[n for n in files if n != "untracked.txt"]], cwd=tmp_path, check=True)
    return tmp_path


def test_dry_run_plan_keeps_what_the_space_runs_and_nothing_else(project):
    rows, meta, problems = deploy.plan(project)
    assert {name: lfs for name, _, lfs in rows} == {
        "README.md": False, "app.py": False, "requirements.txt": False, "colorizer/models.py": False,
        "checkpoints/unet.pt": True, "results/big.csv": True,  # binary suffix / over 10 MB -> LFS
    }
    assert meta["sdk"] == "gradio" and problems == []
    with_tests = [name for name, _, _ in deploy.plan(project, with_tests=True)[0]]
    assert "tests/test_app.py" in with_tests and "checkpoints/session/mine.pt" not in with_tests


def test_dry_run_on_this_repository_prints_files_sizes_and_front_matter(capsys):
    assert deploy.main(["someone/pixelwise", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "LFS  checkpoints/flowers_deeplab.pt" in out and " app.py" in out
    assert "sdk: gradio" in out and "app_file: app.py" in out and "PROBLEM" not in out
    listed = [line.split()[-1] for line in out.splitlines() if line.startswith("  ") and line.split()[0][0].isdigit()]
    assert not [name for name in listed if name.startswith(("tests/", ".ci/", "checkpoints/session/", "benchmarks/"))]
    assert not [name for name in listed if "__pycache__" in name or name.endswith(".pyc")]


def test_front_matter_problems_are_reported(project, capsys):
    (project / "README.md").write_text(FRONT.replace("6.31.0", "5.0.0").replace("app_file: app.py", "app_file: main.py"))
    _, _, problems = deploy.plan(project)
    assert any("requirements.txt pins gradio==6.31.0" in p for p in problems)
    assert any("'main.py' is not among the uploaded files" in p for p in problems)
    (project / "README.md").write_text("# no front matter\n")
    with pytest.raises(deploy.DeployError, match="no front matter"):
        deploy.plan(project)


def test_without_token_or_network_it_says_so_quickly(monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", "")
    monkeypatch.setattr("huggingface_hub.get_token", lambda: None)
    assert deploy.main(["someone/pixelwise"]) == 1
    assert "no Hugging Face token: run `hf auth login`" in capsys.readouterr().err

    monkeypatch.setattr("huggingface_hub.get_token", lambda: "hf_dummy")

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    start = time.monotonic()
    assert deploy.main(["someone/pixelwise"]) == 1
    assert time.monotonic() - start < 10
    assert "cannot reach https://huggingface.co (offline?)" in capsys.readouterr().err


def test_bad_space_name_is_refused():
    with pytest.raises(SystemExit):
        deploy.main(["just-a-name", "--dry-run"])


def test_a_rehearsal_says_when_the_app_does_not_start(project, capsys):
    rows, _, _ = deploy.plan(project)  # its app.py prints "hi" and ends
    assert rehearse(rows, project, reuse_packages=True, start_timeout_s=120) == 1
    out = capsys.readouterr().out
    assert f"rehearsal: {len(rows)} files laid out" in out and "nothing beside it" in out
    assert "FAILED the page: the app exited (code 0) before its page answered" in out and "hi" in out


def test_a_rehearsal_says_which_pins_this_python_lacks(project, capsys):
    (project / "requirements.txt").write_text("gradio==6.31.0\nno-such-package-here==1.0\n")
    assert rehearse(deploy.plan(project)[0], project, reuse_packages=True) == 1
    assert "FAILED packages: this Python lacks: no-such-package-here==1.0 (installed: None)" in capsys.readouterr().out


def test_the_space_rehearsed_from_this_checkout(capsys):
    """The files an upload carries, alone in a fresh folder with a Space's environment: the page, every example
    through colourize and segment, the MCP schema, and no traceback (about a minute and a half here)."""
    assert deploy.main(["--rehearse", "--reuse-packages"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "ok     the page" in out and "ok     MCP schema" in out and "FAILED" not in out
    examples = sorted(path.name for path in (deploy.REPO_ROOT / "examples").glob("*.jpg"))
    assert examples and all(f"ok     /colourize {name}" in out and f"ok     /segment {name}" in out for name in examples)


def test_a_rehearsal_installs_requirements_txt_alone_into_a_fresh_venv(project, capsys):
    """Without --reuse-packages: a venv of its own, requirements.txt installed there (here a file pinning nothing,
    so that pip is quick), and the app started with that venv's Python (this one prints "hi" and ends)."""
    (project / "requirements.txt").write_text("# nothing pinned\n")
    (project / "app.py").write_text("import sys; print('hi from', sys.prefix)\n")
    assert rehearse(deploy.plan(project)[0], project, reuse_packages=False, start_timeout_s=120) == 1
    out = capsys.readouterr().out
    assert "ok     packages (requirements.txt installed alone)" in out
    assert re.search(r"hi from \S*pixelwise-rehearsal-\w+/venv", out)  # the app ran on the fresh venv's Python
