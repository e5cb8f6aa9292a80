"""Every folder PixelWise reads or writes, and every ``PIXELWISE_*`` environment variable.

The variables are read here and nowhere else, each time a function is called (so a test or the app
can change them at run time). docs/setup.md lists them in one table.
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_ROOT = REPO_ROOT.parent / "shared"  # the data folder beside a clone (../shared/README.md)
SHARED_WEIGHTS = SHARED_ROOT / "weights"


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _switched_on(name: str) -> bool:
    """A switch that is on unless set to 0/false/no/off."""
    return (_env(name) or "1").strip().lower() not in ("0", "false", "no", "off")


def cifar_root_from_env() -> Path | None:
    """$PIXELWISE_DATA when set."""
    value = _env("PIXELWISE_DATA")
    return Path(value) if value else None


def cifar_root() -> Path | None:
    """CIFAR-10 image folder: $PIXELWISE_DATA, else ../shared/data/cifar10 when it exists, else None (download)."""
    shared = SHARED_ROOT / "data" / "cifar10"
    return cifar_root_from_env() or (shared if shared.is_dir() else None)


def flowers_root() -> Path:
    """Oxford 17 Flowers: $PIXELWISE_FLOWERS, else ../shared/data/flowers17."""
    return Path(_env("PIXELWISE_FLOWERS") or SHARED_ROOT / "data" / "flowers17")


def imagenette_root() -> Path:
    """Imagenette photos (train/WNID/*.JPEG, val/WNID/*.JPEG): $PIXELWISE_IMAGENETTE, else ../shared/data/imagenette160."""
    return Path(_env("PIXELWISE_IMAGENETTE") or SHARED_ROOT / "data" / "imagenette160")


def checkpoint_dir() -> Path:
    """$PIXELWISE_CHECKPOINTS, else checkpoints/ in the repo."""
    return Path(_env("PIXELWISE_CHECKPOINTS") or REPO_ROOT / "checkpoints")


def trained_dir() -> Path:
    """Where the app saves checkpoints trained in it: $PIXELWISE_TRAINED, else checkpoints/session/ (git-ignored)."""
    return Path(_env("PIXELWISE_TRAINED") or checkpoint_dir() / "session")


def trained_keep() -> int:
    """How many checkpoints the trained folder keeps (every visitor's saves share it; the oldest go first):
    $PIXELWISE_TRAINED_KEEP, else 200."""
    return max(1, int(_env("PIXELWISE_TRAINED_KEEP") or 200))


def max_upload_mb() -> float:
    """The largest file the app accepts (Gradio's launch(max_file_size)), in MB: $PIXELWISE_MAX_UPLOAD_MB, else 50
    (a 50-megapixel JPEG is about 20 MB; larger POSTs are refused before they are stored)."""
    return float(_env("PIXELWISE_MAX_UPLOAD_MB") or 50)


def downloads_max_age_s() -> float:
    """How long a download's folder and Gradio's copies of uploads and outputs are kept, in seconds:
    $PIXELWISE_DOWNLOADS_MAX_AGE_S, else an hour (the tests shorten it)."""
    return float(_env("PIXELWISE_DOWNLOADS_MAX_AGE_S") or 3600)


def training_nice() -> int:
    """How much nicer than the app a training worker runs: $PIXELWISE_TRAINING_NICE, else 0 (off)."""
    return int(_env("PIXELWISE_TRAINING_NICE") or 0)


def cache_dir() -> Path:
    """Where torchvision downloads CIFAR-10 when no image folder is given: $PIXELWISE_CACHE, else ~/.cache/pixelwise."""
    return Path(_env("PIXELWISE_CACHE") or Path.home() / ".cache" / "pixelwise")


def hf_repo() -> str | None:
    """$PIXELWISE_HF_REPO: a Hugging Face model repo (user/name) to fetch missing cnn.pt / unet.pt from."""
    return _env("PIXELWISE_HF_REPO")


def keep_freed_memory() -> bool:
    """$PIXELWISE_KEEP_FREED_MEMORY: training keeps freed memory for reuse (pixelwise.memory) unless this is
    0/false/no; the process then stays at its peak size."""
    return _switched_on("PIXELWISE_KEEP_FREED_MEMORY")


def mcp_enabled() -> bool:
    """$PIXELWISE_MCP: the app also serves its public endpoints as MCP tools (at /gradio_api/mcp/) unless this
    is 0/false/no; without the ``mcp`` package (``pip install "gradio[mcp]"``) it stays off."""
    import importlib.util

    return _switched_on("PIXELWISE_MCP") and importlib.util.find_spec("mcp") is not None


def screenshot_dir() -> Path | None:
    """$PIXELWISE_SCREENSHOT_DIR: where the browser tests keep their screenshots (default: a temporary folder)."""
    value = _env("PIXELWISE_SCREENSHOT_DIR")
    return Path(value) if value else None


def shown_path(path: str | Path) -> str:
    """A path as the app may show it: relative to the repo (``checkpoints/unet.pt``, ``../shared/data/cifar10``)
    when it is in or beside the checkout, else its last two parts; never the server's absolute layout."""
    path = Path(path)
    for base, prefix in ((REPO_ROOT, ""), (REPO_ROOT.parent, "../")):
        if path.is_absolute() and path.is_relative_to(base):
            return prefix + path.relative_to(base).as_posix()
    return path.as_posix() if not path.is_absolute() else "…/" + "/".join(path.parts[-2:])


def run_cache_dir() -> Path:
    """Where Train live keeps finished runs to replay: $PIXELWISE_RUN_CACHE, else <cache_dir()>/runs."""
    return Path(_env("PIXELWISE_RUN_CACHE") or cache_dir() / "runs")


def run_cache_limit_mb() -> float:
    """Size limit of the run cache in MB (oldest-used entries go first): $PIXELWISE_RUN_CACHE_MB, else 1024."""
    return float(_env("PIXELWISE_RUN_CACHE_MB") or 1024)


def venv_dir(repo: Path = REPO_ROOT) -> Path:
    """run.py's project-local virtual environment: $PIXELWISE_VENV, else .venv/ in the repo."""
    return Path(_env("PIXELWISE_VENV") or repo / ".venv")


def system_site_choice() -> bool | None:
    """$PIXELWISE_SYSTEM_SITE: 1 = the venv reuses this Python's packages, 0 = isolated, unset = run.py decides."""
    value = _env("PIXELWISE_SYSTEM_SITE")
    return None if value is None else value == "1"


def torch_build() -> str | None:
    """$PIXELWISE_TORCH: which PyTorch run.py installs, "cpu" (PyTorch's CPU index, ~1.4 GB) or "cuda" (the default
    index, CUDA on Linux, ~5.9 GB); unset = run.py decides (cpu on Linux without an NVIDIA GPU)."""
    value = (_env("PIXELWISE_TORCH") or "").strip().lower()
    if value not in ("", "cpu", "cuda"):
        raise ValueError(f"PIXELWISE_TORCH is {value!r}: set it to cpu or cuda, or leave it unset")
    return value or None
