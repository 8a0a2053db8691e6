"""File checks (parallel, report, fail/skip) and the manifest summary's leak and shortcut warnings."""
import csv

import numpy as np
import pytest
import soundfile

import detector.data.validate as validate
from detector.data.summary import shortcut_warnings, summary_text
from tests.data import layouts


def bad_files(root):
    """One good file and one of each kind of bad file, as rows relative to ``root/m.csv``."""
    layouts.audio(root / "good.flac")
    (root / "empty.wav").write_bytes(b"")
    soundfile.write(root / "nan.wav", np.full(1600, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    soundfile.write(root / "short.wav", np.zeros(16, dtype=np.float32), 16000)
    data = (root / "good.flac").read_bytes()
    (root / "truncated.flac").write_bytes(data[: len(data) // 2])
    names = ["good.flac", "missing.wav", "empty.wav", "nan.wav", "short.wav", "truncated.flac"]
    return [{"path": name, "label": "spoof", "speaker": "-", "system": "A", "split": "train",
             "_where": f"proto.txt:{i + 1}"} for i, name in enumerate(names)]


def test_probe_names_each_problem(tmp_path):
    rows = bad_files(tmp_path)
    results = {row["path"]: validate.probe(str(tmp_path / row["path"])) for row in rows}
    assert results["good.flac"]["sample_rate"] == 16000 and results["good.flac"]["duration_s"] == pytest.approx(0.2)
    assert results["missing.wav"] == "file not found"
    assert results["empty.wav"].startswith("cannot decode")
    assert results["nan.wav"] == "contains NaN or infinite samples"
    assert "shorter than the minimum" in results["short.wav"]
    assert isinstance(results["truncated.flac"], str)


def test_fail_writes_the_report_and_names_the_first_bad_file(tmp_path):
    rows = bad_files(tmp_path)
    with pytest.raises(ValueError, match=r"5 of 6 audio file\(s\) are bad.*missing\.wav \(proto\.txt:2\)"):
        validate.validate_rows(rows, tmp_path / "m.csv", "fail", progress=False)
    with open(tmp_path / "m.bad.csv", newline="") as handle:
        report = list(csv.DictReader(handle))
    assert [r["path"] for r in report] == ["missing.wav", "empty.wav", "nan.wav", "short.wav", "truncated.flac"]
    assert report[0]["source"] == "proto.txt:2"


def test_skip_keeps_good_rows_with_duration_rate_and_level(tmp_path):
    good, bad, rate = validate.validate_rows(bad_files(tmp_path), tmp_path / "m.csv", "skip", progress=False)
    assert [r["path"] for r in good] == ["good.flac"] and len(bad) == 5 and rate > 0
    assert (good[0]["duration_s"], good[0]["sample_rate"]) == ("0.200", "16000")
    assert -15 < float(good[0]["level_dbfs"]) < -5     # a 0.3-amplitude sine: about -13.5 dBFS


def test_parallel_workers_give_the_same_answers_in_order(tmp_path, monkeypatch):
    rows = bad_files(tmp_path) * 3   # several chunks, order must survive
    serial, _ = validate.probe_files([str(tmp_path / r["path"]) for r in rows], workers=1, progress=False)
    monkeypatch.setattr(validate, "PARALLEL_MIN_FILES", 2)
    parallel, _ = validate.probe_files([str(tmp_path / r["path"]) for r in rows], workers=2, progress=False)
    assert parallel == serial


def rows_with(rates, durations, levels):
    rows = []
    for i, label in enumerate(["bonafide"] * 10 + ["spoof"] * 10):
        rows.append({"path": f"{i}.wav", "label": label, "speaker": f"s{i % 3}", "system": "-" if i < 10 else "A01",
                     "split": ["train", "test"][i % 2], "sample_rate": str(rates[i >= 10]),
                     "duration_s": str(durations[i >= 10] + 0.01 * i),
                     "level_dbfs": str(levels[i >= 10] + 0.1 * (i % 3))})
    return rows


def test_sample_rate_duration_and_level_shortcuts_are_flagged():
    warnings = "\n".join(shortcut_warnings(rows_with((16000, 8000), (4.0, 2.0), (-20, -35))))
    assert "sample-rate shortcut: 8000 Hz is 0% of bona fide but 100% of spoof clips; 16000 Hz is 100%" in warnings
    assert "duration shortcut" in warnings and "level shortcut" in warnings


def test_a_condition_one_class_lacks_is_flagged_and_a_shared_one_is_not():
    rows = rows_with((16000, 16000), (3.0, 3.0), (-20, -20))
    for i, row in enumerate(rows):   # bona fide: half narrowband GSM; spoof: all wideband
        row["condition"] = "gsm" if row["label"] == "bonafide" and i % 2 else "g722"
    warnings = "\n".join(shortcut_warnings(rows))
    assert "condition shortcut: g722 is 50% of bona fide but 100% of spoof clips; gsm is 50% of bona fide " \
           "but 0% of spoof clips" in warnings
    for i, row in enumerate(rows):   # both classes half narrowband
        row["condition"] = "gsm" if i % 2 else "g722"
    assert not any("condition" in w for w in shortcut_warnings(rows))


def test_matched_classes_give_no_shortcut_warning_but_speaker_leak_is_flagged():
    rows = rows_with((16000, 16000), (3.0, 3.0), (-20, -20))
    for i, row in enumerate(rows):   # interleave the classes' durations and levels
        row["duration_s"], row["level_dbfs"] = str(3 + (i % 7) * 0.1), str(-20 - (i % 5))
    warnings = shortcut_warnings(rows)
    assert not [w for w in warnings if "shortcut" in w]
    assert [w for w in warnings if w.startswith("speaker leak: 3 speaker(s)")]


def test_summary_counts_split_label_and_system():
    text = summary_text(rows_with((16000, 8000), (4.0, 2.0), (-20, -35)), title="m.csv")
    assert text.startswith("m.csv: 20 clips (bonafide 10, spoof 10), 3 speakers, 1 spoof systems")
    assert "  train  bonafide      5         3" in text       # split, label, clips, speakers
    assert "  A01         5     5" in text                     # system x (train, test)
    assert "sample rates, spoof: 8000 Hz x10" in text


def test_probe_refuses_impossible_headers_and_non_audio_as_decoding_does(tmp_path, capfd):
    from detector.data.audio import AudioError, decode
    from tests.hostile.files import PCM16_TONE, not_audio, riff_header

    (tmp_path / "lie.wav").write_bytes(riff_header(len(PCM16_TONE), bits=8) + PCM16_TONE)
    (tmp_path / "page.mp3").write_bytes(not_audio()["html"][0])
    (tmp_path / "zeros.mp3").write_bytes(bytes(2048))
    for name, expected in [("lie.wav", "impossible WAV header: block alignment 2 bytes"),
                           ("page.mp3", "not an audio file, or a format libsndfile does not read (it looks like an "
                                        "HTML"),
                           ("zeros.mp3", "(it holds only zero bytes)")]:
        path = str(tmp_path / name)
        with pytest.raises(AudioError) as error:
            decode(path)
        assert validate.probe(path) == str(error.value).removeprefix(f"{path}: ")
        assert expected in validate.probe(path)
    assert capfd.readouterr().err == ""   # no MP3 decoder chatter
