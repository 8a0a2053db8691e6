"""ASVspoof 2019/2021/5 and laundered adapters on fixtures in the published layouts."""
import shutil

import pytest

from detector.data.corpora import asvspoof5, asvspoof2019, asvspoof2021, laundered, load_corpus_rows
from tests.data import layouts


def by_utt(rows):
    return {row["path"].rsplit("/", 1)[-1].split(".")[0]: row for row in rows}


def test_2019_la_keeps_official_splits_and_normalises_odd_lines(tmp_path):
    rows = asvspoof2019(layouts.asvspoof2019_la(tmp_path / "LA_root"))
    assert len(rows) == 8   # the blank line is skipped
    rows = by_utt(rows)
    assert rows["LA_T_1138215"] == {**rows["LA_T_1138215"], "label": "bonafide", "system": "-", "split": "train",
                                    "speaker": "LA_0079", "path": "LA/ASVspoof2019_LA_train/flac/LA_T_1138215.flac"}
    assert (rows["LA_T_1271820"]["label"], rows["LA_T_1271820"]["system"]) == ("spoof", "A01")  # trailing spaces
    assert rows["LA_T_1000001"]["label"] == "bonafide"                                           # BONAFIDE
    assert rows["LA_T_1000002"]["label"] == "spoof"                                              # Spoof
    assert rows["LA_D_1047731"]["split"] == "val" and rows["LA_E_2834763"]["split"] == "test"
    assert rows["LA_E_2834763"]["corpus"] == "asvspoof2019-LA"


def test_2019_pa_puts_the_environment_in_condition(tmp_path):
    rows = by_utt(asvspoof2019(layouts.asvspoof2019_pa(tmp_path), track="PA"))
    assert rows["PA_T_0000602"]["condition"] == "acb" and rows["PA_T_0000602"]["system"] == "BA"
    assert rows["PA_T_0000001"]["system"] == "-"


@pytest.mark.parametrize("line, message", [
    ("LA_0079 LA_T_9 - A01", r"ASVspoof2019\.LA\.cm\.train\.trn\.txt:6: 4 fields, expected 5"),
    ("LA_0079 LA_T_9 - A01 fake", r"ASVspoof2019\.LA\.cm\.train\.trn\.txt:6: unknown label 'fake'"),
    ("LA_0079 LA_T_1138215 - - bonafide",
     r"train\.trn\.txt:6: duplicate utterance id 'LA_T_1138215' \(first at .*:1\)"),
])
def test_2019_bad_protocol_lines_name_file_and_line(tmp_path, line, message):
    protocols = dict(layouts.LA_2019)
    protocols["train"] = ("train.trn", protocols["train"][1] + [line])
    with pytest.raises(ValueError, match=message):
        asvspoof2019(layouts.asvspoof2019_la(tmp_path, protocols))


def test_2019_missing_layout_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="ASVspoof2019_LA_cm_protocols"):
        asvspoof2019(tmp_path)


def test_2021_la_and_df_keys_give_conditions_and_vocoder(tmp_path):
    rows = by_utt(asvspoof2021(layouts.asvspoof2021(tmp_path)))
    assert len(rows) == 5 and {row["split"] for row in rows.values()} == {"test"}
    assert rows["LA_E_9332881"]["condition"] == "alaw:ita_tx" and rows["LA_E_9332881"]["system"] == "A07"
    assert rows["LA_E_1000002"]["label"] == "bonafide" and rows["LA_E_1000002"]["system"] == "-"
    assert rows["LA_E_1000001"]["system"] == "-" and rows["LA_E_1000002"]["condition"] == "nocodec:nocodec"
    assert rows["DF_E_2000026"]["condition"] == "mp3m4a" and rows["DF_E_2000026"]["vocoder"] == "traditional_vocoder"
    assert rows["DF_E_2000027"]["path"] == "ASVspoof2021_DF_eval/flac/DF_E_2000027.flac"
    only_df = asvspoof2021(tmp_path, track="DF")
    assert {row["corpus"] for row in only_df} == {"asvspoof2021-DF"}


