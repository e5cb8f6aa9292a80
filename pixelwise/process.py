"""Process-wide settings, made once by an entry point (app.py, the command lines) and never by library code
on import or on a call: each changes the whole process, so the program that owns it decides.

- ``quiet_profiler``: torch.profiler (the cost measurements' peak memory on the CPU) prints two "USDT …
  profiler_start/stop" lines per use (84 per cost measurement) and, when first used on a thread other than
  the one that imported torch, "External init callback must run in same thread as registerClient";
- ``huge_pages_for_training``: big CPU tensors backed by transparent huge pages (fewer page faults when a
  training touches fresh memory); torch reads the variable at its first allocation, so a command line that
  trains starts itself again with it when it was not set;
- ``keep_freed_memory_for_training`` (pixelwise.memory): glibc keeps freed memory for the next step. Command
  lines that train call it; the app does not, or the web process would keep its peak, request buffers included.
"""
import os
import sys

# Kineto's levels go from 0 (verbose) to 5 (errors); its USDT lines print at every level up to 5, so only
# 6 silences them. A value already set wins.
KINETO_QUIET = "6"


def quiet_profiler() -> None:
    """No profiler chatter on stderr: Kineto's log level, and its client started on this thread (call it on
    the main thread, where torch was imported, before any other thread profiles)."""
    os.environ.setdefault("KINETO_LOG_LEVEL", KINETO_QUIET)  # read when the profiler first starts
    import torch

    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]):
        pass


def huge_pages_for_training() -> None:
    """Start this command again with THP_MEM_ALLOC_ENABLE=1 unless it is set (to 1, or 0 to keep it off).
    Only for a command line's ``__main__``: it replaces the running process."""
    if "THP_MEM_ALLOC_ENABLE" in os.environ or not sys.platform.startswith("linux"):
        return
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def set_up_training_command() -> None:
    """What a command line that trains sets for its process: huge pages and freed memory kept."""
    huge_pages_for_training()
    from .memory import keep_freed_memory_for_training

    keep_freed_memory_for_training()
