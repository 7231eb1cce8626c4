"""Settings of train, evaluate, crossdomain and analyze, one frozen dataclass per command.

They live apart from the code that runs them so that the CLI can build its options from these
defaults without importing torch (which costs about a second at every start of `sunprep`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from sunprep.errors import BadInput

# The choices of --device, --precision and --class-weights: typed, so the parser checks and lists them.
DeviceChoice = Literal["auto", "cpu", "cuda", "mps"]
PrecisionChoice = Literal["auto", "fp32", "bf16", "fp16"]
ClassWeights = Literal["none", "inverse-sqrt"]
PRECISIONS: tuple[PrecisionChoice, ...] = get_args(PrecisionChoice)


# Upper bounds far past any sensible value: beyond them numpy or torch fail with a traceback
# mid-run (a seed numpy cannot take, a size that overflows a C int), or memory runs out.
SEED_MAX = 2**32 - 1  # what np.random.seed and torch.manual_seed both take (from 0)
WORKERS_MAX = 1024
BATCH_MAX = 65536
EPOCHS_MAX = 100_000
COUNT_MAX = 2**63 - 1  # int64: counts and positions compared against numpy / pandas columns
# (option, lowest, highest) of the integer settings of train, evaluate, crossdomain and analyze.
INT_RANGES = {"epochs": (1, EPOCHS_MAX), "finetune_epochs": (1, EPOCHS_MAX), "batch_size": (1, BATCH_MAX), "width": (1, 512), "poolings": (1, 8),
              "workers": (1, WORKERS_MAX), "seed": (0, SEED_MAX), "worst": (0, COUNT_MAX)}  # fmt: skip


def at_least(option: str, value: int, low: int) -> None:
    """Bad option values are bad input (exit 2), caught before any data is read or any work done."""
    if value < low:
        raise BadInput(f"--{option} {value}: must be at least {low}")


def in_ranges(cfg: object, names: tuple[str, ...]) -> None:
    """`INT_RANGES` for these fields of a config: one line, exit 2, before any work."""
    for name in names:
        low, high = INT_RANGES[name]
        value = getattr(cfg, name)
        at_least(name.replace("_", "-"), value, low)
        if value > high:
            raise BadInput(f"--{name.replace('_', '-')} {value}: must be at most {high}")


def positive_finite(option: str, value: float, allow_zero: bool = False) -> None:
    """A NaN or infinite rate poisons every weight at the first step; a negative one ascends the loss."""
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise BadInput(f"--{option} {value}: must be a finite number {'>= 0' if allow_zero else '> 0'}")


def one_of(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise BadInput(f"--{option} {value}: expected one of {', '.join(choices)}")


@dataclass(frozen=True)
class AugmentConfig:
    """Which operations run; built from TrainConfig's fields, whose defaults `benchmarks/recipe.py` measured."""

    scale: tuple[float, float] | None = (0.5, 2.0)  # random resize range; None: off
    flip: bool = True  # horizontal flips, half of the images
    photometric: bool = True  # brightness, contrast, saturation jitter, each with probability 1/2

    @property
    def any(self) -> bool:
        return self.scale is not None or self.flip or self.photometric


