"""In-the-Wild, WaveFake, Fake-or-Real, folder and csv adapters on fixtures in their layouts."""
import shutil

import pytest

from detector.data.corpora import csv_table, fake_or_real, folder, in_the_wild, wavefake
from tests.data import layouts


def test_in_the_wild_reads_meta_labels_and_speakers(tmp_path):
    rows = in_the_wild(layouts.in_the_wild(tmp_path))
    assert [(r["path"], r["label"], r["speaker"]) for r in rows] == [
        ("release_in_the_wild/0.wav", "spoof", "Alec Guinness"),
        ("release_in_the_wild/1.wav", "bonafide", "Alec Guinness"),
        ("release_in_the_wild/2.wav", "spoof", "Barack Obama"),       # "Spoof " with a trailing space
        ("release_in_the_wild/3.wav", "bonafide", "Barack Obama")]
    assert {r["split"] for r in rows} == {""} and rows[0]["system"] == "spoof" and rows[1]["system"] == "-"


def test_in_the_wild_unknown_label_names_the_line(tmp_path):
    layouts.in_the_wild(tmp_path)
    meta = tmp_path / "release_in_the_wild" / "meta.csv"
    meta.write_text(meta.read_text() + "4.wav,X,maybe\n")
    with pytest.raises(ValueError, match=r"meta\.csv:6: unknown label 'maybe'"):
        in_the_wild(tmp_path)


def test_wavefake_systems_are_vocoders_and_real_audio_is_bonafide(tmp_path):
    rows = wavefake(layouts.wavefake(tmp_path))
    spoof = {(r["speaker"], r["system"]) for r in rows if r["label"] == "spoof"}
    assert spoof == {("ljspeech", "melgan"), ("ljspeech", "multi_band_melgan"), ("jsut", "parallel_wavegan")}
    assert sorted(r["path"] for r in rows if r["label"] == "bonafide") == [
        "real_audio/LJSpeech-1.1/wavs/LJ001-0001.wav", "real_audio/jsut_ver1.1/basic5000/wav/BASIC5000_0001.wav"]


def test_wavefake_without_real_audio_says_where_it_belongs(tmp_path):
    layouts.wavefake(tmp_path)
    shutil.rmtree(tmp_path / "real_audio")
    with pytest.raises(FileNotFoundError, match="real_audio/LJSpeech-1.1/wavs"):
        wavefake(tmp_path)


def test_fake_or_real_keeps_official_splits_per_version(tmp_path):
    rows = fake_or_real(layouts.fake_or_real(tmp_path))
    assert len(rows) == 12
    assert {(r["condition"], r["split"], r["label"]) for r in rows} == {
        (v, s, label) for v in ("for-norm", "for-2seconds") for s in ("train", "val", "test")
        for label in ("spoof", "bonafide")}
    assert {r["condition"] for r in fake_or_real(tmp_path, version="for-norm")} == {"for-norm"}
    one = fake_or_real(tmp_path / "for-norm")
    assert len(one) == 6 and one[0]["path"].startswith("training/")


def test_folder_layout_systems_from_subfolders(tmp_path):
    layouts.audio(tmp_path / "bonafide" / "a.wav")
    layouts.audio(tmp_path / "spoof" / "tts_x" / "b.flac")
    layouts.audio(tmp_path / "spoof" / "c.wav")
    rows = folder(tmp_path)
    assert {(r["path"], r["system"]) for r in rows} == {("bonafide/a.wav", "-"), ("spoof/tts_x/b.flac", "tts_x"),
                                                        ("spoof/c.wav", "spoof")}


def test_csv_maps_columns_labels_and_splits(tmp_path):
    table = layouts.text(tmp_path / "list.tsv", ["file\tkind\twho\tgen\tset", "a.wav\tREAL\ts1\t\tTraining ",
                                                 "b.wav\tfake\ts1\tvits\tdev", "c.wav\tgenuine\ts2\tx\teval"])
    columns = {"path": "file", "label": "kind", "speaker": "who", "system": "gen", "split": "set"}
    rows = csv_table(tmp_path, table, columns, delimiter="\t",
                     bonafide_values=frozenset({"real", "genuine"}), spoof_values=frozenset({"fake"}))
    assert [(r["label"], r["speaker"], r["system"], r["split"]) for r in rows] == [
        ("bonafide", "s1", "-", "train"), ("spoof", "s1", "vits", "val"), ("bonafide", "s2", "-", "test")]


@pytest.mark.parametrize("lines, message", [
    (["file,kind", "a.wav,bonafide", "a.wav,spoof"], r"list\.csv:3: duplicate path 'a\.wav' \(first at .*:2\)"),
    (["file,kind", "a.wav,bonafide,extra"], r"list\.csv:2: 3 fields, expected 2"),
    (["file,kind", "a.wav,human?"], r"list\.csv:2: unknown label 'human\?'"),
    (["name,kind", "a.wav,spoof"], r"list\.csv:1: no column\(s\) file"),
])
def test_csv_errors_name_file_and_line(tmp_path, lines, message):
    table = layouts.text(tmp_path / "list.csv", lines)
    with pytest.raises(ValueError, match=message):
        csv_table(tmp_path, table, {"path": "file", "label": "kind"})
