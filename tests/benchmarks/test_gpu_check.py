"""The prepared GPU check runs its own code on the CPU (``--device cpu --quick``), so it cannot rot
between the occasions a GPU is lent; and it always reports: a failing check, a failed set-up or a
SIGTERM still leave a FAIL line, the other checks' lines, the table and the results rows."""
import argparse
import csv
import os
import signal
from types import SimpleNamespace

import pytest
import torch

from benchmarks import gpu_check


def _rows(folder):
    return {row["stage"]: row for row in csv.DictReader((folder / "results.csv").open())}


def _table_lines(out: str) -> dict[str, str]:
    """The final table's lines (after the header line), by check name."""
    table = out[out.index("detector GPU check on"):].splitlines()[1:-1]
    return {line[6:].split("  ")[0]: line for line in table}


def test_quick_run_with_one_failing_check_reports_it_and_runs_and_records_the_others(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure\nsecond line of the message")

    monkeypatch.setattr(gpu_check, "check_moonshot", broken)
    flags = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    report = tmp_path / "table.txt"
    assert gpu_check.main(["--device", "cpu", "--quick", "--results", str(tmp_path), "--report", str(report)]) == 1
    # (e) runs training with --deterministic; the flags are as they were before the run.
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic) == flags

    out = capsys.readouterr().out
    lines = _table_lines(out)
    default = gpu_check.default_frontend()
    moonshot = lines["g moonshot (ASVspoof 2019 LA size)"]
    assert moonshot.startswith("FAIL") and "RuntimeError: injected failure" in moonshot
    assert "second line" not in moonshot   # one line per check
    # Every other check ran: CPU stand-ins pass, measurements without a target are INFO, compile is off.
    assert lines["a sync-free, meta trace"].startswith("PASS")
    assert lines["e kill and resume"].startswith("PASS")
    for name in ("a sync-free, DataLoader", "a sync-free, cache on device", f"b throughput, {default}, eager",
                 f"c throughput, {default}, eager", "d peak memory", "f laundering study"):
        assert lines[name].startswith("INFO"), lines[name]
    for frontend in set(gpu_check.FRONTEND_ROWS) - {default}:
        assert lines[f"b throughput, {frontend}, eager"].startswith("INFO")
    assert lines["a sync-free, compiled"].startswith("SKIP")
    assert "input wait" in lines[f"b throughput, {default}, eager"]
    assert out.rstrip().splitlines()[-1].startswith("FAIL: g moonshot (ASVspoof 2019 LA size)")
    assert report.read_text().strip() == out[out.index("detector GPU check on"):].strip()

    rows = _rows(tmp_path)
    assert rows["checks failed"]["value"] == "1" and "g moonshot" in rows["checks failed"]["notes"]
    assert "seconds, g moonshot (ASVspoof 2019 LA size)" in rows   # the failed check's own row
    for stage in (f"model only, {default}, eager", f"full pipeline, {default}, eager",
                  f"full pipeline, cache on device, {default}, eager", f"input wait, full pipeline, {default}, eager",
                  "model only, logmel, eager" if default != "logmel" else "model only, cqt, eager",
                  "study seconds", "peak RSS", "seconds, total"):
        assert stage in rows, stage
    assert all(row["benchmark"] == "gpu_check" and row["device"].startswith("CPU") for row in rows.values())
    assert all(float(rows[s]["value"]) > 0 for s in rows if "clips/s" == rows[s]["unit"])
    assert "## gpu_check" in (tmp_path / "RESULTS.md").read_text()


def _report(tmp_path, budget_s=0.0) -> gpu_check.Report:
    args = argparse.Namespace(quick=True, budget_s=budget_s, write=True, report="", batch_size=8, crop_s=1.0)
    return gpu_check.Report(args, torch.device("cpu"), tmp_path)


