"""Put the app on a Hugging Face Space in one command.

    python -m pixelwise.deploy USER/SPACE --dry-run     # the files (with sizes) and the front matter, no network
    python -m pixelwise.deploy USER/SPACE               # create the Space if needed, upload, print its URL
    python -m pixelwise.deploy USER/SPACE --hardware zero-a10g   # a ZeroGPU Space (see pixelwise/zerogpu.py)
    python -m pixelwise.deploy --rehearse [--reuse-packages]     # run those files as a Space would, here

Uploads the files git tracks, minus what a Space does not run (tests, CI, benchmarks, scripts, dev
requirements, run.py; `--with-tests` keeps the tests) and never caches or session checkpoints. Binary and
large files (checkpoints, screenshots) go through the Hub's large-file storage: the upload carries a
.gitattributes that marks them, and huggingface_hub sends them as LFS objects. The README's front matter
is checked first (sdk gradio, sdk_version = the pinned gradio, app_file present).
"""
import argparse
import fnmatch
import subprocess
import sys
from pathlib import Path

from .network import url_reachable
from .settings import REPO_ROOT

HUB = "https://huggingface.co"
LFS_MIN_BYTES = 10 * 1024 * 1024  # the Hub refuses plain-git files above 10 MB
LFS_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".npz")
NEVER = ("checkpoints/session/*", "*/__pycache__/*", "*.pyc", ".gradio/*", ".venv/*", "*.tmp", "*.pixelwise-partial", ".pytest_cache/*",
         "flagged/*", "results/tmp/*")
DEV_ONLY = (".ci/*", "benchmarks/*", "scripts/*", "requirements-dev.txt", "run.py", ".gitignore")
TESTS = ("tests/*",)


class DeployError(RuntimeError):
    """The Space cannot be created or uploaded; the message says why and what to do."""


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    """Files git tracks (so nothing ignored or stray comes along); every file when root is not a checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
        names = [name for name in out.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(name for name in names if (root / name).is_file())


def select(names: list[str], with_tests: bool = False) -> list[str]:
    skip = NEVER + DEV_ONLY + (() if with_tests else TESTS)
    return [name for name in names if not any(fnmatch.fnmatch(name, pattern) for pattern in skip)]


def uses_lfs(name: str, size: int) -> bool:
    return size >= LFS_MIN_BYTES or name.lower().endswith(LFS_SUFFIXES)


def gitattributes() -> str:
    lines = [f"*{suffix} filter=lfs diff=lfs merge=lfs -text" for suffix in LFS_SUFFIXES]
    return "\n".join(lines) + "\n"


def front_matter(readme: Path) -> dict[str, str]:
    """The `key: value` lines between the README's leading '---' lines."""
    lines = readme.read_text().splitlines()
    if not lines or lines[0].strip() != "---" or "---" not in [line.strip() for line in lines[1:]]:
        raise DeployError(f"{readme} has no front matter (a block between '---' lines at the very top)")
    end = [line.strip() for line in lines].index("---", 1)
    meta = {}
    for line in lines[1:end]:
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip().strip('"')
    return meta


def check_front_matter(meta: dict[str, str], files: list[str], root: Path = REPO_ROOT) -> list[str]:
    """Problems that would keep the Space from starting (empty when it is fine)."""
    problems = []
    if meta.get("sdk") != "gradio":
        problems.append(f"sdk is {meta.get('sdk')!r}, expected 'gradio'")
    pinned = {name.split("[")[0]: version for name, version in (line.split("==") for line in
              (root / "requirements.txt").read_text().split() if "==" in line)}.get("gradio")  # gradio[mcp]==...
    if meta.get("sdk_version") != pinned:
        problems.append(f"sdk_version is {meta.get('sdk_version')!r} but requirements.txt pins gradio=={pinned}")
    if meta.get("app_file") not in files:
        problems.append(f"app_file {meta.get('app_file')!r} is not among the uploaded files")
    for key in ("title", "python_version"):
        if not meta.get(key):
            problems.append(f"{key} is missing")
    return problems


