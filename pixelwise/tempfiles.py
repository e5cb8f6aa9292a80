"""Temporary files PixelWise makes, under names it recognises, and their removal once stale.

An atomic save writes ``.<name>.<random>.pixelwise-partial`` beside the target and renames it; a save
killed midway (kill -9, power loss) leaves that file behind. The app's start-up
(runs.catalog.remove_interrupted_saves) removes such files older than STALE_AFTER_S (a save in progress is
younger). Full-size downloads go to one folder under the system temp folder, cleared the same way (Gradio
has copied them by then)."""
import tempfile
import time
from pathlib import Path

PARTIAL_SUFFIX = ".pixelwise-partial"
LEGACY_PARTIAL = ".tmp"  # before issue 12: ".<name>.<random>.tmp" (hidden, beside a checkpoint)
STALE_AFTER_S = 300  # a checkpoint save takes seconds; five minutes old means its writer is gone
DOWNLOADS_STALE_AFTER_S = 600


def partial_name(target: Path) -> tuple[str, str]:
    """(prefix, suffix) for tempfile.mkstemp beside ``target``."""
    return f".{target.name}.", PARTIAL_SUFFIX


def is_partial(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith((PARTIAL_SUFFIX, LEGACY_PARTIAL))


def remove_stale(folder: str | Path, older_than_s: float = STALE_AFTER_S, recursive: bool = True,
                 match=is_partial) -> list[Path]:
    """Delete the files in ``folder`` that ``match`` (default: interrupted saves) and were last written
    over ``older_than_s`` seconds ago; returns them. Missing folders and vanished files are fine."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed, now = [], time.time()
    for path in folder.rglob("*") if recursive else folder.iterdir():
        try:
            if path.is_file() and match(path) and now - path.stat().st_mtime > older_than_s:
                path.unlink()
                removed.append(path)
        except OSError:  # removed by someone else meanwhile, or not ours to remove
            continue
    return removed


def download_dir() -> Path:
    """A folder for files a person downloads; files older than DOWNLOADS_STALE_AFTER_S are removed first."""
    folder = Path(tempfile.gettempdir()) / "pixelwise-downloads"
    folder.mkdir(exist_ok=True)
    remove_stale(folder, DOWNLOADS_STALE_AFTER_S, recursive=False, match=lambda path: True)
    return folder
