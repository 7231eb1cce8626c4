"""The cross-domain study: train on A, train on B, fine-tune A->B and B->A, evaluate all on both.

Fine-tuning shares the encoder-decoder and keeps each domain's own head, so the fine-tuned model
can still be scored on its source domain: the drop there is *forgetting*. Its score on the target
against the from-scratch model is *transfer*; fine-tuning has its own epochs and peak rate
(`--finetune-epochs`, `--finetune-lr`), written beside every row of the results. Every run lives in its own folder
and is resumed (or skipped when finished), so an interrupted study continues where it stopped.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from sunprep.atomic import write_text_atomic
from sunprep.figures.canvas import save_png
from sunprep.figures.study import results_figure
from sunprep.train import distributed
from sunprep.train.checkpoint import load_checkpoint, space_key
from sunprep.train.config import CrossConfig, TrainConfig
from sunprep.train.data import Dataset, Split, open_dataset
from sunprep.train.loop import (
    OnBatch,
    OnEpoch,
    OnNote,
    evaluate_split,
    load_for_eval,
    pick_device,
    train,
)
from sunprep.train.metrics import score_text, scores


@dataclass(frozen=True)
class Row:
    model: str  # "A", "B", "A->B", "B->A"
    trained_on: str
    miou_on_a: float  # NaN where the model has no head for A
    miou_on_b: float
    forgetting: float  # source-domain mIoU lost by fine-tuning (fine-tuned rows only)
    transfer: float  # target mIoU of fine-tuned minus from-scratch (fine-tuned rows only)
    epochs: int  # of this run (fine-tuning: its own, after the source run's)
    lr: float  # peak rate of this run


RUNS = (("A", "a", None), ("B", "b", None), ("A_to_B", "b", "A"), ("B_to_A", "a", "B"))


def run_study(
    cfg: CrossConfig, on_batch: OnBatch | None = None, on_epoch: OnEpoch | None = None, on_note: OnNote | None = None
) -> list[Row]:
    """Train the four runs (resuming unfinished ones) and score each on both val splits."""
    base = TrainConfig(
        data=cfg.domain_a, out=cfg.out, epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, width=cfg.width,
        poolings=cfg.poolings, seed=cfg.seed, device=cfg.device, workers=cfg.workers, precision=cfg.precision,
        compile=cfg.compile,
    )  # fmt: skip
    tune = replace(base, epochs=cfg.finetune_epochs, lr=cfg.finetune_lr)  # checked now, before the first run
    data = {"a": cfg.domain_a, "b": cfg.domain_b}
    ckpts: dict[str, Path] = {}
    for name, domain, init in RUNS:
        out = Path(cfg.out) / name
        last = out / "last.pt"
        run = tune if init else base
        done = distributed.on_main(lambda: load_checkpoint(last)["epoch"] if last.exists() else 0, distributed.world())  # noqa: B023
        if done < run.epochs:
            run_cfg = replace(run, data=data[domain], out=out, init=ckpts.get(init or ""), resume=done > 0)
            label = name.replace("_to_", "->")
            train(run_cfg, _labelled(on_batch, label), on_epoch, on_note)
        ckpts[name] = out / "last.pt"

    device = pick_device(cfg.device)
    domains = {k: open_dataset(p) for k, p in data.items()}
    vals = {k: ds.load("val", cfg.workers) for k, ds in domains.items()}
    miou = {name: {k: _score(ckpts[name], domains[k], vals[k], cfg, device) for k in data} for name, _, _ in RUNS}
    nan = float("nan")
    return [
        Row("A", "A", miou["A"]["a"], miou["A"]["b"], nan, nan, base.epochs, base.lr),
        Row("B", "B", miou["B"]["a"], miou["B"]["b"], nan, nan, base.epochs, base.lr),
        Row("A->B", "A then B", miou["A_to_B"]["a"], miou["A_to_B"]["b"],
            miou["A"]["a"] - miou["A_to_B"]["a"], miou["A_to_B"]["b"] - miou["B"]["b"], tune.epochs, tune.lr),
        Row("B->A", "B then A", miou["B_to_A"]["a"], miou["B_to_A"]["b"],
            miou["B"]["b"] - miou["B_to_A"]["b"], miou["B_to_A"]["a"] - miou["A"]["a"], tune.epochs, tune.lr),
    ]  # fmt: skip


def _score(ckpt_path: Path, ds: Dataset, val: Split, cfg: CrossConfig, device: torch.device) -> float:
    """Val mIoU with the head of the domain's label space; NaN when the model never had one."""
    model, ckpt = load_for_eval(ckpt_path, device)
    key = space_key(ds.classes)
    if key not in ckpt["heads"]:
        return float("nan")
    cm, _ = evaluate_split(model, key, val, len(ds.classes), cfg.batch_size, device, precision_=cfg.precision)
    return scores(cm).miou


def write_results(rows: list[Row], cfg: CrossConfig) -> list[Path]:
    """results.csv (the matrix, forgetting and transfer), results.md (the same as Markdown) and results.png."""
    out = Path(cfg.out)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "trained_on", "miou_on_a", "miou_on_b", "forgetting", "transfer", "epochs", "lr"])
    for r in rows:
        w.writerow([r.model, r.trained_on, *(score_text(v, 6) for v in (r.miou_on_a, r.miou_on_b, r.forgetting, r.transfer)),
                    r.epochs, f"{r.lr:g}"])
    write_text_atomic(out / "results.csv", buf.getvalue())
    write_text_atomic(out / "results.md", markdown(rows, cfg))
    save_png(figure(rows, cfg), out / "results.png")
    return [out / "results.csv", out / "results.md", out / "results.png"]


def figure(rows: list[Row], cfg: CrossConfig) -> Figure:
    """The results matrix as an annotated heatmap, forgetting and transfer marked on their cells."""
    return results_figure(
        [r.model for r in rows], np.array([[r.miou_on_a, r.miou_on_b] for r in rows]), [r.forgetting for r in rows],
        [r.transfer for r in rows], [f"A ({Path(cfg.domain_a).name})", f"B ({Path(cfg.domain_b).name})"],
        f"cross-domain study: {cfg.epochs} epochs per run, val mIoU",
    )  # fmt: skip


def markdown(rows: list[Row], cfg: CrossConfig) -> str:
    lines = [
        f"A = `{cfg.domain_a}`, B = `{cfg.domain_b}`; from scratch {cfg.epochs} epochs at lr {cfg.lr:g}, fine-tuning "
        f"{cfg.finetune_epochs} epochs at lr {cfg.finetune_lr:g}; val mIoU.",
        "",
        "| model | trained on | mIoU on A | mIoU on B | forgetting | transfer | epochs | lr |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        vals = " | ".join(score_text(v, 4, "-") for v in (r.miou_on_a, r.miou_on_b, r.forgetting, r.transfer))
        lines.append(f"| {r.model} | {r.trained_on} | {vals} | {r.epochs} | {r.lr:g} |")
    lines += [
        "",
        "forgetting: the source domain's mIoU drop after fine-tuning (its own head, shared trunk moved on).",
        "transfer: fine-tuned minus from-scratch mIoU on the target (> 0: pre-training helped); the fine-tuning run's",
        "epochs come after its source run's.",
        "'-' under a domain: the model has no head for that label space.",
    ]
    return "\n".join(lines) + "\n"




def _labelled(on_batch: OnBatch | None, label: str) -> OnBatch | None:
    """Prefix each progress description with the run it belongs to (four runs share one bar)."""
    if on_batch is None:
        return None
    inner = on_batch
    return lambda d, k, t: inner(f"{label}: {d}", k, t)
