"""``detector prepare`` and ``detector inspect`` end to end on corpus fixtures."""
from detector.cli.main import main
from detector.data.manifest import read_manifest
from tests.data import layouts


def test_prepare_asvspoof2019_writes_a_checked_manifest_and_prints_the_summary(tmp_path, capsys):
    root = layouts.asvspoof2019_la(tmp_path / "asv19")
    out = tmp_path / "m" / "manifest.csv"
    assert main(["prepare", "--corpus", "asvspoof2019", "--root", str(root), "--out", str(out)]) == 0
    manifest = read_manifest(out)
    assert len(manifest.rows) == 8
    assert {r.split for r in manifest.rows} == {"train", "val", "test"}
    assert all(manifest.audio_path(r).is_file() for r in manifest.rows)
    assert manifest.rows[0].extra["sample_rate"] == "16000" and manifest.rows[0].extra["corpus"] == "asvspoof2019-LA"
    printed = capsys.readouterr().out
    assert "official splits kept" in printed and "clips per split x label" in printed
    assert main(["inspect", str(out)]) == 0
    assert "8 clips (bonafide 4, spoof 4)" in capsys.readouterr().out


def test_prepare_skips_a_missing_file_and_reports_it(tmp_path, capsys):
    root = layouts.asvspoof2019_la(tmp_path / "asv19")
    (root / "LA" / "ASVspoof2019_LA_dev" / "flac" / "LA_D_1047731.flac").unlink()
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "asvspoof2019", "--root", str(root), "--out", str(out)]) == 2
    assert "LA_D_1047731.flac (" in capsys.readouterr().err and not out.exists()
    assert main(["prepare", "--corpus", "asvspoof2019", "--root", str(root), "--out", str(out),
                 "--on-error", "skip"]) == 0
    assert len(read_manifest(out).rows) == 7
    report = (tmp_path / "manifest.bad.csv").read_text()
    assert "LA_D_1047731.flac" in report and "ASVspoof2019.LA.cm.dev.trl.txt:1" in report


def test_prepare_resplits_in_the_wild_speaker_disjoint_and_balanced(tmp_path, capsys):
    root = tmp_path / "itw" / "release_in_the_wild"
    lines = ["file,speaker,label"]
    for i in range(24):
        lines.append(f"{i}.wav,speaker {i % 6},{'bona-fide' if i % 3 else 'spoof'}")
        layouts.audio(root / f"{i}.wav")
    layouts.text(root / "meta.csv", lines)
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "in-the-wild", "--root", str(tmp_path / "itw"), "--out", str(out),
                 "--split", "50/25/25", "--balance", "--seed", "2"]) == 0
    rows = read_manifest(out).rows
    speakers = {}
    for row in rows:
        speakers.setdefault(row.speaker, set()).add(row.split)
    assert all(len(splits) == 1 for splits in speakers.values())
    for split in {r.split for r in rows}:
        labels = [r.label for r in rows if r.split == split]
        assert labels.count("bonafide") == labels.count("spoof")
    assert "speaker-disjoint" in capsys.readouterr().out


def test_prepare_csv_corpus_via_column_flags(tmp_path):
    layouts.audio(tmp_path / "clips" / "a.wav")
    layouts.audio(tmp_path / "clips" / "b.wav", sample_rate=8000)
    table = layouts.text(tmp_path / "list.csv", ["wav,truth,part", "a.wav,REAL,train", "b.wav,fake,test"])
    out = tmp_path / "manifest.csv"
    assert main(["prepare", "--corpus", "csv", "--root", str(tmp_path / "clips"), "--csv", str(table),
                 "--out", str(out), "--path-column", "wav", "--label-column", "truth", "--split-column", "part"]) == 0
    rows = read_manifest(out).rows
    assert [(r.path, r.label, r.split, r.extra["sample_rate"]) for r in rows] == [
        ("clips/a.wav", "bonafide", "train", "16000"), ("clips/b.wav", "spoof", "test", "8000")]
