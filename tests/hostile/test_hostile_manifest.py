"""Hostile manifests: a clear error naming file:line (or a working read), through the API and the CLI;
paths may not leave the manifest's folder unless the user allows it."""
import numpy as np
import pytest
import soundfile

from detector.cli.main import main
from detector.data import read_manifest
from detector.data.corpora import folder_corpus
from detector.data.manifest import escapes_root
from tests.conftest import write_folder_corpus
from tests.hostile.files import RATE, tone

HEADER = "path,label,speaker,system,split\n"


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize("body, message", [
    ("a.wav,spoof,s,A1,train\r\na.wav,spoof,s,A1,train\r\n", r"m\.csv:3: duplicate path 'a\.wav' \(first on line 2\)"),
    ("a.wav,spoof,s,A1,train\n./a.wav,spoof,s,A1,train\n", r"m\.csv:3: duplicate path '\./a\.wav' \(first on line 2\)"),
    ("a.wav,spoof,s\n", r"m\.csv:2: fewer fields than the header's 5 columns"),
    ("a.wav,spoof,s,A1,train,x\n", r"m\.csv:2: more fields"),
    ("\n\na.wav,fake,s,A1,train\n", r"m\.csv:4: label 'fake'"),                 # blank lines count
    ('a.wav,spoof,"two\nlines",A1,train\nc.wav,fake,s,A1,train\n', r"m\.csv:4: label 'fake'"),   # quoted newline
    ('"a\nb.wav",spoof,s,A1,train\n', r"m\.csv:3: path 'a\\nb\.wav' contains a control character"),
    ("../x.wav,spoof,s,A1,train\n", r"m\.csv:2: path '\.\./x\.wav' leaves the manifest's folder.*--allow-outside-root"),
    ("a/../../x.wav,spoof,s,A1,train\n", r"m\.csv:2: path 'a/\.\./\.\./x\.wav' leaves"),
    ("..,spoof,s,A1,train\n", r"m\.csv:2: path '\.\.' leaves"),
    ("a\x00b.wav,spoof,s,A1,train\n", r"m\.csv:2: path .* contains a control character"),
    ('"a\x07.wav",spoof,s,A1,train\n', r"m\.csv:2: path .* contains a control character"),
    ("x" * 200_000 + ".wav,spoof,s,A1,train\n", r"m\.csv:2: not valid CSV \(field larger than field limit"),
    ('"unterminated,spoof,s,A1,train\n', r"m\.csv:\d+: (not valid CSV|fewer fields)"),
])
def test_bad_manifest_rows_name_file_and_line(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(write(tmp_path / "m.csv", HEADER + body))


@pytest.mark.parametrize("text, message", [
    ("path,label,split\na.wav,spoof,train\n", r"m\.csv: missing column\(s\) speaker, system"),
    ("", r"m\.csv: missing column\(s\) path, label, speaker, system, split.*header: empty"),
    ("\ufeffpath;label;speaker;system;split\na.wav;spoof;s;A;train\n", r"missing column"),   # not comma-separated
    ("path,label,speaker,system,split,path\na.wav,spoof,s,A,train,b.wav\n", r"m\.csv:1: column\(s\) path appear"),
    (HEADER, r"m\.csv: manifest has no rows"),
    (HEADER.encode() + "ü.wav,spoof,s,A,train\n".encode("latin-1"), r"m\.csv: manifest is not UTF-8"),
])
def test_bad_manifest_files_say_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_manifest(write(tmp_path / "m.csv", text))


def test_a_folder_or_a_missing_file_as_manifest(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        read_manifest(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"nope\.csv: manifest not found"):
        read_manifest(tmp_path / "nope.csv")


def test_bom_crlf_non_ascii_spaces_and_absolute_paths_are_read(tmp_path):
    elsewhere = tmp_path / "elsewhere" / "x.wav"
    lines = [HEADER.strip(), "dönüş/音声 1.wav,bonafide,s,-,train", "", f"{elsewhere},spoof,s,A1,test",
             "sub/../inside.wav,spoof,s,A1,val"]
    text = "\ufeff" + "\r\n".join(lines) + "\r\n"
    manifest = read_manifest(write(tmp_path / "m" / "m.csv", text))
    assert [r.path for r in manifest.rows] == ["dönüş/音声 1.wav", str(elsewhere), "sub/../inside.wav"]
    assert [r.line for r in manifest.rows] == [2, 4, 5]
    assert manifest.audio_path(manifest.rows[1]) == elsewhere   # absolute paths are taken as they are


def test_paths_outside_the_folder_are_allowed_only_when_asked(tmp_path):
    soundfile.write(write(tmp_path / "audio" / "x.wav", b"").parent / "x.wav", tone(0.5, RATE), RATE)
    path = write(tmp_path / "m" / "m.csv", HEADER + "../audio/x.wav,spoof,s,A1,train\n")
    with pytest.raises(ValueError, match=r"m\.csv:2: path '\.\./audio/x\.wav' leaves"):
        read_manifest(path)
    manifest = read_manifest(path, allow_outside_root=True)
    assert manifest.audio_path(manifest.rows[0]).resolve() == (tmp_path / "audio" / "x.wav").resolve()


@pytest.mark.parametrize("text, escapes", [
    ("a.wav", False), ("./a/b.wav", False), ("a/../b.wav", False), ("/abs/x.wav", False), ("C:\\x.wav", False),
    ("../a.wav", True), ("a/../../b.wav", True), ("..", True), ("..\\a.wav", True), ("./../a.wav", True),
    ("...wav", False), ("..a.wav", False),
])
def test_escapes_root_judges_the_text(text, escapes):
    assert escapes_root(text) is escapes


def test_cli_refuses_an_escaping_manifest_then_accepts_it_with_the_flag(tmp_path, capsys):
    for i in range(3):
        soundfile.write(write(tmp_path / "audio" / f"{i}.wav", b""), tone(0.5, RATE, 300 + 100 * i), RATE)
    rows = "".join(f"../audio/{i}.wav,{'spoof' if i else 'bonafide'},s,{'A1' if i else '-'},test\n" for i in range(3))
    manifest = write(tmp_path / "m" / "m.csv", HEADER + rows)
    command = ["launder", "--manifest", str(manifest), "--conditions", "clean",
               "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"detector launder: error: {manifest}:2: path '../audio/0.wav' leaves the manifest's folder")
    assert "--allow-outside-root" in err and "Traceback" not in err
    assert main(command + ["--allow-outside-root"]) == 0
    assert "wrote 3 files" in capsys.readouterr().out


def test_cli_names_a_missing_column(tmp_path, capsys):
    manifest = write(tmp_path / "m.csv", "path,label\na.wav,spoof\n")
    assert main(["train", "--manifest", str(manifest), "--out", str(tmp_path / "run"),
                 "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"detector train: error: {manifest}: missing column(s) speaker, system, split")


def test_prepare_writes_absolute_paths_outside_and_relative_paths_inside(tmp_path):
    corpus = write_folder_corpus(tmp_path / "data" / "corpus", n_per_class=2, seconds=0.2)
    outside = tmp_path / "runs" / "m.csv"
    assert main(["prepare", "--corpus", "folder", "--root", str(corpus), "--out", str(outside)]) == 0
    rows = read_manifest(outside).rows   # readable without --allow-outside-root
    assert all(r.path.startswith(corpus.as_posix() + "/") for r in rows)
    inside = tmp_path / "data" / "m.csv"
    rows = folder_corpus(corpus, inside)
    assert all(r["path"].startswith("corpus/") for r in rows)
    assert all((inside.parent / r["path"]).is_file() for r in rows)
    assert np.all([not escapes_root(r["path"]) for r in rows])
