"""The training loop, read top to bottom: data -> model -> epochs (train, validate, checkpoint).

Choices, and why:
- AdamW, weight decay 1e-4, at the peak rate `benchmarks/recipe.py` measured (config.py says
  which): learns from scratch within a few dozen steps (runs of thousands end higher at a lower
  rate: README); decoupled decay keeps BN scales unpenalised.
- Warm-up then poly(0.9) to 0 per step (`schedule.lr_at`): an N-epoch run is a finished run and
  two runs of equal epochs compare fairly (crossdomain).
- Cross-entropy with `ignore_index=-1`: void is ignored, never shifted into a fake class.
- The field's augmentation (`augment`): random resize 0.5-2.0 with nearest-neighbour labels,
  crop/pad with void, flips, photometric jitter; labels are never interpolated.
- Per-epoch randomness comes from `default_rng([seed, epoch])`, per-step augmentation from
  `default_rng([seed, epoch, step, rank])`, and torch's own generator is seeded from (seed, epoch,
  rank) at each epoch's start, so `--resume` replays an interrupted epoch exactly without saving
  or restoring any generator state.
- channels_last (oneDNN convolutions ~1.6x faster on CPU, measured; tensor cores on CUDA);
  `--precision` (sunprep/train/precision.py); under torchrun, data-parallel
  (sunprep/train/distributed.py): the same loop with a world of size 1 otherwise.
"""

from __future__ import annotations

import csv
import io
import json
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sunprep.atomic import check_out_folder, stale_temporaries, write_text_atomic
from sunprep.errors import BadInput, TrainError
from sunprep.figures.canvas import save_png
from sunprep.figures.curves import training_figure
from sunprep.labels.classes import VOID
from sunprep.train import distributed, precision
from sunprep.train.augment import augment
from sunprep.train.checkpoint import (
    build_model,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    space_key,
    table_to_dict,
)
from sunprep.train.config import TrainConfig
from sunprep.train.data import Split, open_dataset
from sunprep.train.distributed import World
from sunprep.train.metrics import confusion, scores
from sunprep.train.objective import criterion
from sunprep.train.schedule import lr_at, warmup_steps
from sunprep.train.unet import UNet, UNetConfig

OnBatch = Callable[[str, int, int], None]  # (phase description, done, total)
OnEpoch = Callable[[dict[str, float]], None]
OnNote = Callable[[str], None]  # something the user should know, said on stderr
OnPred = Callable[[list[str], np.ndarray], None]  # (sample ids, predictions (B, H, W) class ids)

METRIC_COLUMNS = (
    "epoch", "lr", "train_loss", "val_loss", "val_miou", "val_pixel_acc", "val_mean_acc", "images_per_s", "seconds",
)  # fmt: skip
CURVES = "curves.png"  # metrics.csv's loss and val mIoU per epoch, redrawn after every epoch
# Config fields that must not change between an interrupted run and its --resume (--epochs may
# grow: `_extension`). The world size may change: --batch-size is the global batch.
RESUME_FIXED = ("batch_size", "lr", "weight_decay", "width", "poolings", "seed", "flip", "scale", "scale_min", "scale_max",
                "photometric", "warmup", "class_weights", "init")


def pick_device(name: str) -> torch.device:
    """`auto` prefers CUDA, then Apple MPS, then CPU; an explicit choice that is absent is an error."""
    cuda, mps = torch.cuda.is_available(), torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise TrainError(f"--device {name}: expected auto, cpu, cuda or mps")
    if (name == "cuda" and not cuda) or (name == "mps" and not mps):
        raise TrainError(f"--device {name}: not available on this machine")
    if name == "cuda" or (name == "auto" and cuda):
        return torch.device("cuda", distributed.local_rank())  # torchrun: one GPU per local rank
    return torch.device(name)


