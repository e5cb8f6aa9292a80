"""The house's layering: importing the ML packages starts no thread and loads no Gradio, and the project's
modules import one another without a circle, ML below the app (colorizer/segmenter/inside never reach up
into runs/ or ui/). No data needed."""
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("colorizer", "segmenter", "inside", "pixelwise", "runs", "ui")
ML_PACKAGES = ("colorizer", "segmenter", "inside", "pixelwise")
APP_PACKAGES = ("runs", "ui")


@pytest.mark.parametrize("package", ["colorizer", "segmenter", "inside"])
def test_importing_an_ml_package_starts_no_thread_and_loads_no_gradio(package):
    code = (f"import json, sys, threading; import {package}; "
            "print(json.dumps([threading.active_count(), 'gradio' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    threads, gradio = json.loads(out.stdout.strip().splitlines()[-1])
    assert threads == 1 and gradio is False


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports anywhere in it (top level or inside a function). A module's parent
    packages, which Python imports first, are not counted: only what the import statement names."""
    name, found = module_name(path), set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import submodule" depends on the submodule, "from module import name" on the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # "from x import function": the module x
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [path for package in PACKAGES for path in (REPO / package).rglob("*.py")]
    known = {module_name(path) for path in paths}
    return {module_name(path): imported_modules(path, known) for path in paths}


def test_the_import_graph_is_complete_enough_to_mean_something():
    graph = import_graph()
    assert "runs.runcache" in graph["runs.live"] and "colorizer.trainer" in graph["runs.live"]
    assert "colorizer.models" in graph["colorizer.trainer"]


def test_no_import_circle_among_the_projects_modules():
    graph, state, path = import_graph(), {}, []

    def visit(module):  # depth-first; a module met again while still on the path closes a circle
        state[module] = "open"
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_ml_packages_do_not_import_the_app_rooms():
    upward = {module: sorted(target for target in targets if target.split(".")[0] in APP_PACKAGES)
              for module, targets in import_graph().items() if module.split(".")[0] in ML_PACKAGES}
    assert {module: targets for module, targets in upward.items() if targets} == {}


MAX_FUNCTION_LINES = 40  # a function fits on a screen; the tab builders are composed of small named parts


def long_functions(folder: Path) -> list[str]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(folder.parent)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_long_functions_are_found(tmp_path):
    # The check must be able to fail: a 41-line function is found, a 40-line one is not.
    (tmp_path / "pkg").mkdir()
    body = "".join(f"    x{i} = {i}\n" for i in range(39))
    (tmp_path / "pkg" / "m.py").write_text(f"def short():\n{body}\n\ndef long():\n{body}    return 0\n")
    assert long_functions(tmp_path / "pkg") == ["pkg/m.py:43 long (41 lines)"]


def test_no_function_in_ui_is_longer_than_a_screen():
    assert long_functions(REPO / "ui") == []