def test_asvspoof5_published_layout_all_fields_and_one_uncoded_condition(tmp_path):
    rows = asvspoof5(layouts.asvspoof5(tmp_path))   # protocols at the root, as the archive unpacks
    assert len(rows) == 9
    assert sorted((r["split"], r["label"]) for r in rows) == sorted(
        [("train", "spoof"), ("train", "bonafide"), ("train", "spoof"), ("val", "spoof"), ("val", "bonafide"),
         ("test", "bonafide"), ("test", "bonafide"), ("test", "spoof"), ("test", "spoof")])
    rows = by_utt(rows)
    assert rows["T_0000000000"] == {**rows["T_0000000000"], "path": "flac_T/T_0000000000.flac", "label": "spoof",
                                    "speaker": "T_4850", "system": "A05", "split": "train", "gender": "F",
                                    "condition": "uncoded", "codec": "uncoded", "codec_q": "-", "attack_tag": "AC3"}
    assert rows["T_0000000001"]["system"] == "-" and rows["T_0000000001"]["attack_tag"] == "-"
    assert rows["D_0000000001"]["system"] == "A11" and rows["D_0000000001"]["split"] == "val"  # trailing blanks
    assert rows["E_0000000002"] == {**rows["E_0000000002"], "label": "bonafide", "system": "-", "split": "test",
                                    "condition": "C07:3", "codec": "C07", "codec_q": "3"}
    assert (rows["E_0000000003"]["condition"], rows["E_0000000003"]["system"]) == ("C11:6", "A20")
    # "- -" (train/dev), "- 0" and "0 0" (eval): one condition value in every split
    uncoded = {utt for utt, row in rows.items() if row["condition"] == "uncoded"}
    assert uncoded == {"T_0000000000", "T_0000000001", "T_0000000002", "D_0000000001", "D_0000000002",
                       "E_0000000001", "E_0000000004"}
    assert {rows[u]["codec_q"] for u in uncoded} == {"-"} and rows["E_0000000004"]["gender"] == "M"


def test_asvspoof5_leaves_out_enrolment_files_and_counts_them(tmp_path):
    rows = asvspoof5(layouts.asvspoof5(tmp_path))
    assert not any("0000000100" in r["path"] or "0000000900" in r["path"] for r in rows)
    assert rows.notes == [
        "left out 2 file(s) of flac_D/ that ASVspoof5.dev.track_1.tsv does not list (track-2 enrolment utterances)",
        "left out 1 file(s) of flac_E_eval/ that ASVspoof5.eval.track_1.tsv does not list "
        "(track-2 enrolment utterances)"]


@pytest.mark.parametrize("protocols", ["ASVspoof5_protocols", "protocols_v2"])
def test_asvspoof5_finds_protocols_one_folder_down(tmp_path, protocols):
    rows = asvspoof5(layouts.asvspoof5(tmp_path, protocols=protocols))
    assert len(rows) == 9 and rows[0]["_where"].startswith(str(tmp_path / protocols / "ASVspoof5.train.tsv"))


def test_asvspoof5_without_protocols_names_what_was_searched(tmp_path):
    layouts.asvspoof5(tmp_path)
    for name in ("ASVspoof5.train.tsv", "ASVspoof5.dev.track_1.tsv", "ASVspoof5.eval.track_1.tsv"):
        (tmp_path / name).unlink()
    (tmp_path / "downloads").mkdir()
    with pytest.raises(FileNotFoundError) as error:
        asvspoof5(tmp_path)
    message = str(error.value)
    assert "none of ASVspoof5.train.tsv, ASVspoof5.dev.track_1.tsv, ASVspoof5.eval.track_1.tsv" in message
    assert f"searched {tmp_path}/, {tmp_path / 'downloads'}/" in message
    assert "ASVspoof5_protocols.tar.gz" in message


