"""Speaker-disjoint stratified splits, unseen systems, official splits, and the balanced builder."""
from collections import Counter

import pytest

from detector.data.balance import balance
from detector.data.splits import assign_splits, resolve_splits

SYSTEMS = [f"A{i:02d}" for i in range(1, 9)]


def corpus(n_speakers=30, seed=0):
    """Speakers with unequal clip counts; each speaker has bona fide and spoofs of every system."""
    rows = []
    for s in range(n_speakers):
        for k in range(4 + s % 5):
            rows.append({"path": f"s{s}/b{k}.flac", "label": "bonafide", "speaker": f"spk{s}", "system": "-",
                         "split": ""})
        for k, system in enumerate(SYSTEMS * (1 + s % 2)):
            rows.append({"path": f"s{s}/f{k}.flac", "label": "spoof", "speaker": f"spk{s}", "system": system,
                         "split": ""})
    return rows


def split_speakers(rows):
    where = {}
    for row in rows:
        where.setdefault(row["speaker"], set()).add(row["split"])
    return where


def test_speaker_disjoint_splits_match_ratios_per_label():
    rows = corpus()
    report = assign_splits(rows, (0.7, 0.15, 0.15), seed=1)
    assert "speaker-disjoint" in report.how and not report.dropped
    assert all(len(splits) == 1 for splits in split_speakers(rows).values())
    for label in ("bonafide", "spoof"):
        counts = Counter(r["split"] for r in rows if r["label"] == label)
        total = sum(counts.values())
        for split, ratio in (("train", 0.7), ("val", 0.15), ("test", 0.15)):
            assert abs(counts[split] / total - ratio) < 0.05, (label, split, counts)


def test_splits_are_seeded():
    a, b, c = corpus(), corpus(), corpus()
    assign_splits(a, (0.7, 0.15, 0.15), seed=5)
    assign_splits(b, (0.7, 0.15, 0.15), seed=5)
    assign_splits(c, (0.7, 0.15, 0.15), seed=6)
    assert [r["split"] for r in a] == [r["split"] for r in b]
    assert [r["split"] for r in a] != [r["split"] for r in c]


def test_unseen_systems_only_in_test_and_no_speaker_leak():
    rows = corpus()
    before = len(rows)
    report = assign_splits(rows, (0.7, 0.15, 0.15), seed=0, unseen_systems=["A07", "A08"])
    assert {r["split"] for r in rows if r["system"] in ("A07", "A08")} == {"test"}
    assert not {r["system"] for r in rows if r["split"] != "test"} & {"A07", "A08"}
    assert all(len(splits) == 1 for splits in split_speakers(rows).values())
    assert len(report.dropped) > 0 and len(rows) == before - len(report.dropped)
    assert {r["system"] for r in report.dropped} <= {"A07", "A08"}


def test_unknown_unseen_system_is_an_error():
    with pytest.raises(ValueError, match="no clips of A99"):
        assign_splits(corpus(), (0.7, 0.15, 0.15), 0, unseen_systems=["A99"])


def test_official_splits_are_kept_unless_resplit():
    rows = corpus(6)
    for i, row in enumerate(rows):
        row["split"] = "train" if i % 2 else "test"     # speakers shared across splits on purpose
    assert "official" in resolve_splits(rows, (0.7, 0.15, 0.15), 0).how
    assert Counter(r["split"] for r in rows)["test"] == (len(rows) + 1) // 2
    with pytest.raises(ValueError, match="--resplit"):
        resolve_splits(rows, (0.7, 0.15, 0.15), 0, unseen_systems=["A01"])
    resolve_splits(rows, (0.5, 0.25, 0.25), 0, resplit=True)
    assert all(len(splits) == 1 for splits in split_speakers(rows).values())


def test_partial_official_splits_need_resplit():
    rows = corpus(3)
    rows[0]["split"] = "train"
    with pytest.raises(ValueError, match=r"have no official split; pass --resplit"):
        resolve_splits(rows, (0.7, 0.15, 0.15), 0)


def test_undersampling_balances_each_split_evenly_across_systems():
    rows = corpus()
    assign_splits(rows, (0.7, 0.15, 0.15), seed=0)
    out, report = balance(rows, "undersample", across_systems=True, seed=0)
    for split in ("train", "val", "test"):
        members = [r for r in out if r["split"] == split]
        labels = Counter(r["label"] for r in members)
        assert labels["bonafide"] == labels["spoof"] == sum(
            1 for r in rows if r["split"] == split and r["label"] == "bonafide")
        systems = Counter(r["system"] for r in members if r["label"] == "spoof")
        assert max(systems.values()) - min(systems.values()) <= 1 and len(systems) == 8
    assert sum(report.dropped.values()) == len(rows) - len(out)
    assert "dropped" in "\n".join(report.lines())


def test_research_builder_500_vs_500_over_8_generators():
    rows = [{"path": f"b{i}", "label": "bonafide", "speaker": "-", "system": "-", "split": "train"} for i in range(900)]
    rows += [{"path": f"f{i}", "label": "spoof", "speaker": "-", "system": SYSTEMS[i % 8] if i < 1400 else "A01",
              "split": "train"} for i in range(2000)]
    out, _ = balance(rows, across_systems=True, per_class=500, seed=3)
    assert Counter(r["label"] for r in out) == {"bonafide": 500, "spoof": 500}
    assert sorted(Counter(r["system"] for r in out if r["label"] == "spoof").values()) == [62] * 4 + [63] * 4


def test_undersampling_across_speakers_spreads_bonafide():
    rows = [{"path": f"b{i}", "label": "bonafide", "speaker": "big" if i < 90 else f"s{i}", "system": "-",
             "split": "train"} for i in range(100)]
    rows += [{"path": f"f{i}", "label": "spoof", "speaker": "x", "system": "A01", "split": "train"} for i in range(20)]
    out, _ = balance(rows, across_speakers=True, seed=0)
    kept = Counter(r["speaker"] for r in out if r["label"] == "bonafide")
    assert sum(kept.values()) == 20 and kept["big"] == 10   # 10 small speakers give all they have


def test_oversampling_repeats_train_only_and_is_seeded():
    rows = [{"path": f"b{i}", "label": "bonafide", "speaker": "-", "system": "-", "split": split}
            for i, split in enumerate(["train"] * 3 + ["test"])]
    rows += [{"path": f"f{i}", "label": "spoof", "speaker": "-", "system": "A01", "split": split}
             for i, split in enumerate(["train"] * 10 + ["test"] * 3)]
    out, report = balance(rows, "oversample", seed=0)
    train_bona = [r for r in out if r["split"] == "train" and r["label"] == "bonafide"]
    assert sum(int(r.get("repeat", 1)) for r in train_bona) == 10 and len(train_bona) == 3
    assert sum(1 for r in out if r["split"] == "test") == 4
    assert not any("repeat" in r for r in out if r["split"] == "test")
    assert report.added[("train", "bonafide")] == 7
    assert balance(rows, "oversample", seed=0)[0] == out
