"""The shared writers: CSV text, and atomic files with the permissions a plain open() gives."""
import csv
import os

from detector.utils.io import NEW_FILE_MODE, atomic_write_csv, atomic_write_text, csv_text
from detector.utils.keys import slug, stable_seed


def test_csv_text_keeps_the_columns_order_fills_gaps_and_quotes():
    text = csv_text([{"b": "x,y", "a": 1, "extra": "dropped"}, {"a": 2}], ["a", "b"])
    assert text == 'a,b\n1,"x,y"\n2,\n'


def test_atomic_csv_reads_back_and_leaves_no_temporary(tmp_path):
    rows = [{"path": "a.wav", "label": "bonafide"}, {"path": 'b "q".wav', "label": "spoof"}]
    atomic_write_csv(tmp_path / "out" / "t.csv", rows, ["path", "label"])
    assert list(csv.DictReader((tmp_path / "out" / "t.csv").open())) == rows
    assert os.listdir(tmp_path / "out") == ["t.csv"]


def test_atomic_files_get_the_permissions_of_a_plain_open(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == NEW_FILE_MODE


def test_stable_seed_is_the_documented_crc_mix():
    import zlib

    crc = lambda text: zlib.crc32(text.encode())   # noqa: E731
    assert stable_seed(7, "noise:white:snr=10", "utt1") == ((7 * 1_000_003 + crc("noise:white:snr=10")) * 1_000_033
                                                             + crc("utt1")) % 2**63
    assert stable_seed(0, "clips/a.flac", bits=32) == crc("clips/a.flac") % 2**32
    assert slug(" noise:babble:snr=0..0.5 ") == "noise_babble_snr=0..0.5"
