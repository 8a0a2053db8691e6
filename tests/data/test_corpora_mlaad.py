"""MLAAD (+ M-AILABS for bona fide) on a fixture in the published layout, and --split-by."""
import pytest

from detector.cli.main import main
from detector.data.corpora import mlaad
from detector.data.manifest import read_manifest
from tests.data import layouts


def test_mlaad_spoofs_per_model_and_mailabs_bonafide_by_language(tmp_path):
    root, mailabs = layouts.mlaad(tmp_path / "MLAAD", tmp_path / "m-ailabs")
    rows = mlaad(root, bonafide_root=mailabs)
    spoof = [r for r in rows if r["label"] == "spoof"]
    bonafide = [r for r in rows if r["label"] == "bonafide"]
    assert (len(rows), len(spoof), len(bonafide)) == (14, 8, 6)
    assert {r["split"] for r in rows} == {""} and {r["speaker"] for r in spoof} == {"-"}
    assert sorted((r["path"], r["system"], r["architecture"], r["language"], r["condition"]) for r in spoof) == [
        ("fake/de/facebook_mms-tts-deu/0.wav", "facebook/mms-tts-deu", "vits", "de", "de"),
        ("fake/de/tts_models_de_thorsten_vits/0.wav", "tts_models/de/thorsten/vits", "vits", "de", "de"),
        ("fake/de/tts_models_de_thorsten_vits/1.wav", "tts_models/de/thorsten/vits", "vits", "de", "de"),
        ("fake/en/tts_models_en_ljspeech_tacotron2-DDC/0.wav", "tts_models/en/ljspeech/tacotron2-DDC", "tacotron2",
         "en", "en"),
        ("fake/en/tts_models_en_ljspeech_tacotron2-DDC/1.wav", "tts_models/en/ljspeech/tacotron2-DDC", "tacotron2",
         "en", "en"),
        ("fake/fr/tts_models_fr_css10_vits/0.wav", "tts_models/fr/css10/vits", "vits", "fr", "fr"),  # path said fr-fr
        ("fake/it/tts_models_it_mai_female_vits/0.wav", "tts_models/it/mai_female/vits", "vits", "it", "it"),
        ("fake/sw/facebook_mms-tts-swh/0.wav", "facebook/mms-tts-swh", "vits", "sw", "sw")]
    # each original_file once (de's is shared by two models); sw's transcripts came from an English clip
    assert sorted((r["path"].split("m-ailabs/")[1], r["speaker"], r["language"], r["system"]) for r in bonafide) == [
        (layouts.MLAAD_DE.format(1), "eva_k", "de", "-"), (layouts.MLAAD_DE.format(2), "eva_k", "de", "-"),
        (layouts.MLAAD_EN.format(1), "judy_bieber", "en", "-"), (layouts.MLAAD_EN.format(2), "judy_bieber", "en", "-"),
        (layouts.MLAAD_EN.format(3), "judy_bieber", "en", "-"),
        ("fr_FR/by_book/male/bernard/les_mis/wavs/les_mis_01_f000001.wav", "bernard", "fr", "-")]
    assert all(r["path"].startswith(mailabs.as_posix()) for r in bonafide)
    assert rows.notes == [f"left out 1 M-AILABS file(s) named by original_file but not under {mailabs} (it_IT 1)"]


def test_mlaad_errors_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'fake'}: missing; the MLAAD layout is "
                                                r".*/fake/<language>/<model>/meta\.csv"):
        mlaad(tmp_path)
    root, mailabs = layouts.mlaad(tmp_path / "MLAAD", tmp_path / "m-ailabs")
    with pytest.raises(ValueError, match="MLAAD holds spoofed speech only; pass --bonafide-root"):
        mlaad(root)
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'elsewhere' / 'de_DE'}/by_book/.*: missing"):
        (tmp_path / "elsewhere").mkdir()
        mlaad(root, bonafide_root=tmp_path / "elsewhere")
    meta = root / "fake" / "de" / "facebook_mms-tts-deu" / "meta.csv"
    meta.write_text(meta.read_text().replace("model_name|", "model|"))
    with pytest.raises(ValueError, match=rf"{meta}:1: no column\(s\) model_name"):
        mlaad(root, bonafide_root=mailabs)
    meta.unlink()
    for other in (root / "fake").glob("*/*/meta.csv"):
        other.unlink()
    with pytest.raises(FileNotFoundError, match=rf"{root / 'fake'}: no <language>/<model>/meta\.csv"):
        mlaad(root, bonafide_root=mailabs)


@pytest.mark.parametrize("by", ["language", "system"])
def test_prepare_mlaad_split_by_keeps_each_group_in_one_split(tmp_path, capsys, by):
    root, mailabs = layouts.mlaad(tmp_path / "MLAAD", tmp_path / "m-ailabs")
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "mlaad", "--root", str(root), "--bonafide-root", str(mailabs),
                 "--out", str(out), "--split-by", by, "--split", "60/20/20"]) == 0
    printed = capsys.readouterr().out
    assert f"splits: {by}-disjoint, stratified by label" in printed and "left out 1 M-AILABS file(s)" in printed
    rows = read_manifest(out).rows
    assert len(rows) == 14 and {r.split for r in rows} == {"train", "val", "test"}
    groups: dict[str, set] = {}
    for row in rows:
        if by == "language" or row.label == "spoof":
            groups.setdefault(row.extra["language"] if by == "language" else row.system, set()).add(row.split)
    assert all(len(splits) == 1 for splits in groups.values()) and len(groups) == {"language": 5, "system": 6}[by]


def test_split_by_with_too_few_groups_says_so(tmp_path):
    from detector.data.corpora.common import disjoint_splits
    rows = [{"path": f"{i}.wav", "label": "spoof" if i % 2 else "bonafide", "speaker": "-",
             "system": "x" if i % 2 else "-", "language": "de" if i < 2 else "en"} for i in range(4)]
    with pytest.raises(ValueError, match=r"--split-by language: only 2 language value\(s\) \(de, en\) for 3"):
        disjoint_splits(rows, "language", (0.6, 0.2, 0.2), 0)
    assert disjoint_splits(rows, "language", (0.5, 0.5, 0.0), 0).startswith("language-disjoint")
    assert {r["split"] for r in rows[:2]} != {r["split"] for r in rows[2:]}
