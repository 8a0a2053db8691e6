"""Codecfake (Xie et al.) and CodecFake (Wu et al.) on fixtures in their layouts, under both conventions."""
import shutil

import pytest

from detector.cli.main import main
from detector.data.corpora import codecfake, codecfake_wu
from detector.data.manifest import read_manifest
from tests.data import layouts


def table(rows):
    return [(r["path"].rsplit("/", 1)[-1], r["label"], r["system"], r["split"], r["condition"]) for r in rows]


def test_codecfake_xie_resynthesis_as_spoof_the_papers_convention(tmp_path):
    rows = codecfake(layouts.codecfake(tmp_path), codec_resynthesis="spoof")
    assert table(rows) == [
        ("p225_001.wav", "bonafide", "-", "train", "train"), ("p225_001_dac.wav", "spoof", "4", "train", "train"),
        ("p226_002.wav", "bonafide", "-", "val", "dev"), ("p226_002_encodec.wav", "spoof", "codec", "val", "dev"),
        ("p227_003.wav", "bonafide", "-", "test", "C1"), ("p227_003_C1.wav", "spoof", "C1", "test", "C1"),
        ("SSB0005_0001_C7.wav", "spoof", "C7", "test", "C7"),
        ("A1_real_0001.wav", "bonafide", "-", "test", "A1"), ("A1_fake_0001.wav", "spoof", "A1", "test", "A1"),
        ("A3_fake_0001.wav", "spoof", "A3", "test", "A3")]
    assert [r["path"] for r in rows if r["condition"] in ("C1", "A1")] == [
        "test/C1/p227_003.wav", "test/C1/p227_003_C1.wav", "A1/A1_real_0001.wav", "A1/A1_fake_0001.wav"]
    assert [r["resynthesis"] for r in rows].count("yes") == 4 and rows[1]["codec_type"] == "4"
    assert rows.notes == []


def test_codecfake_xie_resynthesis_as_bonafide_the_auddt_convention(tmp_path):
    rows = codecfake(layouts.codecfake(tmp_path), codec_resynthesis="bonafide")
    assert [(r["path"].rsplit("/", 1)[-1], r["system"]) for r in rows if r["label"] == "spoof"] == [
        ("A1_fake_0001.wav", "A1"), ("A3_fake_0001.wav", "A3")]          # audio-language-model output only
    assert sum(r["label"] == "bonafide" for r in rows) == 8
    assert {r["condition"] for r in rows if r["resynthesis"] == "yes"} == {"train", "dev", "C1", "C7"}


def test_codecfake_xie_errors_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'label'}: missing; the Codecfake layout is"):
        codecfake(tmp_path, codec_resynthesis="spoof")
    layouts.codecfake(tmp_path)
    shutil.rmtree(tmp_path / "test" / "C7")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'test' / 'C7'} or {tmp_path / 'C7'}: missing; "
                                                rf"audio for {tmp_path / 'label' / 'C7.txt'}"):
        codecfake(tmp_path, codec_resynthesis="spoof")
    for label_file in (tmp_path / "label").glob("*.txt"):
        label_file.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'label'}: none of train\.txt, dev\.txt, C1\.txt"):
        codecfake(tmp_path, codec_resynthesis="spoof")


def test_codecfake_wu_codec_folders_generators_and_vctk(tmp_path):
    root, vctk = layouts.codecfake_wu(tmp_path / "codecfake", tmp_path / "VCTK-Corpus-0.92")
    rows = codecfake_wu(root, codec_resynthesis="spoof", bonafide_root=vctk)
    assert [(r["path"].replace(vctk.as_posix(), "VCTK"), r["label"], r["speaker"], r["system"], r["condition"])
            for r in rows] == [
        ("dac_16k/p225/p225_002.wav", "spoof", "p225", "dac_16k", "resynthesis"),
        ("encodec_24k_6bps/p225_001.wav", "spoof", "p225", "encodec_24k_6bps", "resynthesis"),
        ("encodec_24k_6bps/p226_001.wav", "spoof", "p226", "encodec_24k_6bps", "resynthesis"),
        ("speechx/p226_004.wav", "spoof", "p226", "speechx", "tts"),
        ("valle/p225_003.wav", "spoof", "p225", "valle", "tts"),
        ("valle-x/p226_003.wav", "spoof", "p226", "valle-x", "tts"),
        ("VCTK/wav48_silence_trimmed/p225/p225_001_mic1.flac", "bonafide", "p225", "-", "original"),
        ("VCTK/wav48_silence_trimmed/p226/p226_001_mic1.flac", "bonafide", "p226", "-", "original")]
    assert {r["split"] for r in rows} == {""}
    auddt = codecfake_wu(root, codec_resynthesis="bonafide")
    assert [(r["label"], r["system"], r["codec"]) for r in auddt][:3] == [
        ("bonafide", "-", "dac_16k"), ("bonafide", "-", "encodec_24k_6bps"), ("bonafide", "-", "encodec_24k_6bps")]
    assert sum(r["label"] == "spoof" for r in auddt) == 3 and len(auddt) == 6


def test_codecfake_wu_errors_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}: no audio in <codec>/ folders; .* {tmp_path}/valle/"):
        codecfake_wu(tmp_path, codec_resynthesis="spoof")
    root, vctk = layouts.codecfake_wu(tmp_path / "codecfake", tmp_path / "vctk")
    with pytest.raises(ValueError, match="no bona fide clips with --codec-resynthesis spoof; pass --bonafide-root"):
        codecfake_wu(root, codec_resynthesis="spoof")
    with pytest.raises(FileNotFoundError, match=rf"{root}: no wav48_silence_trimmed or wav48/"):
        codecfake_wu(root, codec_resynthesis="spoof", bonafide_root=root)


@pytest.mark.parametrize("corpus", ["codecfake", "codecfake-wu"])
def test_prepare_refuses_a_codec_corpus_without_the_convention_and_explains_both(tmp_path, capsys, corpus):
    root = layouts.codecfake(tmp_path / "c") if corpus == "codecfake" else layouts.codecfake_wu(tmp_path / "c",
                                                                                                 tmp_path / "v")[0]
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", corpus, "--root", str(root), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "--codec-resynthesis is required" in error and "'spoof' in the original papers" in error
    assert "'bonafide' in AUDDT" in error and not out.exists()


def test_prepare_codecfake_keeps_official_splits_and_test_sets_as_conditions(tmp_path, capsys):
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "codecfake", "--root", str(layouts.codecfake(tmp_path / "c")),
                 "--out", str(out), "--codec-resynthesis", "spoof"]) == 0
    rows = read_manifest(out).rows
    assert len(rows) == 10 and "official splits kept" in capsys.readouterr().out
    assert sorted({r.extra["condition"] for r in rows if r.split == "test"}) == ["A1", "A3", "C1", "C7"]
