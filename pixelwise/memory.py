"""Training reuses the memory it frees, instead of asking the kernel for fresh pages every step.

A batch of 1,000 UNet activations is ~130 MB per tensor. glibc's malloc serves anything over 32 MB with a
fresh mmap and unmaps it on free, so every training step faulted in (and the kernel zeroed) gigabytes of
new pages: at batch 1000 a step was ~0.55x as fast per image as at batch 100, with seconds of system
time. With mmap off for malloc's chunks and the heap never trimmed, the same memory serves the next step
and batch 1000 runs about as fast per image as batch 100 (docs/training-speed.md). The price: the
process keeps its peak size; set PIXELWISE_KEEP_FREED_MEMORY=0 to keep glibc's defaults. The numbers a
run computes do not change.
"""
import ctypes
import sys

from .settings import keep_freed_memory

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h
_kept = False


def keep_freed_memory_for_training() -> bool:
    """Tell glibc's malloc to serve large blocks from its heap and keep freed heap memory (once per process).
    True when the setting is in force; False where it does not apply (not glibc, or switched off)."""
    global _kept
    if _kept or not keep_freed_memory() or not sys.platform.startswith("linux"):
        return _kept
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    _kept = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2 ** 31 - 1))
    return _kept