# Fine-tuning (`train --init`, crossdomain's A->B and B->A) starts from learnt features: its own
# peak rate and length, measured by `benchmarks/recipe.py finetune` (README: sunprep train).
FINETUNE_EPOCHS = 10
FINETUNE_LR = 3e-3


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    epochs: int = 20
    batch_size: int = 8  # 8 x 128x256 fits any laptop; BN statistics stay usable
    # AdamW peak after warm-up, poly to 0: within 0.02 of the best rate both at 36 steps and at 1,500
    # (1e-2 leads short runs by 0.02 and trails long ones by 0.04; 2e-2 diverges): README, benchmarks/recipe.py
    lr: float = 3e-3
    weight_decay: float = 1e-4
    width: int = 16  # measured in benchmarks/train.py: ~1.4 min/epoch of 2,975 images on 2 cores
    poolings: int = 4  # U-Net downsamplings; 128x256 -> an 8x16 bottleneck
    seed: int = 0
    flip: bool = True  # random horizontal flips
    scale: bool = True  # random resize in [scale_min, scale_max], then crop/pad (void) back to the input size
    scale_min: float = 0.5
    scale_max: float = 2.0
    photometric: bool = True  # brightness / contrast / saturation jitter
    warmup: float = 0.05  # fraction of all steps spent warming up linearly to the peak rate
    class_weights: ClassWeights = "none"  # inverse-sqrt: 1/sqrt of train pixel frequency
    init: Path | None = None  # start from this checkpoint's encoder-decoder (and its heads)
    resume: bool = False
    device: DeviceChoice = "auto"
    workers: int = 2  # threads that read and decode files
    val_split: str = "val"
    precision: PrecisionChoice = "auto"  # auto: bf16 on CUDA where supported (else fp16), fp32 on CPU and MPS
    compile: bool = False  # torch.compile the model (measured in benchmarks/train.py)

    def __post_init__(self) -> None:
        in_ranges(self, ("epochs", "batch_size", "width", "poolings", "workers", "seed"))
        positive_finite("lr", self.lr)
        positive_finite("weight-decay", self.weight_decay, allow_zero=True)
        one_of("precision", self.precision, PRECISIONS)
        positive_finite("scale-min", self.scale_min)
        positive_finite("scale-max", self.scale_max)
        if self.scale_min > self.scale_max or self.scale_max > 4:
            raise BadInput(f"--scale-min {self.scale_min} --scale-max {self.scale_max}: need min <= max <= 4")
        positive_finite("warmup", self.warmup, allow_zero=True)
        if self.warmup >= 1:
            raise BadInput(f"--warmup {self.warmup}: a fraction of the run, below 1")

    def to_json(self) -> dict[str, Any]:
        return {f.name: (str(v) if isinstance(v := getattr(self, f.name), Path) else v) for f in fields(self)}

    @staticmethod
    def schedule(init: Path | None, epochs: int | None, lr: float | None) -> tuple[int, float]:
        """(epochs, peak lr): the ones given, else the defaults of training from scratch or, with
        `init`, of fine-tuning."""
        scratch = init is None
        return (epochs if epochs is not None else TrainConfig.epochs if scratch else FINETUNE_EPOCHS,
                lr if lr is not None else TrainConfig.lr if scratch else FINETUNE_LR)

    def augmentation(self) -> AugmentConfig:
        return AugmentConfig(scale=(self.scale_min, self.scale_max) if self.scale else None, flip=self.flip,
                             photometric=self.photometric)


@dataclass(frozen=True)
class EvalConfig:
    checkpoint: Path
    data: Path
    split: str = "val"
    out: Path | None = None  # where the tables go; None: nothing written
    batch_size: int = 16
    device: DeviceChoice = "auto"
    workers: int = 2
    precision: PrecisionChoice = "auto"
    predictions: Path | None = None  # one PNG per image for outside tools (sunprep.train.predictions)

    def __post_init__(self) -> None:
        in_ranges(self, ("batch_size", "workers"))
        one_of("precision", self.precision, PRECISIONS)


@dataclass(frozen=True)
class CrossConfig:
    domain_a: Path  # A and B, not source and target: each is fine-tuned onto the other
    domain_b: Path
    out: Path
    epochs: int = 10  # per from-scratch run
    batch_size: int = TrainConfig.batch_size
    lr: float = TrainConfig.lr
    finetune_epochs: int = FINETUNE_EPOCHS  # per fine-tuning run (A->B, B->A)
    finetune_lr: float = FINETUNE_LR
    width: int = TrainConfig.width
    poolings: int = TrainConfig.poolings
    seed: int = 0
    device: DeviceChoice = "auto"
    workers: int = 2
    precision: PrecisionChoice = "auto"
    compile: bool = False

    def __post_init__(self) -> None:
        """Checked here, before the progress bar and the first of four runs start (each run's TrainConfig checks the rest)."""
        in_ranges(self, ("epochs", "finetune_epochs", "batch_size", "width", "poolings", "workers", "seed"))
        positive_finite("lr", self.lr)
        positive_finite("finetune-lr", self.finetune_lr)


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
    device: DeviceChoice = "auto"
    workers: int = 2

    def __post_init__(self) -> None:
        in_ranges(self, ("worst", "batch_size", "workers"))
