"""The manifest reader: schema, clear errors naming the line, and the label-free training view."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from restore_ray.manifest import ManifestError, Record, read_manifest, select, training_images, write_manifest

GOOD = {"id": "I_dark-noise_0001", "setting": "I", "degradations": ["dark", "noise"],
        "lq": "lq/I/dark-noise/0001.png", "gt": "gt/0001.png", "split": "train",
        "params": [{"name": "dark", "method": "shift", "shift": 33}]}


def write_lines(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_round_trip(tmp_path) -> None:
    recs = [Record(GOOD["id"], "I", ("dark", "noise"), GOOD["lq"], GOOD["gt"], "train", tuple(GOOD["params"])),
            Record("real_0", None, (), "lq/real.png", None, "test")]
    path = write_manifest(tmp_path / "m" / "manifest.jsonl", recs)
    back = read_manifest(path.parent)  # a folder means its manifest.jsonl
    assert [r.to_json() for r in back] == [r.to_json() for r in recs]
    assert back[0].lq_path == path.parent / GOOD["lq"]
    assert back[1].gt_path is None
    line = json.loads(path.read_text().splitlines()[0])
    assert list(line) == ["id", "setting", "degradations", "lq", "gt", "split", "params"]


@pytest.mark.parametrize("change,message", [
    ({"setting": "V"}, "'setting' must be one of I, II, III, IV or null"),
    ({"degradations": ["blur"]}, "unknown degradation\\(s\\) blur"),
    ({"split": "val"}, "'split' must be 'train' or 'test'"),
    ({"lq": "/abs/path.png"}, "'lq' must be relative"),
    ({"gt": "../outside.png"}, "'gt' must be relative"),
    ({"extra": 1}, "unknown field\\(s\\) extra"),
    ({"params": {"a": 1}}, "'params' must be a list"),
    ({"id": ""}, "'id' must be a non-empty string"),
])
def test_bad_lines_name_file_and_line(tmp_path, change, message) -> None:
    bad = {**GOOD, "id": "other", **change}
    path = write_lines(tmp_path, json.dumps(GOOD), "", json.dumps(bad))
    with pytest.raises(ManifestError, match=f"manifest.jsonl:3: {message}"):
        read_manifest(path)


def test_missing_fields_and_broken_json(tmp_path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "lq"}
    with pytest.raises(ManifestError, match=r":1: missing field\(s\) lq"):
        read_manifest(write_lines(tmp_path, json.dumps(missing)))
    with pytest.raises(ManifestError, match=r":2: not valid JSON"):
        read_manifest(write_lines(tmp_path, json.dumps(GOOD), '{"id": '))
    with pytest.raises(ManifestError, match=r":1: expected a JSON object"):
        read_manifest(write_lines(tmp_path, "[1, 2]"))
    with pytest.raises(ManifestError, match=r":2: duplicate id"):
        read_manifest(write_lines(tmp_path, json.dumps(GOOD), json.dumps(GOOD)))
    with pytest.raises(FileNotFoundError, match="restore-ray data build"):
        read_manifest(tmp_path / "nowhere.jsonl")


def test_select(tmp_path) -> None:
    recs = read_manifest(write_lines(tmp_path, json.dumps(GOOD), json.dumps({**GOOD, "id": "b", "split": "test"}),
                                     json.dumps({**GOOD, "id": "c", "split": "test", "setting": "II"})))
    assert [r.id for r in select(recs, split="test")] == ["b", "c"]
    assert [r.id for r in select(recs, split="test", setting="I")] == ["b"]


def test_training_view_carries_no_ground_truth_or_labels(tmp_path) -> None:
    path = write_lines(tmp_path, json.dumps(GOOD), json.dumps({**GOOD, "id": "t", "split": "test"}))
    images = training_images(path)
    assert [i.id for i in images] == [GOOD["id"]]
    fields = {f.name for f in dataclasses.fields(images[0])}
    assert fields == {"id", "lq_path"}  # no gt, no degradations, no params
    with pytest.raises(ValueError, match="no records with split 'train'"):
        training_images(write_lines(tmp_path, json.dumps({**GOOD, "split": "test"})))
