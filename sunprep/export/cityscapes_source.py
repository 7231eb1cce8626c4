"""Reading the official Cityscapes release, so both domains come out of one exporter.

Layout (as downloaded from cityscapes-dataset.com):
`leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png`,
`gtFine/{split}/{city}/..._gtFine_labelIds.png`, `disparity/{split}/{city}/..._disparity.png`,
`camera/{split}/{city}/..._camera.json`. Label ids become the 19 train ids through the official
table (`mappings/cityscapes_labels.csv`, from cityscapesScripts `helpers/labels.py`); train id
255 ("ignore") becomes void. The release's own gtFine maps (`labelIds`, and `instanceIds` and
`color` where the download has them) are read too: the official layout carries them, resized, for
cityscapesScripts' evaluation. disparity/ and camera/ are optional downloads: without depth
(`--depth none`) they are not read.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sunprep.errors import BadInput, MappingError
from sunprep.export.official import FILES, RELEASE_MAPS, CsName
from sunprep.export.sample import MAX_DEPTH_PNG_M
from sunprep.export.splits import SPLITS  # `test` has no public labels in Cityscapes either
from sunprep.labels.classes import VOID, VOID_PNG, ClassTable

# Used only when a frame's camera file is missing: the values of the release's camera files
# (they vary little between cities); the scene then carries a warning.
NOMINAL_BASELINE_M = 0.209313
NOMINAL_FX_PX = 2262.52


@dataclass(frozen=True)
class LabelTable:
    """labelId -> train id as a 256-entry lookup (void -1), and the train classes with colours."""

    lut: np.ndarray  # int16 (256,)
    classes: ClassTable
    label_ids: np.ndarray  # uint8 (n,): train id -> the label id of the row that names it (the way back)


def parse_label_table(text: str, source: str) -> LabelTable:
    """Derive the lookup and the train-class table from the official rows; no id is typed twice."""
    lut = np.full(256, VOID, np.int16)
    train: dict[int, tuple[str, tuple[int, int, int], int]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            label_id, train_id = int(row["id"]), int(row["train_id"])
            name = row["name"].strip()
            colour = (int(row["r"]), int(row["g"]), int(row["b"]))
        except (KeyError, TypeError, ValueError) as err:
            raise MappingError(f"{source}:{line}: expected name,id,train_id,...,r,g,b ({err})") from None
        if label_id < 0 or train_id in (VOID, VOID_PNG):
            continue  # no pixels carry this id (license plate), or ignored in training
        if not 0 <= label_id < 256 or lut[label_id] != VOID:
            raise MappingError(f"{source}:{line}: label id {label_id} out of range or repeated")
        lut[label_id] = train_id
        train.setdefault(train_id, (name, colour, label_id))  # first row names a train id, as upstream
    if sorted(train) != list(range(len(train))):
        raise MappingError(f"{source}: train ids {sorted(train)} are not 0..n-1")
    names = tuple(train[i][0] for i in range(len(train)))
    colours = tuple(train[i][1] for i in range(len(train)))
    label_ids = np.array([train[i][2] for i in range(len(train))], np.uint8)
    return LabelTable(lut, ClassTable(names, colours), label_ids)


def load_label_table() -> LabelTable:
    """The official Cityscapes table shipped in mappings/."""
    text = resources.files("sunprep.mappings").joinpath("cityscapes_labels.csv").read_text("utf-8")
    return parse_label_table(text, "mappings/cityscapes_labels.csv")


@dataclass(frozen=True)
class CityscapesFrame:
    """One frame's files; `rel` is e.g. `leftImg8bit/train/aachen/aachen_000000_000019`."""

    root: Path
    split: str
    city: str
    stem: str  # {city}_{seq}_{frame}

    @property
    def rel(self) -> str:
        return f"{FILES['image'][0]}/{self.split}/{self.city}/{self.stem}"

    def path(self, kind: str) -> Path:
        """This frame's file of `kind` (a key of sunprep.export.official.FILES)."""
        return self.root / CsName(self.split, self.city, self.stem).path(kind)


def discover_frames(root: Path) -> list[CityscapesFrame]:
    """Every `leftImg8bit/{train,val}/<city>/*_leftImg8bit.png`, sorted by split, city, name."""
    root = Path(root)
    folder, suffix = FILES["image"]
    frames = [
        CityscapesFrame(root, split, png.parent.name, png.name[: -len(suffix)])
        for split in SPLITS
        for png in sorted((root / folder / split).glob(f"*/*{suffix}"))
    ]
    if not frames:
        raise BadInput(f"{root}: no {folder}/{{train,val}}/<city>/*{suffix} (not a Cityscapes release)")
    return frames


def _read_png(path: Path, modes: tuple[str, ...]) -> np.ndarray:
    if not path.is_file():
        raise BadInput(f"{path}: missing")
    try:
        with Image.open(path) as im:
            if im.mode not in modes:
                raise BadInput(f"{path}: PNG mode {im.mode}, expected {' or '.join(modes)}")
            im.load()
            return np.asarray(im)
    except (OSError, UnidentifiedImageError, SyntaxError) as err:
        raise BadInput(f"{path}: not a readable PNG ({err})") from None


