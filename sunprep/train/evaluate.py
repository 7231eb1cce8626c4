"""Evaluate a checkpoint on one split: one confusion matrix over the whole split, then the scores.

Writes `per_class.csv`, `confusion.csv`, `summary.json`, `confusion.png` (row-normalised, class
names on both axes) and `iou.png` (per-class IoU bars, mIoU marked). The head is chosen by the
data's label space, never by position.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sunprep.atomic import check_out_folder, write_text_atomic
from sunprep.figures.canvas import save_png
from sunprep.figures.scores import confusion_figure, iou_figure
from sunprep.labels.classes import ClassTable
from sunprep.train.checkpoint import head_for
from sunprep.train.config import EvalConfig
from sunprep.train.data import open_dataset
from sunprep.train.loop import OnBatch, evaluate_split, load_for_eval, pick_device
from sunprep.train.metrics import Scores, score_text, scores
from sunprep.train.predictions import prediction_writer


@dataclass(frozen=True)
class EvalResult:
    classes: ClassTable
    confusion: np.ndarray  # (n, n) int64, rows ground truth
    scores: Scores
    head: str
    images: int
    loss: float
    split: str
    predictions: Path | None = None  # the folder of the maps `--save-predictions` wrote (labelIds/ or labelTrainIds/)


def evaluate(cfg: EvalConfig, on_batch: OnBatch | None = None) -> EvalResult:
    """Score the checkpoint; under torchrun every rank scores its shard and all get the whole result.

    With `cfg.predictions` each rank writes the predictions of its own shard there.
    """
    for folder in (cfg.out, cfg.predictions):
        if folder is not None:
            check_out_folder(folder)  # before the work, not after it
    ds = open_dataset(cfg.data)
    device = pick_device(cfg.device)
    model, ckpt = load_for_eval(cfg.checkpoint, device)
    head = head_for(ckpt, ds.classes, cfg.checkpoint)
    split = ds.load(cfg.split, cfg.workers, (lambda d, t: on_batch("read", d, t)) if on_batch else None)
    writer = prediction_writer(cfg.predictions, ds.classes) if cfg.predictions is not None else None
    on_pred = writer.write if writer is not None else None
    cm, loss = evaluate_split(model, head, split, len(ds.classes), cfg.batch_size, device, on_batch, cfg.precision, on_pred)
    cm_np = cm.numpy()
    folder = writer.out / writer.kind if writer is not None else None
    return EvalResult(ds.classes, cm_np, scores(cm_np), head, len(split), loss, cfg.split, folder)


def write_results(result: EvalResult, out: Path, extra: dict[str, object] | None = None) -> list[Path]:
    """The output files, each written atomically; returns their paths."""
    out = Path(out)
    s, names = result.scores, result.classes.names
    per_class = io.StringIO()
    w = csv.writer(per_class, lineterminator="\n")
    w.writerow(["class_id", "name", "iou", "acc", "gt_pixels", "pred_pixels"])
    gt, pred = result.confusion.sum(1), result.confusion.sum(0)
    for i, name in enumerate(names):
        w.writerow([i, name, score_text(s.iou[i]), score_text(s.acc[i]), int(gt[i]), int(pred[i])])
    conf = io.StringIO()
    w = csv.writer(conf, lineterminator="\n")
    w.writerow(["gt\\pred", *names])
    for name, row in zip(names, result.confusion):
        w.writerow([name, *row.tolist()])
    summary = {
        "miou": s.miou,
        "pixel_acc": s.pixel_acc,
        "mean_acc": s.mean_acc,
        "loss": result.loss,
        "labelled_pixels": s.pixels,
        "images": result.images,
        "classes": len(names),
        "classes_scored": int(np.sum(~np.isnan(s.iou))),
        "head": result.head,
        "miou_definition": "mean IoU over classes present in ground truth or prediction; one confusion matrix over the split",
        **(extra or {}),
    }
    paths = [out / "per_class.csv", out / "confusion.csv", out / "summary.json"]
    write_text_atomic(paths[0], per_class.getvalue())
    write_text_atomic(paths[1], conf.getvalue())
    write_text_atomic(paths[2], json.dumps(_json_safe(summary), indent=2) + "\n")
    return paths + [save_png(fig, out / name) for name, fig in figures(result).items()]


def figures(result: EvalResult) -> dict[str, Figure]:
    """The pictures by file name: the row-normalised confusion matrix and the per-class IoU bars."""
    where = f"{result.split} split, {result.images} images"
    return {
        "confusion.png": confusion_figure(result.confusion, result.classes, f"confusion on the {where}"),
        "iou.png": iou_figure(result.scores.iou, result.scores.miou, result.classes, f"per-class IoU on the {where}"),
    }


def _json_safe(d: dict[str, object]) -> dict[str, object]:
    """JSON has no NaN: an undefined score (e.g. an all-void split) is written as null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
