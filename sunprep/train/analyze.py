"""Looking past the mean: per-image scores, worst cases, scene types, baselines, latent space.

- Per-image mIoU shows whether a good dataset mIoU hides a tail of failed images.
- Baselines (majority class; per-pixel class prior) say how much of the score the image explains.
- Linear CKA (Kornblith et al. 2019) compares bottleneck features of two checkpoints on the same
  images: 1 = the same representation up to rotation and scale. Per-channel statistics compare
  the feature distribution of one checkpoint on two domains (images of two domains do not pair,
  so CKA does not apply there).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from sunprep.atomic import write_text_atomic
from sunprep.errors import TrainError
from sunprep.figures.canvas import save_png
from sunprep.figures.samples import worst_figure
from sunprep.figures.scores import per_image_figure, scene_type_figure
from sunprep.labels.classes import ClassTable
from sunprep.train.checkpoint import head_for
from sunprep.train.config import AnalyzeConfig
from sunprep.train.data import Split, manifest_values, open_dataset, scene_types
from sunprep.train.loop import OnBatch, infer, load_for_eval, pick_device, to_batch
from sunprep.train.metrics import Scores, confusion, score_text, scores
from sunprep.train.unet import UNet

WORST = "worst"  # the folder of the panels, emptied of other runs' at each write


@dataclass(frozen=True)
class Worst:
    """One of the worst images: what its panel shows."""

    id: str  # split/index (or file stem), as the format names it
    scene: str  # the scene it came from (manifest.parquet); the id where there is no manifest
    miou: float
    image: np.ndarray
    label: np.ndarray
    pred: np.ndarray


@dataclass(frozen=True)
class Analysis:
    split: str
    classes: ClassTable
    ids: tuple[str, ...]
    per_image: np.ndarray  # (N, n, n) int64 confusion per image
    model: Scores
    baselines: dict[str, Scores]  # "majority", "pixel prior" (from the train split)
    by_scene_type: dict[str, Scores]  # empty without manifest.parquet
    cka: dict[str, float]  # empty without --compare
    channel_stats: dict[str, np.ndarray]  # domain -> (C, 2) mean and std per bottleneck channel
    worst: list[Worst]  # lowest per-image mIoU first


def linear_cka(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """Linear CKA of (n, p) and (n, q) features of the same n samples, in float64.

    Feature form: ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with column-centred Xc, Yc,
    equal to the HSIC form on linear Gram matrices but O(n p q) instead of O(n^2).
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"want (n, p) and (n, q) features of the same samples, got {tuple(x.shape)} and {tuple(y.shape)}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2
    norm = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return float(cross / norm) if norm > 0 else float("nan")


@torch.no_grad()
def bottleneck(model: UNet, split: Split, batch_size: int, device: torch.device) -> torch.Tensor:
    """(N, C, h, w) bottleneck features on CPU, in eval mode."""
    model.eval()
    out = []
    for start in range(0, len(split), batch_size):
        x, _ = to_batch(split, np.arange(start, min(len(split), start + batch_size)), device)
        out.append(model.trunk(x)[1].float().cpu())
    return torch.cat(out)


def channel_stats(features: torch.Tensor) -> np.ndarray:
    """(C, 2): mean and std of each channel over images and positions."""
    flat = features.transpose(0, 1).reshape(features.shape[1], -1).double()
    return torch.stack([flat.mean(1), flat.std(1)], 1).numpy()


