"""MATLAB label files: the per-scene `seg.mat` (v5) and the toolbox's `SUNRGBD2Dseg.mat` (v7.3).

v5 files go through `scipy.io.loadmat`. v7.3 files are HDF5 in MATLAB's layout, read with h5py:
arrays are stored transposed (MATLAB is column-major), char arrays are uint16 UTF-16 code units
tagged `MATLAB_class = "char"`, cell arrays and struct-array fields are datasets of object
references into `#refs#`, and an empty array is a small uint64 dataset of its dimensions tagged
`MATLAB_empty`. The 665 MB toolbox file is never read whole: `Seg2D.lookup` dereferences one image.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeGuard, cast

import h5py
import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError

from sunprep.errors import BadInput, first_line
from sunprep.inputs import regular_file
from sunprep.labels.classes import SEG37
from sunprep.sunrgbd.records import LabelRecord
from sunprep.sunrgbd.sensors import scene_key

SEG2D_SOURCE = "SUNRGBD2Dseg.mat"
OFFICIAL_SOURCE = "SUNRGBD2Dseg.mat:seglabel"  # the official 37-class map, beside seglabelall's raw names


def _is_name(name: object) -> TypeGuard[str]:
    return isinstance(name, str) and bool(name.strip())


def check_grid(path: Path, seglabel: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """A `seglabel` map must be 2-D, of whole non-negative numbers, and the image's size."""
    a = np.asarray(seglabel)
    if a.ndim != 2 or a.dtype.kind not in "uifb":
        raise BadInput(f"{path}: seglabel is not a 2-D numeric array (shape {a.shape}, {a.dtype})")
    if shape is not None and a.shape != tuple(shape):
        raise BadInput(f"{path}: seglabel is {a.shape[1]}x{a.shape[0]}, image is {shape[1]}x{shape[0]}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (a == np.floor(a))):
        raise BadInput(f"{path}: seglabel holds non-integer values")
    if int(a.min(initial=0)) < 0:
        raise BadInput(f"{path}: seglabel holds negative values")
    return a


def check_labels(
    path: Path, seglabel: np.ndarray, names: Sequence[str | None], shape: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Validate a label map against its names and the image size; returns (uint16 labels, names, warnings).

    A name that is empty or not a string is an error only when some pixel uses it; an unused one
    becomes "" with a warning, so one sloppy cell does not discard a whole annotation.
    """
    a = check_grid(path, seglabel, shape)
    top = int(a.max(initial=0))
    if top > len(names):
        raise BadInput(f"{path}: label index {top} beyond the {len(names)} names")
    # Which labels occur matters only for bad names, so clean name lists (nearly all) skip that
    # pass over the pixels; the checks above make the values valid bincount indices.
    used = None if all(map(_is_name, names)) else np.bincount(a.ravel().astype(np.intp), minlength=len(names) + 1) > 0
    clean: list[str] = []
    unused_bad = 0
    for k, name in enumerate(names, start=1):
        if _is_name(name):
            clean.append(name)
        elif used is not None and used[k]:
            raise BadInput(f"{path}: name {k} is {'empty' if name == '' else 'not a string'} but labels pixels")
        else:
            clean.append("")
            unused_bad += 1
    warnings = (f"{path}: {unused_bad} unused empty or non-string name(s)",) if unused_bad else ()
    if top > 0xFFFF:  # uint16 would wrap these onto other names: keep the used ones, renumbered
        return _compact(path, a, clean, warnings)
    return a.astype(np.uint16), tuple(clean), warnings


def _compact(
    path: Path, a: np.ndarray, names: list[str], warnings: tuple[str, ...]
) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Labels beyond 65,535 renumbered onto the names in use, exactly; BadInput when those do not fit."""
    used, inverse = np.unique(a.astype(np.int64), return_inverse=True)
    if used[0] == 0:
        used = used[1:]
    else:
        inverse = inverse + 1
    if len(used) > 0xFFFF:
        raise BadInput(f"{path}: {len(used)} distinct labels in use; a uint16 label map holds 65,535")
    kept = tuple(names[k - 1] for k in used)
    note = f"{path}: {len(names)} names renumbered to the {len(kept)} in use (labels beyond 65,535)"
    return inverse.reshape(a.shape).astype(np.uint16), kept, (*warnings, note)


def _cell_strings_v5(path: Path, cell: object) -> list[str | None]:
    """Strings of a loadmat cell array of shape (1, N) or (N, 1); None marks a non-string cell."""
    arr = np.asarray(cell)
    if arr.dtype != object:
        if arr.dtype.kind == "U" and arr.size == 0:
            return []
        raise BadInput(f"{path}: names is not a cell array of strings ({arr.dtype}, shape {arr.shape})")
    if arr.ndim != 2 or min(arr.shape) > 1:
        raise BadInput(f"{path}: names has shape {arr.shape}, expected (1, N) or (N, 1)")
    out: list[str | None] = []
    for el in arr.ravel():
        el = np.asarray(el)
        if el.dtype.kind == "U" and el.size <= 1:
            out.append(str(el.item()) if el.size else "")
        else:
            out.append(None)
    return out


def _h5_char(ds: h5py.Dataset) -> str | None:
    """A MATLAB char array as str ("" when empty); None when the dataset is not text."""
    if ds.attrs.get("MATLAB_empty", 0):
        return ""
    cls = ds.attrs.get("MATLAB_class", b"")
    if (cls.decode() if isinstance(cls, bytes) else str(cls)) != "char":
        return None
    return np.asarray(ds[()], dtype="<u2").T.tobytes().decode("utf-16-le", errors="replace")


def _h5_cell_strings(f: h5py.File, ds: h5py.Dataset) -> list[str | None]:
    """The strings of a v7.3 cell array (a dataset of references to char datasets)."""
    if ds.attrs.get("MATLAB_empty", 0):
        return []
    if ds.dtype != h5py.ref_dtype:
        raise BadInput(f"{f.filename}: {ds.name} is not a cell array of strings")
    return [_h5_char(f[ref]) if ref else None for ref in np.asarray(ds[()]).T.ravel()]


def _h5_matrix(ds: h5py.Dataset) -> np.ndarray | None:
    """A numeric MATLAB matrix back in row-major (H, W) order; None for MATLAB's empty `[]`."""
    if ds.attrs.get("MATLAB_empty", 0):
        return None
    return np.asarray(ds[()]).T


# What scipy raises on damaged v5 files varies with the damage: a truncated stream alone gives
# ValueError, zlib.error, EOFError, IndexError or struct.error depending on where it stops.
_V5_ERRORS = (
    MatReadError, ValueError, TypeError, IndexError, EOFError, OSError, zlib.error, struct.error, UnicodeDecodeError,
    NotImplementedError, OverflowError, MemoryError, RecursionError, KeyError, AttributeError,
)  # fmt: skip


def load_v5(path: Path, variables: Sequence[str]) -> dict[str, object]:
    """`loadmat` of the named variables, after checking the 128-byte v5 header ourselves.

    The header check turns "not a MAT file at all" into a clear message instead of whatever
    scipy trips over first.
    """
    try:
        with regular_file(path).open("rb") as f:
            header = f.read(128)
    except OSError as err:
        raise BadInput(f"{path}: cannot read ({err.strerror})") from None
    if len(header) < 128 or header[126:128] not in (b"IM", b"MI") or not header.startswith(b"MATLAB"):
        raise BadInput(f"{path}: not a MATLAB v5 MAT-file (no MAT-file header)")
    if h5py.is_hdf5(path):
        raise BadInput(f"{path}: a MATLAB v7.3 (HDF5) file; expected MATLAB v5 (save with -v7 or older)")
    try:
        return loadmat(path, squeeze_me=False, variable_names=list(variables))
    except _V5_ERRORS as err:
        raise BadInput(f"{path}: not a readable MATLAB file ({first_line(err)})") from None


def read_seg_mat(path: Path, shape: tuple[int, int] | None) -> LabelRecord:
    """Read a scene's `seg.mat`: `seglabel` (H, W), 1-based into the cell array `names`, 0 unlabeled.

    `seginstances`, when present, is not needed for semantic labels and is not read. A v7.3
    (HDF5) `seg.mat` is accepted too, with the same variables.
    """
    if h5py.is_hdf5(regular_file(path)):
        seglabel, names = _read_seg_v73(path)
    else:
        m = load_v5(path, ["seglabel", "names"])
        if "seglabel" not in m:
            raise BadInput(f"{path}: no 'seglabel' variable")
        seglabel = cast(np.ndarray, m["seglabel"])  # check_labels validates what it really is
        names = _cell_strings_v5(path, m["names"]) if "names" in m else None
    if names is None:
        raise BadInput(f"{path}: no 'names' variable")
    labels, clean, warnings = check_labels(path, seglabel, names, shape)
    return LabelRecord(labels, clean, "seg.mat", warnings)


# What h5py raises on damaged files varies with the damage too: a bad superblock or a truncated
# file gives OSError, an object of the wrong kind TypeError or AttributeError, a dangling
# reference ValueError or KeyError.
_H5_ERRORS = (OSError, TypeError, ValueError, KeyError, AttributeError, RuntimeError, IndexError, OverflowError, MemoryError)


def _dataset(f: h5py.File, name: str) -> h5py.Dataset | None:
    """The variable `name` as a dataset, None when absent; BadInput when it is a group (a struct)."""
    if name not in f:
        return None
    obj = f[name]
    if not isinstance(obj, h5py.Dataset):
        raise BadInput(f"{f.filename}: '{name}' is a {type(obj).__name__.lower()}, not an array")
    return obj


def _read_seg_v73(path: Path) -> tuple[np.ndarray, list[str | None] | None]:
    """`seglabel` and `names` of a v7.3 seg.mat; every h5py failure is one BadInput line."""
    try:
        with h5py.File(path, "r") as f:
            ds = _dataset(f, "seglabel")
            if ds is None:
                raise BadInput(f"{path}: no 'seglabel' variable")
            seglabel = _h5_matrix(ds)
            names_ds = _dataset(f, "names")
            names = _h5_cell_strings(f, names_ds) if names_ds is not None else None
    except _H5_ERRORS as err:
        raise BadInput(f"{path}: not a readable MATLAB v7.3 (HDF5) file ({first_line(err)})") from None
    if seglabel is None:
        raise BadInput(f"{path}: 'seglabel' is empty")
    return seglabel, names


def read_order(source: Path) -> list[str]:
    """Scene keys in `SUNRGBD2Dseg.mat`'s order, from a text list or a `SUNRGBDMeta.mat`.

    The toolbox builds SUNRGBD2Dseg in SUNRGBDMeta order, so entry i of one is scene i of the
    other. A text list holds one scene folder or image path per line (blank lines ignored), as in
    the toolbox's split lists.
    """
    regular_file(source)
    if source.suffix == ".mat" and h5py.is_hdf5(source):
        try:
            with h5py.File(source, "r") as f:
                group = f.get("SUNRGBDMeta")
                if not isinstance(group, h5py.Group) or "sequenceName" not in group:
                    raise BadInput(f"{source}: no struct array SUNRGBDMeta with field sequenceName")
                names = [_h5_char(f[ref]) for ref in np.asarray(group["sequenceName"][()]).ravel()]
        except _H5_ERRORS as err:
            raise BadInput(f"{source}: not a readable MATLAB v7.3 (HDF5) file ({first_line(err)})") from None
        if any(n is None for n in names):
            raise BadInput(f"{source}: SUNRGBDMeta(i).sequenceName is not text everywhere")
        return [scene_key(n) for n in names if n is not None]
    if source.suffix == ".mat":
        try:
            m = loadmat(source, squeeze_me=True, struct_as_record=False, variable_names=["SUNRGBDMeta"])
            meta = np.atleast_1d(m["SUNRGBDMeta"])
            return [scene_key(str(entry.sequenceName)) for entry in meta]
        except _V5_ERRORS as err:
            raise BadInput(f"{source}: no readable SUNRGBDMeta(i).sequenceName ({first_line(err)})") from None
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{source}: cannot read scene list ({err})") from None
    return [scene_key(line) for line in lines if line.strip()]


class Seg2D:
    """An open toolbox `SUNRGBD2Dseg.mat`: look up one scene's labels without loading the file.

    Entry i of the struct array `SUNRGBD2Dseg` belongs to scene `order[i]`. Its `seglabelall`
    indexes the global name list `seglistall` (a variable of the same file, or of
    `seglistall.mat` beside it). `lookup` keeps only the names the image uses, renumbered 1..K in
    `seglistall` order, so a label map never drags the 6,000-name global list along. Its
    `seglabel` is the official 37-class map of the same image (`official`), which published
    SUN RGB-D results are computed on; a file without that field reads as raw names only.
    """

    def __init__(self, path: Path, order: Sequence[str]) -> None:
        self.path = Path(path)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise BadInput(f"{self.path}: not a MATLAB v7.3 (HDF5) file ({err})") from None
        try:
            self._refs, self._names, self._official = self._open_parts()
        except BadInput:
            self._file.close()
            raise
        except _H5_ERRORS as err:
            self._file.close()
            raise BadInput(f"{self.path}: not a readable MATLAB v7.3 (HDF5) file ({first_line(err)})") from None
        if self._official is not None and len(self._official) != len(self._refs):
            self._file.close()
            raise BadInput(f"{self.path}: seglabel has {len(self._official)} entries but seglabelall {len(self._refs)}")
        if len(order) != len(self._refs):
            self._file.close()
            raise BadInput(f"{self.path}: holds {len(self._refs)} images but the scene order lists {len(order)}")
        self._index: dict[str, int] = {}
        for i, key in enumerate(order):
            self._index.setdefault(scene_key(key), i)

    def _open_parts(self) -> tuple[np.ndarray, list[str | None], np.ndarray | None]:
        f = self._file
        group = f.get("SUNRGBD2Dseg")
        if not isinstance(group, h5py.Group) or "seglabelall" not in group:
            raise BadInput(f"{self.path}: no struct array SUNRGBD2Dseg with field seglabelall")
        refs = _field_refs(self.path, group, "seglabelall")
        official = _field_refs(self.path, group, "seglabel") if "seglabel" in group else None
        if "seglistall" in f:
            names = _h5_cell_strings(f, f["seglistall"])
        else:
            names = _read_seglistall(self.path.with_name("seglistall.mat"))
        return refs, names, official

    @property
    def has_official(self) -> bool:
        """Whether the file holds the official 37-class maps (`SUNRGBD2Dseg(i).seglabel`)."""
        return self._official is not None

    def __enter__(self) -> Seg2D:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def __len__(self) -> int:
        return len(self._refs)

    def find(self, rel_path: str) -> int | None:
        """Index of a scene given by its path relative to any root (`kv2/...`, `SUNRGBD/kv2/...`, or a suffix)."""
        key = scene_key(rel_path)
        if key in self._index:
            return self._index[key]
        hits = [i for k, i in self._index.items() if k.endswith("/" + key)]
        return hits[0] if len(hits) == 1 else None

    def lookup(self, rel_path: str, shape: tuple[int, int] | None = None) -> LabelRecord | None:
        """The scene's labels, or None when the file does not list it or holds `[]` for it."""
        found = self._map(self._refs, rel_path, "label map")
        if found is None:
            return None
        where, seglabel = found
        full, clean, warnings = check_labels(Path(where), seglabel, self._names, shape)
        used = np.unique(full)
        used = used[used > 0]
        lut = np.zeros(len(clean) + 1, np.uint16)
        lut[used] = np.arange(1, len(used) + 1, dtype=np.uint16)
        return LabelRecord(lut[full], tuple(clean[g - 1] for g in used), SEG2D_SOURCE, warnings)

    def official(self, rel_path: str, shape: tuple[int, int] | None = None) -> np.ndarray | None:
        """The scene's official 37-class map (uint8, 0 unlabeled, k = seg37 class k), or None
        when the file does not list the scene, holds `[]` for it, or has no `seglabel` at all."""
        if self._official is None:
            return None
        found = self._map(self._official, rel_path, "seglabel map")
        if found is None:
            return None
        where, seglabel = found
        return check_official(Path(where), seglabel, shape)

    def _map(self, refs: np.ndarray, rel_path: str, what: str) -> tuple[str, np.ndarray] | None:
        """The scene's matrix behind one of the file's per-image references, named as MATLAB
        would (`SUNRGBD2Dseg(i)`, 1-based) for error lines; None when unlisted or `[]`."""
        i = self.find(rel_path)
        if i is None:
            return None
        where = f"{self.path}[{i + 1}]"
        try:
            matrix = _h5_matrix(self._file[refs[i]])
        except _H5_ERRORS as err:
            raise BadInput(f"{where}: unreadable {what} ({first_line(err)})") from None
        return None if matrix is None else (where, matrix)


def check_official(where: Path, seglabel: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """Validate an official map: 2-D, whole numbers 0..37, the image's size; returns uint8.

    A value above 37 is no seg37 class: the map is refused rather than clipped into one.
    """
    a = check_grid(where, seglabel, shape)
    top = int(a.max(initial=0))
    if top > SEG37:
        raise BadInput(f"{where}: seglabel value {top} outside 0..{SEG37} (the official classes)")
    return a.astype(np.uint8)


def _field_refs(path: Path, group: h5py.Group, name: str) -> np.ndarray:
    """The per-entry references of a struct-array field (an N x 1 dataset of object references)."""
    ds = group[name]
    if not isinstance(ds, h5py.Dataset) or ds.dtype != h5py.ref_dtype:
        raise BadInput(f"{path}: SUNRGBD2Dseg.{name} is not a field of per-image arrays")
    return np.asarray(ds[()]).ravel()


def _read_seglistall(path: Path) -> list[str | None]:
    """The global name list from a separate `seglistall.mat` (v5 or v7.3)."""
    if not path.exists():
        raise BadInput(f"{path}: missing; SUNRGBD2Dseg.mat holds no seglistall either")
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            if "seglistall" not in f:
                raise BadInput(f"{path}: no 'seglistall' variable")
            return _h5_cell_strings(f, f["seglistall"])
    m = load_v5(path, ["seglistall"])
    if "seglistall" not in m:
        raise BadInput(f"{path}: no 'seglistall' variable")
    return _cell_strings_v5(path, m["seglistall"])


def open_seg2d(path: Path, order: Sequence[str] | Path | None = None) -> Seg2D:
    """Open a toolbox `SUNRGBD2Dseg.mat`; `order` maps entries to scenes (see `read_order`).

    Without `order`, `SUNRGBDMeta.mat` beside the file gives it (the toolbox's own layout,
    `SUNRGBDtoolbox/Metadata/`).
    """
    path = Path(path)
    regular_file(path)
    if order is None:
        meta = path.with_name("SUNRGBDMeta.mat")
        if not meta.exists():
            raise BadInput(f"{path}: no scene order given and no {meta.name} beside it")
        order = read_order(meta)
    elif isinstance(order, Path):
        order = read_order(order)
    return Seg2D(path, list(order))
