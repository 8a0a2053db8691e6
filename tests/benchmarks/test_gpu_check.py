"""The prepared GPU check runs its own code on the CPU (``--device cpu --quick``), so it cannot rot
between the occasions a GPU is lent."""
import csv

from benchmarks import gpu_check


def test_gpu_check_quick_on_the_cpu_passes_and_records_its_rows(tmp_path, capsys):
    assert gpu_check.main(["--device", "cpu", "--quick", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("a sync-free steps", "e kill and resume", "f laundering study"):
        assert any(line.startswith("PASS") and name in line for line in out.splitlines()), name
    assert "b throughput" in out and "c throughput" in out and "d peak memory" in out
    assert out.rstrip().endswith("PASS: every check")
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    stages = {row["stage"] for row in rows}
    assert {"model only, eager", "full pipeline, eager", "full pipeline, cache on device, eager",
            "study seconds"} <= stages
    assert all(row["benchmark"] == "gpu_check" and row["device"].startswith("CPU") for row in rows)
    assert all(float(row["value"]) > 0 for row in rows)