@pytest.mark.parametrize("fails", [False, True])
def test_a_check_that_changes_the_global_flags_leaves_them_as_they_were(tmp_path, fails):
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
              torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    cleaned = []
    report = _report(tmp_path)
    report.on_failure.append(lambda: cleaned.append(True))

    def check(out):
        torch.use_deterministic_algorithms(True, warn_only=not before[1])
        torch.backends.cudnn.benchmark = not before[2]
        torch.backends.cudnn.deterministic = not before[3]
        out.line("x flags", "INFO", "changed every flag")
        if fails:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    report.run("x flags", check)
    assert (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == before
    statuses = [line.status for line in report.lines]
    assert statuses == (["INFO", "FAIL"] if fails else ["INFO"])
    assert cleaned == ([True] if fails else [])   # cached models are dropped after a failure only
    if fails:
        assert report.lines[-1].detail == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert "seconds, x flags" in _rows(tmp_path)   # rows are written as the check ends


def test_the_documented_counter_read_runs_with_the_sync_debug_mode_off_and_is_counted(monkeypatch):
    import detector.engine.train as train_module

    mode, seen = [2], []   # a stand-in for the CUDA setting ("error" = 2)
    monkeypatch.setattr(torch.cuda, "get_sync_debug_mode", lambda: mode[0])
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", lambda value: mode.__setitem__(0, value))
    original = train_module._StepCounters.read
    monkeypatch.setattr(train_module._StepCounters, "read", lambda self, position: seen.append(mode[0]) or 0)
    patched_over = train_module._StepCounters.read
    count = [0]
    position = train_module.EpochPosition()
    with gpu_check.documented_reads_allowed(count):
        counters = train_module._StepCounters(position, torch.device("cpu"))
        counters.read(position)
        counters.read(position)
    assert seen == [0, 0] and count == [2] and mode == [2]   # off inside each read, "error" again after
    assert train_module._StepCounters.read is patched_over
    assert original is not patched_over


def _fake_setup(tmp_path):
    return SimpleNamespace(device=torch.device("cpu"), work=tmp_path)


def test_a_failed_set_up_still_prints_the_table_and_records_a_row(tmp_path, capsys, monkeypatch):
    def broken(*args):
        raise OSError("no space left on device")

    monkeypatch.setattr(gpu_check, "_prepare", broken)
    assert gpu_check.main(["--device", "cpu", "--quick", "--results", str(tmp_path)]) == 1
    lines = _table_lines(capsys.readouterr().out)
    assert lines["0 set-up"].startswith("FAIL") and "OSError: no space left on device" in lines["0 set-up"]
    assert all(lines[letter].startswith("SKIP") and "not run: the set-up failed" in lines[letter]
               for letter in "abcdefg")
    assert _rows(tmp_path)["checks failed"]["value"] == "1"


def test_sigterm_during_a_check_fails_it_lists_the_rest_as_not_run_and_writes_the_report(tmp_path, capsys,
                                                                                         monkeypatch):
    ran = []

    def fine(out):
        ran.append("a")
        out.line("a first", "PASS", "ran")

    def terminated(out):
        os.kill(os.getpid(), signal.SIGTERM)   # as `timeout` would send it

    monkeypatch.setattr(gpu_check, "_prepare", lambda *args: _fake_setup(tmp_path))
    monkeypatch.setattr(gpu_check, "plan", lambda *args: [("a first", fine), ("b second", terminated),
                                                          ("c third", fine)])
    handler = signal.getsignal(signal.SIGTERM)
    assert gpu_check.main(["--device", "cpu", "--quick", "--results", str(tmp_path)]) == 1
    assert signal.getsignal(signal.SIGTERM) == handler   # restored
    lines = _table_lines(capsys.readouterr().out)
    assert ran == ["a"] and lines["a first"].startswith("PASS")
    assert lines["b second"].startswith("FAIL") and "Stopped: SIGTERM" in lines["b second"]
    assert lines["c third"].startswith("SKIP") and "not run: the run was stopped" in lines["c third"]
    rows = _rows(tmp_path)
    assert rows["checks failed"]["value"] == "1" and "seconds, b second" in rows


def test_checks_not_started_within_the_budget_are_skipped(tmp_path, capsys, monkeypatch):
    ran = []
    monkeypatch.setattr(gpu_check, "_prepare", lambda *args: _fake_setup(tmp_path))
    monkeypatch.setattr(gpu_check, "plan", lambda *args: [("a only", lambda out: ran.append(1))])
    assert gpu_check.main(["--device", "cpu", "--quick", "--budget-s", "1e-9", "--results", str(tmp_path)]) == 0
    assert ran == []
    line = _table_lines(capsys.readouterr().out)["a only"]
    assert line.startswith("SKIP") and "budget was spent" in line
