"""Checkpoints: one atomic `torch.save` of everything needed to resume exactly or to evaluate.

A checkpoint holds the architecture and the class table of every head, so `evaluate` rebuilds
the model without the training command line and refuses data of another label space.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from sunprep.atomic import atomic_path
from sunprep.errors import TrainError
from sunprep.labels.classes import ClassTable
from sunprep.train.unet import UNet, UNetConfig

FORMAT = "sunprep-unet/1"


def space_key(classes: ClassTable) -> str:
    """Head name of a label space: class count plus a hash of the names, e.g. `c39_1f0e3a2b`.

    Two tables with the same names in the same order are the same label space; colours do not matter.
    """
    digest = hashlib.sha256("\n".join(classes.names).encode()).hexdigest()[:8]
    return f"c{len(classes)}_{digest}"


def table_to_dict(classes: ClassTable) -> dict[str, list]:
    return {"names": list(classes.names), "colours": [list(c) for c in classes.colours]}


def table_from_dict(d: dict[str, list]) -> ClassTable:
    return ClassTable(tuple(d["names"]), tuple(tuple(int(v) for v in c) for c in d["colours"]))  # type: ignore[misc]


# What every checkpoint holds, and its type: checked on load, so a foreign or damaged file is one
# line naming it rather than a KeyError deep inside `evaluate` or `--resume`.
REQUIRED: dict[str, type] = {"arch": dict, "heads": dict, "head": str, "model": dict}
RESUMABLE: dict[str, type] = {"optimizer": dict, "scheduler": dict, "epoch": int, "history": list, "config": dict, "data_fingerprint": str}
# Keys renamed since checkpoints were first written, old -> new. The U-Net's poolings were
# `depth` until `--depth` came to mean the depth source alone; earlier runs still evaluate and resume.
RENAMED = {"depth": "poolings"}


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash mid-save leaves the previous epoch's checkpoint intact."""
    with atomic_path(Path(path)) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: Path, resumable: bool = False) -> dict[str, Any]:
    """Read a checkpoint (tensors and plain data only: `weights_only`, no code runs on load).

    `resumable` also requires what `--resume` needs (optimiser, schedule, epoch, history).
    """
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path}: no such checkpoint")
    try:
        with warnings.catch_warnings():  # a foreign pickle makes torch warn about its protocol
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load parses a foreign file: whatever it raises means "unreadable"
        kind = "empty file" if path.stat().st_size == 0 else type(err).__name__
        raise TrainError(f"{path}: not a readable checkpoint ({kind})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise TrainError(f"{path}: not a sunprep checkpoint (format {FORMAT!r} expected)")
    for key, want in {**REQUIRED, **(RESUMABLE if resumable else {})}.items():
        if not isinstance(ckpt.get(key), want):
            raise TrainError(f"{path}: damaged checkpoint ({key!r} missing or not a {want.__name__})")
    for part in ("arch", "config"):
        if isinstance(ckpt.get(part), dict):
            ckpt[part] = {RENAMED.get(k, k): v for k, v in ckpt[part].items()}
    return ckpt


def heads_of(ckpt: dict[str, Any]) -> dict[str, ClassTable]:
    return {k: table_from_dict(v) for k, v in ckpt["heads"].items()}


def build_model(ckpt: dict[str, Any], path: Path) -> UNet:
    """The model a checkpoint describes, with its weights loaded."""
    try:
        heads = heads_of(ckpt)
        model = UNet(UNetConfig(**ckpt["arch"]), {k: len(t) for k, t in heads.items()})
    except (TypeError, ValueError, KeyError) as err:
        raise TrainError(f"{path}: damaged checkpoint (architecture or class tables: {err})".splitlines()[0]) from None
    load_weights(model, ckpt["model"], path)
    return model


def load_weights(model: torch.nn.Module, state: Mapping[str, Any], path: Path) -> None:
    """`load_state_dict`, with a one-line account of what does not fit instead of torch's multi-line one."""
    want = model.state_dict()
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    wrong = [
        f"{k} {tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__} (want {tuple(want[k].shape)})"
        for k, v in state.items()
        if k in want and not (isinstance(v, torch.Tensor) and v.shape == want[k].shape)
    ]
    problems = [f"{label} {len(names)}: {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"
                for label, names in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if names]  # fmt: skip
    if problems:
        raise TrainError(f"{path}: weights do not fit the architecture it declares ({'; '.join(problems)})")
    model.load_state_dict(state)


def head_for(ckpt: dict[str, Any], classes: ClassTable, path: Path) -> str:
    """The head trained for `classes`; TrainError when the checkpoint knows another label space only."""
    key = space_key(classes)
    heads = heads_of(ckpt)
    if key not in heads:
        known = ", ".join(f"{k} ({len(t)} classes: {', '.join(t.names[:3])}, ...)" for k, t in heads.items())
        raise TrainError(
            f"{path}: no head for the data's label space {key} ({len(classes)} classes: "
            f"{', '.join(classes.names[:3])}, ...); the checkpoint has {known}"
        )
    return key
