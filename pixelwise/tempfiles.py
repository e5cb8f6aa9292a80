"""Temporary files PixelWise makes, under names it recognises, and their removal once stale.

An atomic save writes ``.<name>.<random>.pixelwise-partial`` beside the target and renames it; a save
killed midway (kill -9, power loss) leaves that file behind. The app's start-up
(runs.catalog.remove_interrupted_saves) removes such files older than STALE_AFTER_S (a save in progress is
younger).

Files a person downloads (full-size results, label masks, checkpoint copies, CSVs) go to a folder of
their request's own (``request_dir``), inside one folder per process that only its owner can enter,
made with ``tempfile.mkdtemp`` (a fresh name, mode 0700: nothing another user planted in the temp folder,
a symlink or a folder of theirs, is followed or gets in the way). A request's folder is removed whole
once older than ``downloads_max_age_s()`` (Gradio has copied the files into its cache by then), checked
whenever a new one is made and every few minutes; the process's folder goes at exit.

Gradio's own copies of uploads and outputs go to a folder of the process's own too (``own_gradio_cache``,
unless GRADIO_TEMP_DIR names another): Gradio's ``delete_cache`` removes only the copies it tracks, and the
copies it makes for a session's own components (an output updated with ``gr.update``, an upload an Image
re-encodes) are not among them, so ``sweep_gradio_cache`` removes every file there once stale."""
import atexit
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from .settings import downloads_max_age_s

PARTIAL_SUFFIX = ".pixelwise-partial"
LEGACY_PARTIAL = ".tmp"  # before issue 12: ".<name>.<random>.tmp" (hidden, beside a checkpoint)
STALE_AFTER_S = 300  # a checkpoint save takes seconds; five minutes old means its writer is gone
EMPTY_FOLDER_GRACE_S = 10  # Gradio writes a file into a cache folder it makes within milliseconds


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


_process_dir: Path | None = None
_process_lock = threading.Lock()


def process_dir() -> Path:
    """This process's own folder in the system temp folder (mode 0700, a fresh name), made on first use,
    removed at exit; a daemon thread removes its stale request folders meanwhile."""
    global _process_dir
    with _process_lock:
        if _process_dir is None or not _process_dir.is_dir():
            _process_dir = Path(tempfile.mkdtemp(prefix="pixelwise-"))
            atexit.register(shutil.rmtree, _process_dir, ignore_errors=True)
            sweep_while_there(_process_dir, remove_stale_requests, "pixelwise-downloads-sweep")
        return _process_dir


def sweep_while_there(folder: Path, sweep: Callable[[Path], object], name: str) -> None:
    """Call ``sweep(folder)`` every half of downloads_max_age_s() (at most every 10 minutes) in a daemon
    thread, until the folder is gone."""
    def run() -> None:
        while folder.is_dir():
            time.sleep(min(600.0, max(1.0, downloads_max_age_s() / 2)))
            sweep(folder)
    threading.Thread(target=run, name=name, daemon=True).start()


def remove_stale_requests(folder: Path | None = None) -> list[Path]:
    """Remove the request folders (whole) last changed over downloads_max_age_s() ago; returns them."""
    folder = folder or _process_dir
    if folder is None or not folder.is_dir():
        return []
    removed, cutoff = [], time.time() - downloads_max_age_s()
    for path in folder.iterdir():
        try:
            newest = max([path.lstat().st_mtime] + [p.lstat().st_mtime for p in path.rglob("*")])
            if newest < cutoff:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
        except OSError:  # removed meanwhile
            continue
    return removed


def remove_process_dir() -> None:
    """Remove this process's folder now (tests; at exit it goes by itself)."""
    global _process_dir
    with _process_lock:
        if _process_dir is not None:
            shutil.rmtree(_process_dir, ignore_errors=True)
        _process_dir = None


def request_dir() -> Path:
    """A fresh private folder for one request's downloads: names inside it cannot collide with anyone's."""
    root = process_dir()
    remove_stale_requests(root)
    return Path(tempfile.mkdtemp(dir=root))


_gradio_cache: Path | None = None


def own_gradio_cache() -> Path | None:
    """A fresh folder of this process's own (mode 0700, removed at exit) as GRADIO_TEMP_DIR, made on first
    call; None when GRADIO_TEMP_DIR already names another (the operator's, left to Gradio's delete_cache).
    Call it before gradio is imported: some of its modules read GRADIO_TEMP_DIR then."""
    global _gradio_cache
    with _process_lock:
        if _gradio_cache is None and not os.environ.get("GRADIO_TEMP_DIR"):
            _gradio_cache = Path(tempfile.mkdtemp(prefix="pixelwise-gradio-"))
            atexit.register(shutil.rmtree, _gradio_cache, ignore_errors=True)
            os.environ["GRADIO_TEMP_DIR"] = str(_gradio_cache)
        return _gradio_cache if _gradio_cache is not None and os.environ["GRADIO_TEMP_DIR"] == str(_gradio_cache) else None


def sweep_gradio_cache(folder: Path, keep: Callable[[], Iterable[str]] = tuple) -> list[Path]:
    """Remove every file in Gradio's cache ``folder`` last written over downloads_max_age_s() ago, except
    those ``keep()`` names (the components' defaults, which Gradio keeps for the life of the app), then the
    folders left empty. Gradio touches a cached copy it hands out again, so one in use stays."""
    kept, age = {str(Path(path).resolve()) for path in keep()}, downloads_max_age_s()
    removed = remove_stale(folder, age, match=lambda path: str(path.resolve()) not in kept)
    cutoff = time.time() - min(age, EMPTY_FOLDER_GRACE_S)  # one Gradio has just made is about to get its file
    emptied = {path.parent for path in removed}
    for path in sorted(Path(folder).rglob("*"), key=lambda path: len(path.parts), reverse=True):
        try:
            if path.is_dir() and not path.is_symlink() and (path in emptied or path.stat().st_mtime < cutoff):
                path.rmdir()  # only when empty
        except OSError:
            continue
    return removed
