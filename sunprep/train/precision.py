"""Numeric precision of training and inference: `--precision auto|fp32|bf16|fp16`.

Choices, and why (torch.amp docs): bf16 has fp32's exponent range, so it needs no loss scaling
and is the default on GPUs that support it; fp16 overflows without a gradient scaler, so it gets
`torch.amp.GradScaler`, and `auto` uses it only on CUDA GPUs without bf16 (before Ampere), where
it is the usual mixed precision. On CPU and MPS `auto` is fp32, the exact reference; whether
bf16 autocast pays on a given CPU has not been measured here (pass --precision bf16 to try).
"""

from __future__ import annotations

import torch

from sunprep.errors import BadInput

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve(choice: str, device: torch.device) -> str:
    """`auto` made concrete for this device; bf16 on a GPU without it is refused (exit 2)."""
    cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if choice == "auto":
        return ("bf16" if cuda_bf16 else "fp16") if device.type == "cuda" else "fp32"
    if choice not in DTYPES:
        raise BadInput(f"--precision {choice}: expected auto, fp32, bf16 or fp16")
    if choice == "bf16" and device.type == "cuda" and not cuda_bf16:
        raise BadInput("--precision bf16: this GPU has no bfloat16 support; use fp16 or fp32")
    return choice


def autocast(precision: str, device: torch.device) -> torch.autocast:
    """Mixed precision for the forward pass; the loss is always computed in fp32 by the caller."""
    return torch.autocast(device.type, dtype=DTYPES[precision], enabled=precision != "fp32")


def grad_scaler(precision: str, device: torch.device) -> torch.amp.GradScaler:
    """Loss scaling for fp16 only; a disabled scaler passes `backward` and `step` straight through."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")
