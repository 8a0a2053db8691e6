"""Babble and cafe talkers: the user's training split when it is big enough, else the packaged demo prompts;
never validation or test speech."""

import csv

import numpy as np
import pytest

from detector.cli.main import main
from detector.data import load_or_build_cache, read_manifest, write_manifest
from detector.data.demo import DEMO_CORPUS
from detector.launder import CATALOGUE_ALL, LaunderBanks
from detector.launder.banks import packaged_prompt_paths, packaged_prompts
from tests.conftest import write_folder_corpus

SR = 16000


def _corpus(root, splits: list[str], seed: int = 0):
    """(manifest, cache): one bona fide and one spoof clip per entry of ``splits`` (that clip pair's split)."""
    folder = write_folder_corpus(root / "corpus", n_per_class=len(splits), seed=seed)
    rows = []
    for path in sorted(folder.rglob("*.*")):
        index = int(path.stem.rsplit("_", 1)[1])
        label = "bonafide" if "bonafide" in path.parts else "spoof"
        rows.append({"path": path.relative_to(folder).as_posix(), "label": label, "speaker": f"s{index % 3}",
                     "system": "-" if label == "bonafide" else path.parent.name, "split": splits[index]})
    write_manifest(rows, folder / "manifest.csv")
    manifest = read_manifest(folder / "manifest.csv")
    return manifest, load_or_build_cache(manifest, SR, root / "cache")


def test_packaged_talkers_are_the_demo_corpus_bona_fide_training_prompts_decoded_deterministically():
    with open(DEMO_CORPUS / "manifest.csv", newline="") as handle:
        demo = list(csv.DictReader(handle))
    train = sorted(DEMO_CORPUS / r["path"] for r in demo if r["label"] == "bonafide" and r["split"] == "train")
    held_out = {DEMO_CORPUS / r["path"] for r in demo if r["split"] != "train"}
    paths = packaged_prompt_paths()
    assert paths == train and len(paths) == 132 and not held_out & set(paths)
    prompts = packaged_prompts(SR)
    assert len(prompts) == 132 and all(p.dtype == np.float32 and p.ndim == 1 for p in prompts)
    assert sum(len(p) for p in prompts) / SR == pytest.approx(289.5, abs=0.5)   # the demo README's train seconds
    assert len(packaged_prompts(8000)[0]) == pytest.approx(len(prompts[0]) / 2, abs=1)   # resampled for 8 kHz models


@pytest.mark.parametrize("splits", [["test"] * 8, ["train"] * 4 + ["val"] * 4 + ["test"] * 8],
                         ids=["evaluation-only", "train-split-too-small"])
def test_without_enough_training_clips_babble_is_the_packaged_bank_and_holds_no_test_speech(tmp_path, splits):
    manifest, cache = _corpus(tmp_path / "a", splits)
    banks = LaunderBanks.from_corpus(manifest, cache)
    assert banks.utterances is None and banks.babble_source == "packaged demo-corpus prompts (132 clips)"
    babble, cafe = banks.noise("babble", SR), banks.noise("cafe", SR)
    # Other test (and val) speech, same layout: the noise does not change, so no sample of those clips is in it.
    other_manifest, other_cache = _corpus(tmp_path / "b", splits, seed=1)
    assert not np.array_equal(other_cache.waveform(0), cache.waveform(0))
    other = LaunderBanks.from_corpus(other_manifest, other_cache)
    assert np.array_equal(other.noise("babble", SR), babble) and np.array_equal(other.noise("cafe", SR), cafe)
    # It is the packaged bank's babble: the same as banks given no corpus at all.
    assert np.array_equal(LaunderBanks().noise("babble", SR), babble)
    assert babble.std() > 0.5 and np.isfinite(babble).all()


def test_a_big_enough_training_split_supplies_the_talkers(tmp_path):
    splits = ["train"] * 12 + ["val"] * 3 + ["test"] * 6
    manifest, cache = _corpus(tmp_path, splits)
    banks = LaunderBanks.from_corpus(manifest, cache)
    train = [i for i, row in enumerate(manifest.rows) if row.label == "bonafide" and row.split == "train"]
    held_out = [i for i, row in enumerate(manifest.rows) if row.split != "train"]
    assert banks.babble_source == f"train split of {manifest.path} (12 clips)"
    assert len(banks.utterances) == 12
    assert all(np.array_equal(u, cache.waveform(i)) for u, i in zip(banks.utterances, train))
    assert not any(np.array_equal(u, cache.waveform(i)) for u in banks.utterances for i in held_out)
    assert not np.array_equal(banks.noise("babble", SR), LaunderBanks().noise("babble", SR))


def test_launder_all_conditions_on_three_clips_no_longer_refuses(tmp_path):
    manifest, cache = _corpus(tmp_path, ["test", "test", "test"])
    rows = [{"path": r.path, "label": r.label, "speaker": r.speaker, "system": r.system, "split": r.split}
            for r in manifest.rows if r.label == "bonafide"]
    write_manifest(rows, manifest.path)
    out = tmp_path / "laundered"
    code = main(["launder", "--manifest", str(manifest.path), "--cache-dir", str(tmp_path / "cache"),
                 "--conditions", "all", "--out", str(out)])
    assert code == 0
    protocol = (out / "protocol.csv").read_text().splitlines()
    assert len(protocol) == 1 + 3 * len(CATALOGUE_ALL)
    assert sum(",noise:babble:" in line for line in protocol) == 3 * 3