def test_asvspoof5_wrong_root_and_missing_audio_name_the_expected_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path}: none of ASVspoof5\.train\.tsv"):
        asvspoof5(tmp_path)
    layouts.asvspoof5(tmp_path / "as5")
    shutil.rmtree(tmp_path / "as5" / "flac_D")
    with pytest.raises(FileNotFoundError, match=rf"{tmp_path / 'as5' / 'flac_D'}: missing; audio for "
                                                rf".*ASVspoof5\.dev\.track_1\.tsv"):
        asvspoof5(tmp_path / "as5")


def test_asvspoof5_bad_line_names_file_and_line(tmp_path):
    layouts.asvspoof5(tmp_path)
    protocol = tmp_path / "ASVspoof5.dev.track_1.tsv"
    protocol.write_text(protocol.read_text() + "D_0063 D_0000000009 F - - - AC1 A11\n")
    with pytest.raises(ValueError, match=r"ASVspoof5\.dev\.track_1\.tsv:3: 8 fields, expected 9 or 10"):
        asvspoof5(tmp_path)


def test_laundered_finds_each_condition_copy_and_splits_by_utterance(tmp_path):
    rows = laundered(layouts.laundered(tmp_path))
    assert len(rows) == 3   # header skipped
    assert {(row["path"], row["condition"]) for row in rows if row["label"] == "spoof"} == {
        ("Noise_Addition/babble_10/LA_E_2834763.flac", "Noise_Addition:babble_10"),
        ("Noise_Addition/babble_0/LA_E_2834763.flac", "Noise_Addition:babble_0")}
    assert {row["split"] for row in rows} == {"test"}


def test_laundered_missing_audio_names_the_line(tmp_path):
    layouts.laundered(tmp_path)
    (tmp_path / "Noise_Addition" / "babble_0" / "LA_E_2834763.flac").unlink()
    (tmp_path / "Noise_Addition" / "babble_10" / "LA_E_2834763.flac").unlink()
    with pytest.raises(FileNotFoundError, match=r"Noise_Addition\.txt:2: audio for LA_E_2834763"):
        laundered(tmp_path)


def test_paths_are_rebased_onto_the_manifest_folder(tmp_path):
    layouts.asvspoof5(tmp_path / "data" / "as5", protocols="ASVspoof5_protocols")
    (tmp_path / "out").mkdir()
    rows = load_corpus_rows("asvspoof5", tmp_path / "data" / "as5", tmp_path / "out" / "m.csv")
    # the corpus lies outside the manifest's folder: absolute paths, never "../"
    assert all(row["path"].startswith((tmp_path / "data" / "as5" / "flac_").as_posix()) for row in rows)
    assert all((tmp_path / "out" / row["path"]).is_file() for row in rows)


def test_protocol_that_is_not_utf8_is_named(tmp_path):
    from detector.data.corpora.common import read_protocol
    path = tmp_path / "protocol.txt"
    path.write_bytes(b"LA_0079 LA_T_1 - - bonafide\n\xff\xfe broken\n")
    with pytest.raises(ValueError, match=r"protocol\.txt: protocol file is not UTF-8"):
        read_protocol(path, 5)


def test_prepare_asvspoof5_prints_what_it_left_out_and_writes_the_codec_columns(tmp_path, capsys):
    from detector.cli.main import main
    from detector.data.manifest import read_manifest

    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "asvspoof5", "--root", str(layouts.asvspoof5(tmp_path / "as5")),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "left out 2 file(s) of flac_D/" in printed and "left out 1 file(s) of flac_E_eval/" in printed
    rows = read_manifest(out).rows
    assert len(rows) == 9
    assert sorted({(r.split, r.extra["condition"]) for r in rows}) == [
        ("test", "C07:3"), ("test", "C11:6"), ("test", "uncoded"), ("train", "uncoded"), ("val", "uncoded")]
    assert {r.extra["gender"] for r in rows} == {"F", "M"}
