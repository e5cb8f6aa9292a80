"""ZeroGPU: ask a Hugging Face ZeroGPU Space for its GPU around the calls that need one; a no-op elsewhere.

A ZeroGPU Space lends a GPU only inside functions decorated with ``spaces.GPU`` (and sets
SPACES_ZERO_GPU=true). ``gpu(duration)`` applies that decorator when both hold, and returns the function
unchanged on every other machine, so the app runs the same locally, in CI and on CPU or GPU Spaces.
"""
import importlib.util
import os
from collections.abc import Callable

# Seconds a call may hold the GPU: a colourization or a segmentation is well under a second of GPU work
# (plus a model load on first use); a live training run or fine-tune streams for minutes.
INFERENCE_S = 30
TRAINING_S = 300


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space: SPACES_ZERO_GPU is true and the `spaces` package is importable."""
    flag = os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "t", "true")
    return flag and importlib.util.find_spec("spaces") is not None


def gpu(duration: int | Callable[..., int]):
    """Decorator: ``spaces.GPU(duration=duration)`` on ZeroGPU, the function itself anywhere else.
    ``duration`` may be a callable taking the function's arguments (spaces' dynamic duration)."""
    def decorate(fn):
        if not on_zerogpu():
            return fn
        import spaces

        return spaces.GPU(duration=duration)(fn)
    return decorate


def quick_request(fn):
    """A request someone waits on (a colourization, a segmentation, a layer view): the GPU for INFERENCE_S on
    ZeroGPU, and counted as serving the whole call (pixelwise.device.serving), its decoding and model loading
    included, not only its forward passes, so that a training yields to it from its first moment."""
    from pixelwise.device import serving

    return gpu(INFERENCE_S)(serving()(fn))  # serving() as a decorator: a fresh count per call, the name kept


def heavy_request(fn):
    """A heavy job's handler (a training, a fine-tune, a measurement): the GPU for TRAINING_S on ZeroGPU, and the
    Gradio thread it runs on lets go of torch's worker threads when done (pixelwise.device.releasing_torch_threads:
    that thread lives on, and a pool it kept slowed every later training)."""
    from pixelwise.device import releasing_torch_threads

    return gpu(TRAINING_S)(releasing_torch_threads(fn))