def baselines(train: Split, n: int, target: Split) -> dict[str, Scores]:
    """Image-blind predictors from the train split's labels, scored on `target`.

    majority: the most frequent class everywhere. pixel prior: at each position the class most
    frequent there in training (the majority class where a position was always void).
    """
    lab = train.labels.astype(np.int64)
    counts = np.bincount(lab[lab >= 0], minlength=n)
    majority = int(counts.argmax())
    if train.labels.shape[1:] != target.labels.shape[1:]:
        raise TrainError(f"train images {train.labels.shape[1:]} and evaluated images {target.labels.shape[1:]} differ in size")
    h, w = lab.shape[1:]
    pos = np.arange(h * w)[None].repeat(len(lab), 0).reshape(-1)
    flat = lab.reshape(-1)
    keep = flat >= 0
    hist = np.bincount(pos[keep] * n + flat[keep], minlength=h * w * n).reshape(h * w, n)
    prior = np.where(hist.sum(1) > 0, hist.argmax(1), majority).reshape(h, w)
    gt = torch.from_numpy(target.labels)
    return {
        "majority": scores(confusion(gt, torch.full_like(gt, majority), n)),
        "pixel prior": scores(confusion(gt, torch.from_numpy(np.broadcast_to(prior, gt.shape).copy()), n)),
    }


def analyze(cfg: AnalyzeConfig, on_batch: OnBatch | None = None) -> Analysis:
    ds = open_dataset(cfg.data)
    device = pick_device(cfg.device)
    model, ckpt = load_for_eval(cfg.checkpoint, device)
    head = head_for(ckpt, ds.classes, cfg.checkpoint)
    split = ds.load(cfg.split, cfg.workers)
    n = len(ds.classes)
    per_image = np.zeros((len(split), n, n), np.int64)
    preds = np.zeros(split.labels.shape, np.int16)
    for idx, pred, _ in infer(model, head, split, cfg.batch_size, device, on_batch):
        preds[idx] = pred.numpy()
        for k, i in enumerate(idx):
            per_image[i] = confusion(torch.from_numpy(split.labels[i]), pred[k], n).numpy()

    image_miou = np.array([scores(c).miou for c in per_image])
    order = np.argsort(np.where(np.isnan(image_miou), np.inf, image_miou), kind="stable")[: cfg.worst]
    scenes = manifest_values(ds, split, cfg.split, "scene") or list(split.ids)
    worst = [Worst(split.ids[i], scenes[i] or split.ids[i], float(image_miou[i]), split.images[i], split.labels[i], preds[i]) for i in order]

    types = scene_types(ds, split, cfg.split)
    by_type = {}
    if types is not None:
        for t in sorted(set(types)):
            by_type[t or "(none)"] = scores(per_image[[k for k, s in enumerate(types) if s == t]].sum(0))

    base = baselines(ds.load("train", cfg.workers), n, split) if "train" in ds.splits else {}
    feats = bottleneck(model, split, cfg.batch_size, device)
    stats = {str(cfg.data): channel_stats(feats)}
    if cfg.data2 is not None:
        ds2 = open_dataset(cfg.data2)
        stats[str(cfg.data2)] = channel_stats(bottleneck(model, ds2.load(cfg.split, cfg.workers), cfg.batch_size, device))
    cka = {}
    if cfg.compare is not None:
        other, _ = load_for_eval(cfg.compare, device)
        f2 = bottleneck(other, split, cfg.batch_size, device)
        if f2.shape[2:] != feats.shape[2:]:
            raise TrainError(f"{cfg.compare}: bottleneck grid {tuple(f2.shape[2:])} differs from {tuple(feats.shape[2:])} (other depth)")
        per_position = lambda f: f.permute(0, 2, 3, 1).reshape(-1, f.shape[1])
        cka = {
            "per_position": linear_cka(per_position(feats), per_position(f2)),
            "per_image_pooled": linear_cka(feats.mean((2, 3)), f2.mean((2, 3))),
        }
    return Analysis(cfg.split, ds.classes, split.ids, per_image, scores(per_image.sum(0)), base, by_type, cka, stats, worst)


