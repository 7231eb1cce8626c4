"""Data-parallel training and evaluation under `torchrun`: one process per device, one shard each.

Everything here is a no-op in a plain `sunprep train` (one process, no process group), so the
single-process loop is the same code with a world of size 1.

Choices, and why:
- The process group starts from the environment torchrun sets (RANK, LOCAL_RANK, WORLD_SIZE and
  the rendezvous), never from options of ours: the launcher owns the topology. gloo on CPU, NCCL
  on CUDA, as the PyTorch docs recommend.
- Rank r holds samples r, r+W, r+2W, ... of a split (a fixed shard by index); each epoch it takes
  them in the order of the epoch's global permutation from the seed, so with W = 1 the order is
  the single-process one, and a larger world is a regrouping of the same epoch.
- Every shard is padded (by repeating its own first samples) to ceil(N/W), so every rank runs
  the same number of steps of the same size: DDP hangs when ranks disagree on the step count.
- Rank 0 reads checkpoints and hands them to the others: the files need to exist only where
  rank 0 runs, and all ranks start from the same bytes.
- The confusion matrix is an int64 sum, all-reduced: a DDP evaluation equals one process's
  evaluation of the same weights exactly, provided every rank holds rank 0's weights, which
  `sync_state` ensures (without SyncBatchNorm each rank's running statistics drift apart).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from sunprep.errors import BadInput
from sunprep.train.data import Split

T = TypeVar("T")
LAUNCH_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files, prints results and draws the progress bar."""
        return self.rank == 0


def launched() -> bool:
    """Started by torchrun (or any launcher setting its variables)."""
    return all(v in os.environ for v in LAUNCH_VARS)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0)) if launched() else 0


def world() -> World:
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


@contextmanager
def session(device: torch.device) -> Iterator[World]:
    """Join the process group torchrun set up (NCCL for CUDA, gloo for CPU) for the command's duration."""
    if not launched() or world().size > 1:
        yield world()
        return
    if device.type not in ("cpu", "cuda"):
        raise BadInput(f"--device {device.type}: torchrun runs on cpu (gloo) or cuda (NCCL)")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield world()
    finally:
        dist.destroy_process_group()


def check_batch(batch_size: int, w: World) -> int:
    """The per-process share of the global batch; a batch that does not split evenly is refused."""
    if batch_size % w.size:
        raise BadInput(f"--batch-size {batch_size}: the global batch must be divisible by the {w.size} processes")
    return batch_size // w.size


def shard(split: Split, w: World) -> Split:
    """This rank's samples r, r+W, ...: every per-sample field of `split` (arrays and tuples) indexed alike."""
    if w.size == 1:
        return split

    def take(v: Any) -> Any:
        return local(v, w) if isinstance(v, (np.ndarray, tuple)) and len(v) == len(split) else v

    return replace(split, **{f.name: take(getattr(split, f.name)) for f in fields(split)})


def local(values: Any, w: World) -> Any:
    """This rank's entries of a per-sample sequence over the whole split (r, r+W, ...)."""
    return values[w.rank :: w.size]


def shard_order(order: np.ndarray, n: int, w: World) -> np.ndarray:
    """This rank's epoch: the global permutation's members of its shard, in that order, as local
    positions (sample g sits at g // W), padded to ceil(n / W) with its own first samples."""
    mine = order[order % w.size == w.rank] // w.size
    return np.resize(mine, shard_length(n, w)) if w.size > 1 else mine


def shard_length(n: int, w: World) -> int:
    """Samples per rank and epoch, padding included; a split smaller than the world is refused."""
    if n < w.size:
        raise BadInput(f"{n} samples cannot be shared among {w.size} processes (fewer samples than processes)")
    return -(-n // w.size)


def wrap(model: nn.Module, head: str, device: torch.device, w: World) -> nn.Module:
    """DistributedDataParallel (with SyncBatchNorm on CUDA) when W > 1, else the model itself.

    Heads other than the one trained are frozen: DDP refuses parameters that get no gradient, and
    they get none anyway (AdamW skips a parameter without a gradient), so nothing else changes.
    """
    heads: nn.ModuleDict = model.heads  # type: ignore[assignment]
    for key, module in heads.items():
        module.requires_grad_(key == head)
    if w.size == 1:
        return model
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def sync_state(model: nn.Module, w: World) -> None:
    """Give every rank rank 0's parameters and buffers (BN running statistics), bit for bit."""
    if w.size == 1:
        return
    with torch.no_grad():
        for t in model.state_dict().values():
            dist.broadcast(t, 0)


def sum_all(t: torch.Tensor, w: World, device: torch.device) -> torch.Tensor:
    """Sum a tensor over all ranks (NCCL needs it on the rank's GPU); returned on the CPU."""
    if w.size == 1:
        return t
    d = t.to(device)
    dist.all_reduce(d)
    return d.cpu()


def any_labelled(has_labels: np.ndarray, w: World, device: torch.device) -> np.ndarray:
    """Per step of the epoch: does any rank's batch hold a labelled pixel? One all-reduce per epoch.

    All ranks must skip the same steps: a step on some ranks only would deadlock DDP's gradient sum.
    """
    return sum_all(torch.from_numpy(has_labels.astype(np.int64)), w, device).numpy() > 0


def on_main(fn: Callable[[], T], w: World) -> T:
    """Run `fn` on rank 0 and give its result (or its error, raised again) to every rank."""
    if w.size == 1:
        return fn()
    box: list[Any] = [None]
    if w.main:
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # handed to every rank, which raises it again
            box[0] = ("error", err)
    dist.broadcast_object_list(box, 0)
    kind, value = box[0]
    if kind == "error":
        raise value
    return value


def barrier(w: World) -> None:
    """Wait for rank 0's writes before anyone reads them (crossdomain's next run, the CLI's summary)."""
    if w.size > 1:
        dist.barrier()
