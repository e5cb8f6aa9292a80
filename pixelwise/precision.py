"""Which number format the heavy maths runs in: float32, or bfloat16 / float16 autocast where it pays.

``auto`` picks bfloat16 autocast where the hardware computes it natively (a CPU with AVX-512 BF16 or
AMX, as oneDNN reports; a CUDA GPU that supports bf16) and float32 elsewhere, so a machine without
native bf16 never runs slower than float32. Losses, softmaxes and optimizer state stay float32.
"""
import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 instructions that compute bf16 dot products in hardware


def cpu_bf16_flags() -> dict:
    """The x86 bf16 flags torch's cpuinfo sees ({} where it reports none, e.g. on ARM)."""
    capabilities = torch.cpu.get_capabilities() if hasattr(torch.cpu, "get_capabilities") else {}
    return {flag: bool(capabilities[flag]) for flag in BF16_CPU_FLAGS if flag in capabilities}


def onednn_bf16() -> bool:
    """oneDNN's own answer: can it run bf16 kernels here (on x86 it also says yes where it would emulate
    bf16 with AVX-512 float32 instructions, hence the flag check in native_bf16)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def native_bf16(device: torch.device) -> bool:
    """True where bf16 convolutions and matmuls run on bf16 hardware, not emulated in float32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        flags = cpu_bf16_flags()
        return onednn_bf16() and (any(flags.values()) if flags else True)  # no x86 flags: oneDNN's ARM check
    return False


def resolve_precision(requested: str, device: torch.device) -> tuple[str, str]:
    """('fp32' | 'bf16' | 'fp16', why) for ``requested`` on ``device``."""
    if requested not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {requested!r}")
    if requested == "fp16" and device.type != "cuda":
        raise ValueError("fp16 autocast is offered on CUDA only (with a gradient scaler); use bf16 or fp32")
    if requested != "auto":
        return requested, "asked for"
    seen = [flag for flag, present in cpu_bf16_flags().items() if present] if device.type == "cpu" else []
    if native_bf16(device):
        return "bf16", f"auto: this {device.type.upper()} computes bfloat16 natively" + (f" ({', '.join(seen)})" if seen else "")
    return "fp32", f"auto: this {device.type.upper()} has no native bfloat16"


def autocast(precision: str, device: torch.device):
    """The autocast context for a resolved precision (a no-op context for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


def precision_names(precision: str) -> str:
    """'bf16' -> 'bfloat16', for people."""
    return {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}.get(precision, precision)


def add_precision_argument(parser, default: str = "auto") -> None:
    """The --precision flag every training command line shares."""
    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help="autocast of the forward pass: auto = bfloat16 where the hardware computes it natively, "
                             "else float32; fp32 reproduces the handout's checkpoints; fp16 on CUDA only")
