"""SpoofCeleb and DiffSSD on fixtures in their published layouts (official splits)."""
import shutil

import pytest

from detector.data.corpora import diffssd, spoofceleb
from tests.data import layouts


def test_spoofceleb_official_splits_attacks_and_speakers(tmp_path):
    rows = spoofceleb(layouts.spoofceleb(tmp_path))   # train.csv with a header line, the others without
    assert len(rows) == 8
    assert [(r["path"], r["label"], r["speaker"], r["system"], r["split"]) for r in rows] == [
        ("flac/train/a00/id10001/1zcIwhmdeo4-00001-001.flac", "bonafide", "id10001", "-", "train"),
        ("flac/train/a01/id10001/1zcIwhmdeo4-00001-001.flac", "spoof", "id10001", "a01", "train"),
        ("flac/train/a05/id10002/7gWzIy6yIIk-00003-002.flac", "spoof", "id10002", "a05", "train"),
        ("flac/development/a00/id10003/_JpHD6VnJ3I-00002-001.flac", "bonafide", "id10003", "-", "val"),
        ("flac/development/a07/id10003/_JpHD6VnJ3I-00002-001.flac", "spoof", "id10003", "a07", "val"),   # A07
        ("flac/evaluation/a00/id10004/ONvqXzzc8ac-00001-001.flac", "bonafide", "id10004", "-", "test"),
        ("flac/evaluation/a16/id10004/ONvqXzzc8ac-00001-001.flac", "spoof", "id10004", "a16", "test"),
        ("flac/evaluation/a23/id10005/Y8hIVOBuels-00011-001.flac", "spoof", "id10005", "a23", "test")]


def test_spoofceleb_paths_relative_to_the_root_are_read_too(tmp_path):
    layouts.spoofceleb(tmp_path, header=())
    metadata = tmp_path / "metadata" / "evaluation.csv"
    metadata.write_text("".join(f"flac/evaluation/{line}\n" for line in layouts.SPOOFCELEB["evaluation"]))
    rows = [r for r in spoofceleb(tmp_path) if r["split"] == "test"]
    assert [r["path"] for r in rows][0] == "flac/evaluation/a00/id10004/ONvqXzzc8ac-00001-001.flac" and len(rows) == 3


def test_spoofceleb_errors_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'flac'}: missing; the SpoofCeleb layout is"):
        spoofceleb(tmp_path)
    layouts.spoofceleb(tmp_path)
    shutil.rmtree(tmp_path / "metadata")
    expected = tmp_path / "metadata" / "train.csv"
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'metadata'}: none of train\.csv, development\.csv, "
                                                rf"evaluation\.csv; .* belong at {expected}"):
        spoofceleb(tmp_path)
    layouts.spoofceleb(tmp_path)
    (tmp_path / "metadata" / "development.csv").write_text("a07/id10009/x.flac,id10009,a07\n")
    with pytest.raises(FileNotFoundError, match=r"development\.csv:1: audio 'a07/id10009/x\.flac' not found as "):
        spoofceleb(tmp_path)
    (tmp_path / "metadata" / "development.csv").write_text(layouts.SPOOFCELEB["development"][0] + "\nx.flac,id1,b2\n")
    with pytest.raises(ValueError, match=r"development\.csv:2: unknown attack id 'b2'"):
        spoofceleb(tmp_path)


@pytest.mark.parametrize("header", [layouts.DIFFSSD_HEADER, "filename,method_name,category,source,set,label"])
def test_diffssd_official_splits_methods_and_separately_downloaded_real_speech(tmp_path, header):
    root, real = layouts.diffssd(tmp_path / "diffssd", tmp_path / "real", header=header)
    rows = diffssd(root, bonafide_root=real)
    assert [(r["path"].replace(real.as_posix(), "REAL"), r["label"], r["speaker"], r["system"], r["split"])
            for r in rows] == [
        ("generated_speech/gradtts/LJ001-0001_gradtts.wav", "spoof", "-", "gradtts", "train"),
        ("generated_speech/prodiff/LJ001-0002_prodiff.wav", "spoof", "-", "prodiff", "train"),
        ("REAL/LJSpeech-1.1/wavs/LJ001-0001.wav", "bonafide", "LJ", "-", "train"),
        ("generated_speech/gradtts/LJ001-0003_gradtts.wav", "spoof", "-", "gradtts", "val"),
        ("REAL/LibriSpeech/dev-clean/84/121123/84-121123-0000.flac", "bonafide", "84", "-", "val"),
        ("generated_speech/unitspeech/1089-134686-0000.wav", "spoof", "-", "unitspeech", "test"),
        ("REAL/LibriSpeech/test-clean/1089/134686/1089-134686-0000.flac", "bonafide", "1089", "-", "test")]


def test_diffssd_real_speech_next_to_the_corpus_needs_no_flag(tmp_path):
    root, _ = layouts.diffssd(tmp_path / "diffssd", tmp_path / "diffssd" / "real_speech")
    rows = diffssd(root)
    assert sum(r["label"] == "bonafide" for r in rows) == 3
    assert all(r["path"].startswith((tmp_path / "diffssd" / "real_speech").as_posix())
               for r in rows if r["label"] == "bonafide")


def test_diffssd_errors_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'generated_speech'}: missing; the DiffSSD layout"):
        diffssd(tmp_path)
    root, real = layouts.diffssd(tmp_path / "diffssd", tmp_path / "real")
    with pytest.raises(FileNotFoundError, match=r"train_val_test_splits\.csv:4: real audio 'ljspeech/LJ001-0001\.wav' "
                                                rf"not found as {root / 'ljspeech' / 'LJ001-0001.wav'} or .* "
                                                r"pass it as --bonafide-root"):
        diffssd(root)
    (root / "train_val_test_splits.csv").unlink()
    with pytest.raises(FileNotFoundError, match=rf"{root / 'train_val_test_splits.csv'}: DiffSSD's split file not"):
        diffssd(root, bonafide_root=real)
