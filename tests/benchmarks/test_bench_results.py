"""Benchmark rows land in results.csv (raw) and RESULTS.md (a section per benchmark), older layouts converted."""
from __future__ import annotations

import argparse
import csv

from benchmarks.results import COLUMNS, record
from benchmarks.study import make_corpus


def test_record_appends_rows_and_renders_a_section_per_benchmark(tmp_path):
    record({"a": 1.5}, "CPU test", argparse.Namespace(batch_size=8, crop_s=4.0), benchmark="attacks",
           folder=tmp_path)
    record({"ratio": 12.0, "bytes": 10}, "CPU test", None, benchmark="study", unit={"ratio": "x", "bytes": "bytes"},
           notes={"ratio": "extrapolated"}, folder=tmp_path)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [r["stage"] for r in rows] == ["a", "ratio", "bytes"]
    assert tuple(rows[0]) == COLUMNS and rows[0]["batch_size"] == "8" and rows[1]["unit"] == "x"
    text = (tmp_path / "RESULTS.md").read_text()
    assert text.index("## study") < text.index("## attacks")   # sections in the fixed order
    assert "| extrapolated |" in text


def test_rows_of_the_first_layout_are_converted(tmp_path):
    (tmp_path / "results.csv").write_text(
        "date,benchmark,stage,device,torch,batch_size,crop_s,clips_per_s\n"
        "2026-01-01,pipeline,launder noise batched,CPU,2.11,64,4.0,12.5\n")
    record({"b": 2.0}, "CPU", None, benchmark="pipeline", folder=tmp_path)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert rows[0]["benchmark"] == "launder" and rows[0]["value"] == "12.5" and rows[0]["unit"] == "clips/s"
    assert rows[1]["stage"] == "b"


def test_make_corpus_writes_4_s_clips_and_a_readable_manifest(tmp_path):
    import soundfile

    from detector.data import read_manifest

    manifest = make_corpus(tmp_path / "c", 3)
    rows = read_manifest(manifest).rows
    assert len(rows) == 3
    assert all(soundfile.info(str(tmp_path / "c" / r.path)).frames == 64000 for r in rows)