def _camera(frame: CityscapesFrame) -> tuple[float, float, tuple[str, ...]]:
    """(baseline m, fx px, warnings) from the frame's camera file, nominal values if absent."""
    path = frame.path("camera")
    if not path.is_file():
        return NOMINAL_BASELINE_M, NOMINAL_FX_PX, (f"{path}: missing, nominal baseline and focal length used",)
    try:
        cam = json.loads(path.read_text("utf-8"))
        return float(cam["extrinsic"]["baseline"]), float(cam["intrinsic"]["fx"]), ()
    except (ValueError, KeyError, TypeError) as err:
        raise BadInput(f"{path}: not a Cityscapes camera file ({err})") from None


def disparity_to_depth(raw: np.ndarray, baseline_m: float, fx_px: float) -> np.ndarray:
    """The release's rule: disparity = (p - 1) / 256 for p > 0; depth = baseline * fx / disparity.

    p = 0 (invalid) and p = 1 (zero disparity, infinitely far) both become 0 = missing, and so
    does depth beyond MAX_DEPTH_PNG_M (65.535 m): one rule for every format, since 16-bit
    millimetre PNGs (official layout, Parquet) cannot hold more, and the .npy export would
    otherwise keep kilometres from disparities of a few 1/256 px, which are noise anyway.
    `read_frame` counts those pixels in a warning.
    """
    disparity = (raw.astype(np.float32) - 1.0) / 256.0
    valid = disparity > 0
    depth = np.zeros(raw.shape, np.float32)
    depth[valid] = np.float32(baseline_m * fx_px) / disparity[valid]
    depth[depth > MAX_DEPTH_PNG_M] = 0.0
    return depth


@dataclass(frozen=True)
class CityscapesFrameData:
    rgb: np.ndarray  # uint8 (H, W, 3)
    label_ids: np.ndarray  # uint8 (H, W), official label ids
    depth: np.ndarray | None  # float32 (H, W) metres, 0 = missing; None when not read
    warnings: tuple[str, ...]
    # The gtFine maps as stored, by role: labelIds (uint8), instanceIds (uint16, id * 1000 + k
    # for instances) and color (uint8 RGBA) when the frame has them.
    maps: dict[str, np.ndarray]


# Modes each gtFine map may be stored in; instanceIds are 16-bit, color RGBA in the release.
MAP_MODES = {"labelIds": ("L", "P"), "instanceIds": ("I;16", "I;16B", "I"), "color": ("RGBA", "RGB")}


def _read_map(path: Path, role: str, shape: tuple[int, ...]) -> np.ndarray:
    arr = _read_png(path, MAP_MODES[role])
    if arr.shape[:2] != shape:
        raise BadInput(f"{path}: {arr.shape[:2]} {role} for a {shape} image")
    if role == "instanceIds":
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise BadInput(f"{path}: instance ids outside 0..65535")
        arr = arr.astype(np.uint16)
    return arr


def read_frame(frame: CityscapesFrame, with_depth: bool = True) -> CityscapesFrameData:
    """Read one frame; raises BadInput naming the file for anything missing or inconsistent.

    labelIds must be there; instanceIds and color are carried when present (some downloads and
    conversions drop them).
    """
    rgb = _read_png(frame.path("image"), ("RGB",))
    shape = rgb.shape[:2]
    maps = {"labelIds": _read_map(frame.path("labelIds"), "labelIds", shape)}
    for role in RELEASE_MAPS[1:]:
        if frame.path(role).is_file():
            maps[role] = _read_map(frame.path(role), role, shape)
    if not with_depth:
        return CityscapesFrameData(rgb, maps["labelIds"], None, (), maps)
    disparity_path = frame.path("disparity")
    raw = _read_png(disparity_path, ("I;16", "I;16B", "I"))
    if raw.shape != shape:
        raise BadInput(f"{disparity_path}: {raw.shape} disparity for a {shape} image")
    baseline, fx, warnings = _camera(frame)
    depth = disparity_to_depth(raw, baseline, fx)
    if far := int(np.count_nonzero((raw > 1) & (depth == 0))):  # a disparity, but no depth: beyond the limit
        warnings += (f"{disparity_path}: {far} px beyond {MAX_DEPTH_PNG_M} m treated as missing (0)",)
    return CityscapesFrameData(rgb, maps["labelIds"], depth, warnings, maps)


def has_disparity(root: Path) -> bool:
    """Whether the release holds the disparity download at all (most users fetch only
    leftImg8bit and gtFine)."""
    return (Path(root) / FILES["disparity"][0]).is_dir()


def frame_files(frame: CityscapesFrame, with_depth: bool = True) -> tuple[Path, ...]:
    """The input files of a frame that an export reads, for the manifest's input checksum."""
    kinds = ("image", *RELEASE_MAPS) + (("disparity", "camera") if with_depth else ())
    return tuple(p for p in map(frame.path, kinds) if p.is_file())
