"""Settings of train, evaluate, crossdomain and analyze, one frozen dataclass per command.

They live apart from the code that runs them so that the CLI can build its options from these
defaults without importing torch (which costs about a second at every start of `sunprep`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 20
    batch_size: int = 8  # 8 x 128x256 fits any laptop; BN statistics stay usable
    lr: float = 1e-3  # AdamW peak rate, decayed by poly to 0
    weight_decay: float = 1e-4
    width: int = 16  # measured in benchmarks/train.py: ~1.4 min/epoch of 2,975 images on 2 cores
    depth: int = 4
    seed: int = 0
    flip: bool = True  # random horizontal flips
    class_weights: str = "none"  # "none" or "inverse-sqrt" (1/sqrt of train pixel frequency)
    init: Path | None = None  # start from this checkpoint's encoder-decoder (and its heads)
    resume: bool = False
    device: str = "auto"  # auto | cpu | cuda | mps
    workers: int = 2  # threads that read and decode files
    val_split: str = "val"

    def to_json(self) -> dict[str, Any]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v) for f in fields(self)}


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Path
    data: Path
    split: str = "val"
    out: Path | None = None  # where the tables go; None: nothing written
    batch_size: int = 16
    device: str = "auto"
    workers: int = 2


@dataclass(frozen=True)
class CrossConfig:
    a: Path
    b: Path
    out: Path
    epochs: int = 10  # per run; fine-tuning gets as many as from-scratch training (equal epochs)
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    width: int = TrainConfig.width
    depth: int = TrainConfig.depth
    seed: int = 0
    device: str = "auto"
    workers: int = 2


@dataclass(frozen=True)
class AnalyzeConfig:
    checkpoint: Path
    data: Path
    split: str = "val"
    out: Path | None = None
    worst: int = 5  # image | ground truth | prediction panels of the k lowest per-image mIoU
    compare: Path | None = None  # second checkpoint: linear CKA of bottleneck features
    data2: Path | None = None  # second domain: per-channel feature statistics beside the first
    batch_size: int = 16
    device: str = "auto"
    workers: int = 2
