"""Which number format the heavy maths runs in: float32, or bfloat16 / float16 autocast where it pays.

``auto`` picks bfloat16 autocast where the hardware computes it natively (a CPU with AVX-512 BF16 or
AMX, as oneDNN reports; a CUDA GPU that supports bf16) and float32 elsewhere, so a machine without
native bf16 never runs slower than float32. Losses, softmaxes and optimizer state stay float32.
"""
import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_bf16(device: torch.device) -> bool:
    """True where bf16 convolutions and matmuls run on bf16 hardware, not emulated in float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """('fp32' | 'bf16' | 'fp16', why) for ``requested`` on ``device``."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {requested!r}")
    if requested == "fp16" and device.type != "cuda":
        raise ValueError("fp16 autocast is offered on CUDA only (with a gradient scaler); use bf16 or fp32")
    if requested != "auto":
        return requested, "asked for"
    if native_bf16(device):
        return "bf16", f"auto: this {device.type.upper()} computes bfloat16 natively"
    return "fp32", f"auto: this {device.type.upper()} has no native bfloat16"


def autocast(precision: str, device: torch.device):
    """The autocast context for a resolved precision (a no-op context for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])
