"""``manifest.jsonl``: one JSON object per degraded image.

Schema of a line::

    {"id": "I_dark-noise_0003",           # unique within the manifest
     "setting": "I",                       # "I" … "IV", or null (single-degradation sets, real photos)
     "degradations": ["dark", "noise"],    # canonical names, in the order they were applied
     "lq": "lq/I/dark-noise/0003.png",     # path relative to the manifest's folder
     "gt": "gt/0003.png",                  # the clean image, relative; null for real photos
     "split": "train",                     # "train" or "test"
     "params": [{"name": "dark", ...}, …]} # what was sampled, in order (replayable)

``read_manifest`` checks every line and raises ``ManifestError`` naming the file and line.
Training code reads through ``training_images``, which never exposes ``gt``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from restore_ray.combos import SETTINGS
from restore_ray.names import DEGRADATIONS

SPLITS = ("train", "test")
FIELDS = ("id", "setting", "degradations", "lq", "gt", "split", "params")


class ManifestError(ValueError):
    """A manifest line is malformed; the message names the file and line number."""


@dataclass(frozen=True)
class Record:
    """One manifest line, with paths resolved against the manifest's folder in ``root``."""

    id: str
    setting: str | None
    degradations: tuple[str, ...]
    lq: str
    gt: str | None
    split: str
    params: tuple[dict[str, Any], ...] = ()
    root: Path = field(default=Path("."), compare=False, repr=False)

    @property
    def lq_path(self) -> Path:
        return self.root / self.lq

    @property
    def gt_path(self) -> Path | None:
        return None if self.gt is None else self.root / self.gt

    @property
    def combination(self) -> str:
        return "+".join(self.degradations)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("root")
        d["degradations"] = list(self.degradations)
        d["params"] = list(self.params)
        return d


def _parse(obj: Any, where: str, root: Path) -> Record:
    if not isinstance(obj, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    missing = [k for k in FIELDS if k not in obj and k != "params"]
    if missing:
        raise ManifestError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)}")
    if not isinstance(obj["id"], str) or not obj["id"]:
        raise ManifestError(f"{where}: 'id' must be a non-empty string")
    if obj["setting"] is not None and obj["setting"] not in SETTINGS:
        raise ManifestError(f"{where}: 'setting' must be one of {', '.join(SETTINGS)} or null, got {obj['setting']!r}")
    degs = obj["degradations"]
    if not isinstance(degs, list) or not all(isinstance(d, str) for d in degs):
        raise ManifestError(f"{where}: 'degradations' must be a list of names")
    bad = [d for d in degs if d not in DEGRADATIONS]
    if bad:
        raise ManifestError(f"{where}: unknown degradation(s) {', '.join(bad)}; expected {', '.join(DEGRADATIONS)}")
    if not isinstance(obj["lq"], str) or not obj["lq"]:
        raise ManifestError(f"{where}: 'lq' must be a relative path string")
    if obj["gt"] is not None and not isinstance(obj["gt"], str):
        raise ManifestError(f"{where}: 'gt' must be a relative path string or null")
    if obj["split"] not in SPLITS:
        raise ManifestError(f"{where}: 'split' must be 'train' or 'test', got {obj['split']!r}")
    params = obj.get("params", [])
    if not isinstance(params, list) or not all(isinstance(p, dict) for p in params):
        raise ManifestError(f"{where}: 'params' must be a list of objects")
    for key in ("lq", "gt"):
        value = obj[key]
        if value is not None and (os.path.isabs(value) or ".." in Path(value).parts):
            raise ManifestError(f"{where}: {key!r} must be relative to the manifest and stay inside its folder")
    return Record(obj["id"], obj["setting"], tuple(degs), obj["lq"], obj["gt"], obj["split"],
                  tuple(params), root)


def read_manifest(path: str | os.PathLike) -> list[Record]:
    """Read and validate every line of a manifest (blank lines are skipped)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no manifest here; build one with `restore-ray data build`")
    root = path.parent
    records, seen = [], set()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise ManifestError(f"{where}: not valid JSON ({err.msg} at column {err.colno})") from None
            rec = _parse(obj, where, root)
            if rec.id in seen:
                raise ManifestError(f"{where}: duplicate id {rec.id!r}")
            seen.add(rec.id)
            records.append(rec)
    return records


def write_manifest(path: str | os.PathLike, records: Iterable[Record]) -> Path:
    """Write records as JSON lines (paths stay relative)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec.to_json(), sort_keys=False) + "\n")
    return path


def select(records: Iterable[Record], split: str | None = None, setting: str | None = None) -> list[Record]:
    """Filter records by split and/or setting."""
    return [r for r in records
            if (split is None or r.split == split) and (setting is None or r.setting == setting)]


@dataclass(frozen=True)
class TrainingImage:
    """What training may see of a record: its degraded image and nothing that reveals the answer."""

    id: str
    lq_path: Path


def training_images(manifest: str | os.PathLike, split: str = "train") -> list[TrainingImage]:
    """The degraded images of ``split``, stripped of ground truth, degradation labels and parameters.

    Training is label-free: this is the only manifest view the training path uses.
    """
    recs = read_manifest(manifest)
    out = [TrainingImage(r.id, r.lq_path) for r in recs if r.split == split]
    if not out:
        raise ValueError(f"{manifest}: no records with split {split!r}")
    return out


def iter_pairs(records: Iterable[Record]) -> Iterator[tuple[Record, Path, Path | None]]:
    """(record, lq path, gt path or None) for evaluation code."""
    for r in records:
        yield r, r.lq_path, r.gt_path
