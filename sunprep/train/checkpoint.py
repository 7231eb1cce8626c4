"""Checkpoints: one atomic `torch.save` of everything needed to resume exactly or to evaluate.

A checkpoint holds the architecture and the class table of every head, so `evaluate` rebuilds
the model without the training command line and refuses data of another label space.
"""

from __future__ import annotations

import hashlib
import pickle
import struct
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


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write atomically: a crash mid-save leaves the previous epoch's checkpoint intact."""
    with atomic_path(Path(path)) as tmp:
        torch.save({"format": FORMAT, **state}, tmp)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint (tensors and plain data only: `weights_only`, no code runs on load)."""
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, struct.error) as err:  # truncated, foreign
        raise TrainError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise TrainError(f"{path}: not a sunprep checkpoint (format {FORMAT!r} expected)")
    return ckpt


def heads_of(ckpt: dict[str, Any]) -> dict[str, ClassTable]:
    return {k: table_from_dict(v) for k, v in ckpt["heads"].items()}


def build_model(ckpt: dict[str, Any]) -> UNet:
    """The model a checkpoint describes, with its weights loaded."""
    heads = heads_of(ckpt)
    model = UNet(UNetConfig(**ckpt["arch"]), {k: len(t) for k, t in heads.items()})
    model.load_state_dict(ckpt["model"])
    return model


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
