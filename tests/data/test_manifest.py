"""Manifest reading/validation and the folder corpus adapter with its splits."""
from pathlib import Path

import pytest

from detector.data.corpora import assign_splits, folder_corpus, parse_split_ratios
from detector.data.manifest import read_manifest, write_manifest
from tests.conftest import write_folder_corpus

HEADER = "path,label,speaker,system,split\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_bom_crlf_and_normalises_labels(tmp_path):
    text = HEADER + "a.wav,bonafide,s1,-,train\r\nb.wav,Spoof ,s1,A01,test\r\nc.wav,bona-fide,s2,,val\r\n"
    manifest = read_manifest(write(tmp_path / "m.csv", "\ufeff" + text))
    assert [r.label for r in manifest.rows] == ["bonafide", "spoof", "bonafide"]
    assert [r.target for r in manifest.rows] == [1, 0, 1]
    assert manifest.rows[2].system == "-"
    assert manifest.split("test") == [1]
    assert manifest.audio_path(manifest.rows[0]) == tmp_path / "a.wav"


@pytest.mark.parametrize("body, message", [
    ("a.wav,fake,s1,A01,train\n", r"m\.csv:2: label 'fake' is not bonafide or spoof"),
    ("a.wav,spoof,s1,A01,training\n", r"m\.csv:2: split 'training'"),
    ("a.wav,spoof,s1,A01,train\na.wav,spoof,s1,A01,train\n", r"m\.csv:3: duplicate path 'a.wav' \(first on line 2\)"),
    (",spoof,s1,A01,train\n", r"m\.csv:2: empty path"),
    ("a.wav,spoof,s1,A01,train,extra\n", r"m\.csv:2: more fields"),
    ("", r"m\.csv: manifest has no rows"),
])
def test_bad_rows_name_file_and_line(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(write(tmp_path / "m.csv", HEADER + body))


def test_missing_columns_are_named(tmp_path):
    with pytest.raises(ValueError, match="missing column.*speaker, system"):
        read_manifest(write(tmp_path / "m.csv", "path,label,split\na.wav,spoof,train\n"))


def test_write_then_read_round_trip(tmp_path):
    rows = [{"path": "x y/ü.flac", "label": "spoof", "speaker": "s", "system": "A", "split": "train",
             "duration_s": "1.5"}]
    write_manifest(rows, tmp_path / "m.csv")
    row = read_manifest(tmp_path / "m.csv").rows[0]
    assert (row.path, row.system, row.extra["duration_s"]) == ("x y/ü.flac", "A", "1.5")
    assert row.utt == "x_y/ü"


def test_split_ratios_parse_and_reject():
    assert parse_split_ratios("70/15/15") == pytest.approx((0.7, 0.15, 0.15))
    with pytest.raises(ValueError, match="three non-negative numbers"):
        parse_split_ratios("70/30")


def test_assign_splits_is_stratified_seeded_and_complete():
    rows = [{"label": "spoof", "system": f"S{i % 2}"} for i in range(40)] + \
           [{"label": "bonafide", "system": "-"} for _ in range(20)]
    assign_splits(rows, (0.5, 0.25, 0.25), seed=3)
    again = [dict(r) for r in rows]
    assign_splits(again, (0.5, 0.25, 0.25), seed=3)
    assert [r["split"] for r in rows] == [r["split"] for r in again]
    for label, system, n in [("spoof", "S0", 20), ("spoof", "S1", 20), ("bonafide", "-", 20)]:
        group = [r["split"] for r in rows if (r["label"], r["system"]) == (label, system)]
        assert (group.count("train"), group.count("val"), group.count("test")) == (n // 2, n // 4, n // 4)


def test_folder_layout_gives_systems_relative_paths_and_splits(tmp_path):
    root = write_folder_corpus(tmp_path / "corpus")
    rows = folder_corpus(root, tmp_path / "out" / "m.csv", (0.6, 0.2, 0.2))
    assert len(rows) == 24
    assert {r["system"] for r in rows if r["label"] == "spoof"} == {"tts_a", "tts_b"}
    # the corpus is not under the manifest's folder: absolute paths, never "../"
    assert all(r["path"].startswith(root.as_posix() + "/") for r in rows)
    assert all(Path(r["path"]).is_file() for r in rows)
    assert {r["split"] for r in rows} == {"train", "val", "test"}


def test_folder_corpus_errors(tmp_path):
    (tmp_path / "c" / "bonafide").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="spoof.*missing"):
        folder_corpus(tmp_path / "c", tmp_path / "m.csv", (1, 0, 0))
    (tmp_path / "c" / "spoof").mkdir()
    with pytest.raises(ValueError, match="bonafide: no audio files"):
        folder_corpus(tmp_path / "c", tmp_path / "m.csv", (1, 0, 0))