def to_batch(split: Split, idx: np.ndarray, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather a batch; images become float NCHW in channels_last layout for free (NHWC permuted).

    uint8 crosses to the device before conversion: a quarter of the bytes of float32.
    """
    imgs, labs = split.images[idx], split.labels[idx]
    x = torch.from_numpy(imgs).to(device, non_blocking=True).permute(0, 3, 1, 2)
    x = x.float().div_(255) if x.dtype == torch.uint8 else x.float()
    return x, torch.from_numpy(labs).to(device, non_blocking=True).long()


def prepare(model: UNet, device: torch.device) -> UNet:
    return model.to(device=device, memory_format=torch.channels_last)  # type: ignore[call-overload]


@torch.no_grad()
def infer(
    model: UNet, head: str, split: Split, batch_size: int, device: torch.device, on_batch: OnBatch | None = None,
    precision_: str = "auto",
) -> Iterator[tuple[np.ndarray, torch.Tensor, float]]:
    """Yield (sample indices, predictions (B,H,W) int64 on CPU, summed loss over labelled pixels)."""
    model.eval()
    n = len(split)
    mode = precision.resolve(precision_, device)
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        x, y = to_batch(split, idx, device)
        with precision.autocast(mode, device):
            logits = model(x, head)
        loss = criterion(logits, y, reduction="sum")
        yield idx, logits.argmax(1).cpu(), float(loss)
        if on_batch:
            on_batch("evaluate", int(idx[-1]) + 1, n)


def evaluate_split(
    model: UNet, head: str, split: Split, n_classes: int, batch_size: int, device: torch.device, on_batch: OnBatch | None = None,
    precision_: str = "auto", on_pred: OnPred | None = None,
) -> tuple[torch.Tensor, float]:
    """One confusion matrix over the whole split and the mean loss per labelled pixel.

    Under torchrun each rank scores its shard of `split` (pass the whole split) with rank 0's
    weights and the matrices are summed: integer counts, so the result equals one process's.
    `batch_size` is the global batch, shared among the ranks. `on_pred` gets each batch's sample
    ids and predictions on the rank that made them.
    """
    w = distributed.world()
    distributed.sync_state(model, w)
    mine = distributed.shard(split, w)
    cm = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    loss = torch.zeros((), dtype=torch.float64)
    for idx, pred, batch_loss in infer(model, head, mine, -(-batch_size // w.size), device, on_batch, precision_):
        cm += confusion(torch.from_numpy(mine.labels[idx]), pred, n_classes)
        loss += batch_loss
        if on_pred is not None:
            on_pred([mine.ids[i] for i in idx], pred.numpy())
    cm, loss = distributed.sum_all(cm, w, device), distributed.sum_all(loss, w, device)
    labelled = int(cm.sum())
    return cm, float(loss) / labelled if labelled else float("nan")


def class_weights(kind: str, labels: np.ndarray, n: int) -> torch.Tensor | None:
    """`inverse-sqrt`: 1/sqrt(pixel frequency), mean 1 over present classes; absent classes get 0."""
    if kind == "none":
        return None
    if kind != "inverse-sqrt":
        raise TrainError(f"--class-weights {kind}: expected none or inverse-sqrt")
    lab = labels.reshape(-1)
    counts = np.bincount(lab[lab >= 0].astype(np.int64), minlength=n).astype(np.float64)
    w = np.where(counts > 0, 1 / np.sqrt(np.maximum(counts, 1) / counts.sum()), 0.0)
    return torch.tensor(w / w[w > 0].mean(), dtype=torch.float32)


def _new_model(cfg: TrainConfig, key: str, n_classes: int) -> tuple[UNet, dict[str, dict]]:
    """Fresh weights from `seed` (a forked RNG: the caller's global state is left alone), or --init's."""
    arch = UNetConfig(width=cfg.width, poolings=cfg.poolings)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        init_path = cfg.init
        if init_path is None:
            return UNet(arch, {key: n_classes}), {}
        init = distributed.on_main(lambda: load_checkpoint(init_path), distributed.world())
        if init["arch"] != asdict(arch):
            raise TrainError(f"{init_path}: architecture {init['arch']} differs from --width {cfg.width} --poolings {cfg.poolings}")
        model = build_model(init, init_path)
        if key not in model.heads:
            model.add_head(key, n_classes)
        return model, init["heads"]


def train(
    cfg: TrainConfig, on_batch: OnBatch | None = None, on_epoch: OnEpoch | None = None, on_note: OnNote | None = None
) -> Path:
    """Train (or resume) into `cfg.out`; returns the path of the last checkpoint.

    Under torchrun every rank runs this on its shard; rank 0 alone writes files and reports.
    """
    w = distributed.world()
    if not w.main:
        on_batch = on_epoch = on_note = None
    on_batch = on_batch or (lambda desc, done, total: None)
    out = Path(cfg.out)
    ckpt_path = out / "last.pt"
    local_batch = distributed.check_batch(cfg.batch_size, w)
    device = pick_device(cfg.device)
    mode = precision.resolve(cfg.precision, device)
    saved = distributed.on_main(lambda: _start(cfg, ckpt_path), w)

    ds = open_dataset(cfg.data)
    if distributed.on_main(lambda: ds.fingerprint, w) != ds.fingerprint:
        raise TrainError(f"{cfg.data}: rank {w.rank} reads other files than rank 0 (file listing or classes differ)")
    if saved is not None and saved["epoch"] >= cfg.epochs == int(saved["config"]["epochs"]):
        return _finished(saved, cfg, ds.fingerprint, ckpt_path, w, on_note)
    if device.type == "cuda":
        # Same seed, same result on CUDA too: cuDNN's autotuner and some of its kernels are not
        # deterministic (transposed-conv backward); this costs a little speed.
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    key, n = space_key(ds.classes), len(ds.classes)
    full_train = ds.load("train", cfg.workers, lambda d, t: on_batch("read train", d, t))
    n_train = len(full_train)
    weights = class_weights(cfg.class_weights, full_train.labels, n)  # from the whole split: one loss on every rank
    weights = weights.to(device) if weights is not None else None
    train_split = distributed.shard(full_train, w)
    del full_train
    labelled = (train_split.labels != VOID).reshape(len(train_split), -1).any(1)
    val_split = ds.load(cfg.val_split, cfg.workers, lambda d, t: on_batch("read val", d, t)) if cfg.val_split in ds.splits else None

    model, heads = _new_model(cfg, key, n)
    heads = {**heads, key: table_to_dict(ds.classes)}
    model = prepare(model, device)
    net = distributed.wrap(model, key, device, w)
    if cfg.compile:
        net = torch.compile(net)  # type: ignore[assignment]  # after DDP, as the DDP docs advise
    steps_per_epoch = -(-distributed.shard_length(n_train, w) // local_batch)
    total_steps = cfg.epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    warmup = warmup_steps(total_steps, cfg.warmup)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_at(step, total_steps, warmup))
    aug = cfg.augmentation()
    scaler = precision.grad_scaler(mode, device)

    start_epoch, history, changes = 0, [], []
    if saved is not None:
        _check_resumable(saved, cfg, ds.fingerprint, ckpt_path)
        start_epoch, history, changes = saved["epoch"], list(saved["history"]), list(saved.get("schedule_changes", []))
        load_weights(model, saved["model"], ckpt_path)
        try:
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
            if scaler.is_enabled() and saved.get("scaler"):
                scaler.load_state_dict(saved["scaler"])
        except (ValueError, KeyError, TypeError, RuntimeError) as err:
            raise TrainError(f"{ckpt_path}: damaged optimiser or schedule state ({type(err).__name__})") from None
        change = _extension(saved, cfg, ckpt_path, opt, sched)
        if change is not None:
            changes.append(change[0])
            if on_note:
                on_note(change[1])
    run_info = {"world_size": w.size, "precision": mode, "schedule_changes": changes}
    if on_note:
        procs = f"{w.size} processes" if w.size > 1 else "1 process"
        on_note(f"training on {device}, {procs}, precision {mode}{', compiled' if cfg.compile else ''}, "
                f"{local_batch} images per process and step, epochs {start_epoch + 1}..{cfg.epochs}")  # fmt: skip
    if w.main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.json", json.dumps({**cfg.to_json(), **run_info}, indent=2) + "\n")
        if history:  # a run killed after its checkpoint but before metrics.csv gets that row back
            write_metrics(out, history, cfg.epochs)

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([cfg.seed, epoch])
        order = distributed.shard_order(rng.permutation(n_train), n_train, w)
        batches_of = [order[b * local_batch : (b + 1) * local_batch] for b in range(steps_per_epoch)]
        # An all-void batch has loss 0/0 = NaN: no step from it (on every rank alike).
        steps = distributed.any_labelled(np.array([labelled[i].any() for i in batches_of]), w, device)
        model.train()
        loss_sum, batches = 0.0, 0
        with _epoch_rng(cfg.seed, epoch, w, device):
            for b, idx in enumerate(batches_of):
                step_rng = np.random.default_rng([cfg.seed, epoch, b, w.rank])
                x, y = augment(*to_batch(train_split, idx, device), step_rng, aug)
                with precision.autocast(mode, device):
                    # A skipped step bypasses DDP: a forward pass through it wants its backward.
                    logits = (net if steps[b] else model)(x, key)
                opt.zero_grad(set_to_none=True)
                if steps[b]:
                    # This rank's share may be void (or cropped to void) while others' is not.
                    own = bool((y != VOID).any())
                    loss = criterion(logits, y, weights) if own else logits.sum() * 0.0
                    scaler.scale(loss).backward()
                    scaler.step(opt)
                    scaler.update()
                    if own:
                        loss_sum += float(loss.detach())
                        batches += 1
                with warnings.catch_warnings():  # after a skipped first step torch warns of an order we mean
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler")
                    sched.step()
                on_batch(f"epoch {epoch + 1}/{cfg.epochs}", b + 1, steps_per_epoch)
        loss_sum, batches = distributed.sum_all(torch.tensor([loss_sum, batches], dtype=torch.float64), w, device).tolist()
        train_seconds = time.perf_counter() - t0
        row: dict[str, float] = {
            "epoch": epoch + 1,
            "lr": opt.param_groups[0]["lr"],
            "train_loss": loss_sum / batches if batches else float("nan"),
            "images_per_s": n_train / train_seconds,
        }
        if val_split is not None:
            cm, val_loss = evaluate_split(model, key, val_split, n, cfg.batch_size, device, precision_=mode)
            s = scores(cm)
            row.update(val_loss=val_loss, val_miou=s.miou, val_pixel_acc=s.pixel_acc, val_mean_acc=s.mean_acc)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if w.main:
            save_checkpoint(
                ckpt_path,
                {
                    "arch": asdict(model.cfg),
                    "heads": heads,
                    "head": key,
                    "model": model.state_dict(),  # the bare module's: no `module.` prefixes, loads in any world
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict(),
                    "epoch": epoch + 1,
                    "history": history,
                    "config": cfg.to_json(),
                    "data_fingerprint": ds.fingerprint,
                    **run_info,
                },
            )
            write_metrics(out, history, cfg.epochs)
        if on_epoch:
            on_epoch(row)
    distributed.barrier(w)  # nobody reads last.pt (crossdomain's next run) before rank 0 has written it
    return ckpt_path


def _finished(saved: dict[str, Any], cfg: TrainConfig, fingerprint: str, ckpt_path: Path, w: World, on_note: OnNote | None) -> Path:
    """--resume of a finished run: nothing to train, so the checkpoint and config.json stay as they are.

    Only metrics.csv is put right when a kill between last.pt and it lost the last row.
    """
    _check_resumable(saved, cfg, fingerprint, ckpt_path)
    history = list(saved["history"])
    metrics = ckpt_path.parent / "metrics.csv"
    if w.main and (not metrics.exists() or metrics.read_text() != metrics_csv(history)):
        write_metrics(ckpt_path.parent, history, cfg.epochs)
    if on_note:
        on_note(f"{ckpt_path}: the run is already complete ({saved['epoch']} of {cfg.epochs} epochs); nothing changed")
    return ckpt_path


def _start(cfg: TrainConfig, ckpt_path: Path) -> dict[str, Any] | None:
    """Rank 0's checks of the run folder; the checkpoint to resume, or None for a fresh run."""
    check_out_folder(Path(cfg.out))
    if ckpt_path.exists() and not cfg.resume:
        raise TrainError(f"{ckpt_path}: exists; pass --resume to continue it or choose another --out")
    if cfg.resume and not ckpt_path.exists():
        raise TrainError(f"{ckpt_path}: nothing to resume")
    for name in ("last.pt", "metrics.csv", CURVES, "config.json"):  # left by a kill inside an atomic write
        for tmp in stale_temporaries(Path(cfg.out) / name):
            tmp.unlink(missing_ok=True)
    return load_checkpoint(ckpt_path, resumable=True) if cfg.resume else None


@contextmanager
def _epoch_rng(seed: int, epoch: int, w: World, device: torch.device) -> Iterator[None]:
    """torch's generator seeded from (seed, epoch, rank) for one epoch, the caller's state restored
    after: anything drawn from torch replays on --resume without a generator state in the checkpoint."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(int(np.random.SeedSequence([seed, epoch, w.rank]).generate_state(1)[0]))
        yield


def _extension(
    ckpt: dict[str, Any], cfg: TrainConfig, path: Path, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR
) -> tuple[dict[str, int], str] | None:
    """--resume with another --epochs: the record of the change and what to tell the user, or None.

    The poly schedule is recomputed for the new total, so the rate jumps back up where the old
    run stopped: the result differs from a run trained for the new total from the start.
    """
    before, done = int(ckpt["config"]["epochs"]), int(ckpt["epoch"])
    if cfg.epochs == before:
        return None
    if cfg.epochs <= done:
        raise BadInput(
            f"{path}: --epochs {cfg.epochs}, but the run has finished {done} of {before} epochs; "
            f"pass more than {done} to extend it, or choose another --out for a shorter run"
        )
    old_lr = opt.param_groups[0]["lr"]
    for group, base in zip(opt.param_groups, sched.base_lrs):
        group["lr"] = base * sched.lr_lambdas[0](sched.last_epoch)
    new_lr = opt.param_groups[0]["lr"]
    state = "finished" if done == before else "interrupted"
    note = (
        f"{path}: {state} run of {before} epochs continues to {cfg.epochs}: the poly schedule is recomputed for "
        f"{cfg.epochs} epochs, so the rate goes from {old_lr:.3g} to {new_lr:.3g} at epoch {done + 1} and decays to 0 at "
        f"epoch {cfg.epochs}; the weights will differ from a {cfg.epochs}-epoch run from the start (recorded in config.json)"
    )
    return {"at_epoch": done, "epochs_before": before, "epochs_after": cfg.epochs}, note


def _check_resumable(ckpt: dict[str, Any], cfg: TrainConfig, fingerprint: str, path: Path) -> None:
    if ckpt["data_fingerprint"] != fingerprint:
        raise TrainError(f"{path}: trained on other data than {cfg.data} (file listing or classes differ)")
    saved, now = ckpt["config"], cfg.to_json()
    for name in RESUME_FIXED:
        if saved.get(name) != now[name]:
            raise TrainError(f"{path}: was run with {name}={saved.get(name)!r}, now {now[name]!r}; resume needs the same")


def write_metrics(out: Path, history: list[dict[str, float]], epochs: int) -> None:
    """metrics.csv and its picture, curves.png (rank 0 only, like every file of a run)."""
    write_text_atomic(out / "metrics.csv", metrics_csv(history))
    save_png(training_figure(history, f"{out}: {len(history)} of {epochs} epochs"), out / CURVES)


def metrics_csv(history: list[dict[str, float]]) -> str:
    """One row per finished epoch; validation columns stay empty when there is no val split."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in history:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def load_for_eval(ckpt_path: Path, device: torch.device) -> tuple[UNet, dict[str, Any]]:
    """The checkpoint's model, on `device`, ready for inference, and the raw checkpoint (read by
    rank 0 under torchrun and handed to the others)."""
    ckpt = distributed.on_main(lambda: load_checkpoint(ckpt_path), distributed.world())
    return prepare(build_model(ckpt, ckpt_path), device).eval(), ckpt