def plan(root: Path = REPO_ROOT, with_tests: bool = False) -> tuple[list[tuple[str, int, bool]], dict, list]:
    """([(path, bytes, via LFS)], front matter, problems) for what would be uploaded."""
    files = select(tracked_files(root), with_tests)
    rows = [(name, (root / name).stat().st_size, uses_lfs(name, (root / name).stat().st_size)) for name in files]
    meta = front_matter(root / "README.md")
    return rows, meta, check_front_matter(meta, files, root)


def print_plan(space: str, rows, meta, problems) -> None:
    print(f"Space {space}: {len(rows)} files, {sum(size for _, size, _ in rows) / 1e6:.1f} MB")
    for name, size, lfs in rows:
        print(f"  {size:>12,}  {'LFS ' if lfs else '    '} {name}")
    print("  (+ .gitattributes marking " + ", ".join(f"*{s}" for s in LFS_SUFFIXES) + " for LFS)")
    print("Front matter (README.md):")
    for key, value in meta.items():
        print(f"  {key}: {value}")
    for problem in problems:
        print(f"PROBLEM: {problem}")


def upload(space: str, rows, root: Path = REPO_ROOT, hardware: str | None = None, private: bool = False) -> str:
    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    if not get_token():
        raise DeployError("no Hugging Face token: run `hf auth login` (or set HF_TOKEN) with a write token")
    if not url_reachable(HUB):
        raise DeployError(f"cannot reach {HUB} (offline?); nothing was uploaded")
    api = HfApi()
    try:
        api.create_repo(space, repo_type="space", space_sdk="gradio", exist_ok=True, private=private,
                        space_hardware=hardware)
        operations = [CommitOperationAdd(".gitattributes", gitattributes().encode())]
        operations += [CommitOperationAdd(name, str(root / name)) for name, _, _ in rows]
        api.create_commit(space, operations, repo_type="space", commit_message="Deploy PixelWise")
    except Exception as error:  # HTTP errors, bad token, name taken...
        raise DeployError(f"the Hub refused: {type(error).__name__}: {error}") from None
    return f"{HUB}/spaces/{space}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("space", nargs="?", help="USER/SPACE (created if it does not exist)")
    parser.add_argument("--dry-run", action="store_true", help="print files and front matter, upload nothing")
    parser.add_argument("--rehearse", action="store_true",
                        help="start the files an upload carries as a Space would, here, and check them (pixelwise/rehearsal.py)")
    parser.add_argument("--reuse-packages", action="store_true",
                        help="with --rehearse: run with this Python's packages instead of installing requirements.txt")
    parser.add_argument("--keep", action="store_true", help="with --rehearse: keep the rehearsal's folder")
    parser.add_argument("--with-tests", action="store_true", help="upload tests/ too")
    parser.add_argument("--hardware", default=None, help="on creation, e.g. cpu-basic or zero-a10g")
    parser.add_argument("--private", action="store_true")
    args = parser.parse_args(argv)
    if args.rehearse:
        from .rehearsal import rehearse

        rows, _, problems = plan(with_tests=args.with_tests)
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return rehearse(rows, reuse_packages=args.reuse_packages, keep=args.keep) or (1 if problems else 0)
    if not args.space or args.space.count("/") != 1 or not all(args.space.split("/")):
        parser.error(f"expected USER/SPACE, got {args.space!r}")
    try:
        rows, meta, problems = plan(with_tests=args.with_tests)
        print_plan(args.space, rows, meta, problems)
        if args.dry_run:
            return 1 if problems else 0
        if problems:
            raise DeployError("fix the front matter problems above in README.md first")
        print(f"Uploaded: {upload(args.space, rows, hardware=args.hardware, private=args.private)}")
    except DeployError as error:
        print(f"deploy: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