def write_analysis(a: Analysis, out: Path) -> list[Path]:
    out = Path(out)
    paths = []

    def table(name: str, header: list[str], rows: Sequence[Sequence[object]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        write_text_atomic(out / name, buf.getvalue())
        paths.append(out / name)

    per = [scores(c) for c in a.per_image]
    table("per_image.csv", ["id", "miou", "pixel_acc", "labelled_pixels"], [[i, score_text(s.miou), score_text(s.pixel_acc), s.pixels] for i, s in zip(a.ids, per)])
    rows = [["model", score_text(a.model.miou), score_text(a.model.pixel_acc), score_text(a.model.mean_acc)]]
    rows += [[k, score_text(s.miou), score_text(s.pixel_acc), score_text(s.mean_acc)] for k, s in a.baselines.items()]
    table("baselines.csv", ["predictor", "miou", "pixel_acc", "mean_acc"], rows)
    if a.by_scene_type:
        table("scene_types.csv", ["scene_type", "miou", "pixel_acc", "labelled_pixels"],
              [[t, score_text(s.miou), score_text(s.pixel_acc), s.pixels] for t, s in a.by_scene_type.items()])  # fmt: skip
    domains = list(a.channel_stats)
    header = ["channel"] + [f"{c}_{k}" for k in range(len(domains)) for c in ("mean", "std")]
    stats = np.concatenate([a.channel_stats[d] for d in domains], axis=1)
    table("feature_stats.csv", header, [[c, *(f"{v:.6g}" for v in row)] for c, row in enumerate(stats)])
    paths += [save_png(fig, out / name) for name, fig in figures(a).items()]
    for stale in set((out / WORST).glob("*.png")) - set(paths):  # an earlier run's panels: not this run's worst
        stale.unlink()
    write_text_atomic(out / "summary.json", json.dumps(summary(a), indent=2) + "\n")
    paths.append(out / "summary.json")
    return paths


def figures(a: Analysis) -> dict[str, Figure]:
    """The pictures by path under the output folder: per_image_miou.png, scene_types.png (with a
    manifest) and worst/NN_<id>.png, image | truth | prediction titled with the scene's name."""
    image_miou = np.array([scores(c).miou for c in a.per_image])
    out = {"per_image_miou.png": per_image_figure(image_miou, a.model.miou, f"per-image mIoU on the {a.split} split")}
    if a.by_scene_type:
        by_type = {t: s.miou for t, s in a.by_scene_type.items()}
        out["scene_types.png"] = scene_type_figure(by_type, a.model.miou, f"mIoU per scene type on the {a.split} split")
    for rank, w in enumerate(a.worst, start=1):
        title = f"{w.scene}: mIoU {w.miou:.3f}" + (f"  ({w.id})" if w.scene != w.id else "")
        title += f", rank {rank} from the bottom of {len(a.ids)} images"
        out[f"{WORST}/{rank:02d}_{w.id.replace('/', '_')}.png"] = worst_figure(w.image, w.label, w.pred, a.classes, title)
    return out


def summary(a: Analysis) -> dict[str, object]:
    """The figures the CLI prints, JSON-safe (NaN -> null)."""
    image_miou = np.array([scores(c).miou for c in a.per_image])
    ok = image_miou[~np.isnan(image_miou)]
    quant = {f"p{q}": float(np.percentile(ok, q)) for q in (0, 10, 50, 90, 100)} if ok.size else {}
    feature_shift = None
    if len(a.channel_stats) == 2:
        (m1, s1), (m2, s2) = (v.T for v in a.channel_stats.values())
        feature_shift = float(np.mean(np.abs(m1 - m2) / np.sqrt((s1**2 + s2**2) / 2 + 1e-12)))
    out = {
        "images": len(a.ids),
        "miou": a.model.miou,
        "per_image_miou": quant,
        "worst": [{"id": w.id, "scene": w.scene, "miou": w.miou} for w in a.worst],
        "baselines": {k: s.miou for k, s in a.baselines.items()},
        "scene_types": {k: s.miou for k, s in a.by_scene_type.items()},
        "cka": a.cka,
        "feature_shift": feature_shift,  # mean over channels of |mean_1 - mean_2| / pooled std
    }
    return json.loads(json.dumps(out).replace("NaN", "null"))



