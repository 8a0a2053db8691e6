"""Inference on a user's files, the Python API, evaluation's metrics.json, and the robustness
ablation (with resume and stale-cell detection)."""
import csv
import json
import shutil

import numpy as np
import pytest
import soundfile
import torch
import torchaudio

import detector
from detector.cli.main import main
from detector.config import Config
from detector.data.audio import ingest_filter
from detector.engine.evaluate import EvaluationOptions, evaluate
from detector.engine.scoring import ScoringSplit, WindowSettings
from detector.engine.train import train
from detector.metrics.detection import DetectionCost, detection_metrics
from detector.metrics.report import format_metrics
from tests.conftest import synthetic_clip, write_folder_corpus


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two tiny trained runs on one synthetic corpus: (manifest, cache_dir, run_a, run_b)."""
    root = tmp_path_factory.mktemp("trained")
    corpus = write_folder_corpus(root / "corpus", n_per_class=10)
    manifest = root / "manifest.csv"
    assert main(["prepare", "--corpus", "folder", "--root", str(corpus), "--out", str(manifest),
                 "--split", "50/25/25"]) == 0
    runs = []
    for name, seed in (("run_a", 1), ("run_b", 2)):
        config = Config()
        config.data.manifest, config.data.cache_dir, config.data.crop_s = str(manifest), str(root / "cache"), 0.5
        config.train.epochs, config.train.batch_size, config.train.seed = 1, 4, seed
        config.train.device, config.train.amp, config.train.max_steps_per_epoch = "cpu", "off", 2
        train(config, root / name)
        runs.append(root / name / "best.pt")
    return manifest, root / "cache", runs[0], runs[1]


def test_predict_api_handles_any_rate_channels_and_length(trained):
    _, _, checkpoint, _ = trained
    model = detector.load_detector(checkpoint, device="cpu", amp="off")
    rng = np.random.default_rng(0)
    mono = synthetic_clip(rng, "bonafide", 2.3, 16000)
    result = model.predict(mono, 16000)
    assert result.label in ("bonafide", "spoof") and 0 <= result.probability_bonafide <= 1
    assert result.duration_s == pytest.approx(2.3, abs=1e-3)
    assert result.label == ("bonafide" if result.score >= model.threshold else "spoof")
    left = synthetic_clip(rng, "bonafide", 1.7, 44100)
    stereo_44k = np.stack([left, 0.5 * left])
    expected = torchaudio.functional.resample(torch.from_numpy(0.75 * left), 44100, 16000, **ingest_filter())
    assert model.predict(stereo_44k, 44100).score == pytest.approx(model.predict(expected, 16000).score, abs=1e-5)
    with pytest.raises(ValueError, match="non-empty"):
        model.predict(np.zeros(0, np.float32), 16000)


def test_calibration_is_fitted_on_the_whole_clip_scores_evaluate_and_predict_apply_it_to(trained):
    """Training's validation scores whole clips in the default windows, mean-aggregated: refitting
    on evaluate's scores of the validation split gives the checkpoint's calibration."""
    from detector.metrics.calibration import fit_calibration
    from detector.models.checkpoint import detector_from_checkpoint, load_checkpoint
    from detector.utils.runtime import Precision
    _, _, checkpoint, _ = trained
    state = load_checkpoint(checkpoint)
    model, config = detector_from_checkpoint(state, torch.device("cpu"))
    split = ScoringSplit(config.data, "val", WindowSettings(), 8, torch.device("cpu"))
    assert split.dataset.window == 8000 and len(split.dataset) > len(split.clips)   # clips longer than a window
    scores = split.score([model], "clean", Precision.resolve("off", torch.device("cpu")))[0]
    refit = fit_calibration(scores, split.targets)
    assert state["calibration"] == pytest.approx(refit.as_dict(), rel=1e-6)


def test_whole_clip_score_averages_its_windows(trained):
    _, _, checkpoint, _ = trained
    model = detector.load_detector(checkpoint, device="cpu", amp="off")
    wave = synthetic_clip(np.random.default_rng(1), "spoof", 1.0, 16000)   # windows 0.5 s, hop 0.25 s
    windows = [model.predict(wave[start:start + 8000], 16000).score for start in (0, 4000, 8000)]
    assert model.predict(wave, 16000).score == pytest.approx(np.mean(windows), abs=1e-4)


def test_predict_cli_folders_csv_jsonl_and_skips(trained, tmp_path, capsys):
    _, _, checkpoint, _ = trained
    folder = tmp_path / "my audio"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(2)
    soundfile.write(folder / "a.wav", synthetic_clip(rng, "bonafide", 3.0, 22050), 22050)
    soundfile.write(folder / "sub" / "b.flac", np.stack([synthetic_clip(rng, "spoof", 0.3, 8000)] * 2, 1), 8000)
    (folder / "broken.wav").write_text("not audio")
    assert main(["predict", "--checkpoint", str(checkpoint), str(folder), "--device", "cpu"]) == 2
    assert "broken.wav: cannot decode" in capsys.readouterr().err
    assert main(["predict", "--checkpoint", str(checkpoint), str(folder), "--device", "cpu",
                 "--on-error", "skip", "--out", str(tmp_path / "p.csv")]) == 0
    assert "skipped 1 unreadable file" in capsys.readouterr().err
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["a.wav", "b.flac"]
    assert float(rows[0]["duration_s"]) == pytest.approx(3.0, abs=1e-3)
    assert main(["predict", "--checkpoint", str(checkpoint), str(folder / "a.wav"), "--device", "cpu",
                 "--out", str(tmp_path / "p.jsonl")]) == 0
    record = json.loads((tmp_path / "p.jsonl").read_text().splitlines()[0])
    assert record["score"] == pytest.approx(float(rows[0]["score"]), abs=1e-5)


def test_ablation_is_reproducible_resumable_and_written(trained, tmp_path, monkeypatch):
    from detector.engine import ablate as ablate_module
    manifest, cache, run_a, run_b = trained
    options = EvaluationOptions(conditions=["clean", "noise:white:snr=0", "noise:white:snr=20"], device="cpu",
                                amp="off", cache_dir=str(cache), batch_size=8)
    first = ablate_module.ablate([run_a, run_b], manifest, tmp_path / "a1", options)
    assert len(first) == 6 and {c["model"] for c in first} == {"run_a/best", "run_b/best"}
    # the same model evaluated alone sees the same laundered inputs: identical cells
    alone = ablate_module.ablate([run_b], manifest, tmp_path / "a2", options)
    assert [c["eer"] for c in alone] == [c["eer"] for c in first if c["model"] == "run_b/best"]
    # resume: finished cells are read back, not recomputed
    monkeypatch.setattr(ScoringSplit, "score", lambda *a, **k: pytest.fail("recomputed"))
    again = ablate_module.ablate([run_a, run_b], manifest, tmp_path / "a1", options)
    assert again == first
    table = (tmp_path / "a1" / "ablation.md").read_text()
    assert "**noise average**" in table and "Degradation" in table
    assert len(list(csv.DictReader(open(tmp_path / "a1" / "ablation.csv")))) == 6
    assert (tmp_path / "a1" / "ablation_eer.png").read_bytes()[:4] == b"\x89PNG"


def test_a_retrained_checkpoint_recomputes_every_cached_cell(trained, tmp_path, monkeypatch):
    from detector.engine import ablate as ablate_module
    manifest, cache, run_a, run_b = trained
    options = EvaluationOptions(conditions=["clean", "noise:white:snr=10"], device="cpu", amp="off",
                                cache_dir=str(cache), batch_size=8)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(run_a, run / "best.pt")
    before = ablate_module.ablate([run / "best.pt"], manifest, tmp_path / "ab", options)
    shutil.copy(run_b, run / "best.pt")   # retrained into the same run folder: same name, new bytes
    scored = []
    score = ScoringSplit.score
    monkeypatch.setattr(ScoringSplit, "score", lambda self, models, condition, *args, **kwargs:
                        scored.append(condition) or score(self, models, condition, *args, **kwargs))
    after = ablate_module.ablate([run / "best.pt"], manifest, tmp_path / "ab", options)
    assert scored == options.conditions   # every cell recomputed
    monkeypatch.setattr(ScoringSplit, "score", score)
    reference = ablate_module.ablate([run_b], manifest, tmp_path / "reference", options)
    strip = lambda cells: [{k: v for k, v in c.items() if k != "model"} for c in cells]
    assert strip(after) == strip(reference)   # run_b's own numbers, keyed by run_b's bytes
    assert {c["key"] for c in after}.isdisjoint(c["key"] for c in before)
    cells = [json.loads(p.read_text()) for p in sorted((tmp_path / "ab" / "cells").glob("*.json"))]
    assert sorted(c["key"] for c in cells) == sorted(c["key"] for c in after)


def test_cell_key_changes_with_everything_a_cell_depends_on():
    from detector.engine.ablate import cell_key
    settings = {"split": "test", "seed": 0, "precision": "off", "noise_dirs": "", "rir_dir": "",
                "windows": {"window_s": 0.5, "hop_s": 0.25, "aggregate": "mean"},
                "cost": DetectionCost().as_dict()}
    base = cell_key("c" * 64, "m" * 64, "clean", settings)
    assert cell_key("c" * 64, "m" * 64, "clean", dict(reversed(settings.items()))) == base
    changed = [cell_key("d" * 64, "m" * 64, "clean", settings), cell_key("c" * 64, "n" * 64, "clean", settings),
               cell_key("c" * 64, "m" * 64, "resample:8000", settings)]
    for name, value in [("split", "val"), ("seed", 1), ("precision", "bf16"), ("noise_dirs", "babble=x"),
                        ("windows", {"window_s": 0.5, "hop_s": 0.5, "aggregate": "mean"}),
                        ("cost", DetectionCost(c_fa=1.0).as_dict())]:
        changed.append(cell_key("c" * 64, "m" * 64, "clean", {**settings, name: value}))
    assert len(set(changed)) == len(changed) and base not in changed


def test_metrics_json_carries_every_metric_in_every_breakdown_and_matches_scores_txt(trained, tmp_path):
    manifest, cache, checkpoint, _ = trained
    rows = manifest.read_text().splitlines()
    with_channels = manifest.with_name("manifest_channels.csv")
    with_channels.write_text("\n".join([rows[0] + ",condition"] + [f"{row},{['wide', 'narrow'][i % 2]}"
                                                                   for i, row in enumerate(rows[1:])]) + "\n")
    options = EvaluationOptions(conditions=["clean", "noise:white:snr=0"], device="cpu", amp="off",
                                cache_dir=str(cache), batch_size=8)
    returned = evaluate(checkpoint, with_channels, tmp_path / "eval", options)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(returned))
    text = format_metrics(metrics)   # the terminal summary reads every breakdown
    assert "per condition:" in text and "within each manifest condition" in text
    names = ("eer", "eer_interpolated", "min_dcf", "act_dcf", "cllr")
    for where, report in {"overall": metrics, **metrics["per_condition"]}.items():
        groups = [report[b] for b in ("per_system", "per_bonafide_speaker", "per_manifest_condition")]
        assert all(groups), where
        for entry in [report, *(m for group in groups for m in group.values())]:
            assert all(isinstance(entry[name], float) for name in names), where
    # each condition's numbers are those of its trials in scores.txt
    trials = [line.split() for line in (tmp_path / "eval" / "scores.txt").read_text().splitlines()]
    for condition, report in metrics["per_condition"].items():
        mine = [(label, float(score)) for _, label, _, kind, score in trials if kind == condition]
        expected = detection_metrics(np.array([s for label, s in mine if label == "bonafide"]),
                                     np.array([s for label, s in mine if label == "spoof"]))
        assert {name: report[name] for name in expected} == expected


def test_ablate_cli_runs_an_explicit_condition_list(trained, tmp_path):
    manifest, cache, run_a, _ = trained
    assert main(["ablate", "--checkpoint", str(run_a), "--manifest", str(manifest), "--cache-dir", str(cache),
                 "--out", str(tmp_path / "ab"), "--device", "cpu", "--conditions", "clean,resample:8000"]) == 0
    assert [c["condition"] for c in json.loads((tmp_path / "ab" / "ablation.json").read_text())] == \
        ["clean", "resample:8000"]


def test_ablate_all_runs_the_study_catalogue_with_host_side_codecs(trained, tmp_path):
    """`all`: clean + 29 conditions, babble from the corpus, MP3 through the derived cache."""
    from detector.launder import CATALOGUE_ALL
    manifest, cache, run_a, _ = trained
    assert main(["ablate", "--checkpoint", str(run_a), "--manifest", str(manifest), "--cache-dir", str(cache),
                 "--out", str(tmp_path / "ab"), "--device", "cpu", "--conditions", "all"]) == 0
    cells = json.loads((tmp_path / "ab" / "ablation.json").read_text())
    assert [c["condition"] for c in cells] == list(CATALOGUE_ALL) and len(cells) == 30
    assert all(0.0 <= c["eer"] <= 1.0 for c in cells)
    assert list((cache).glob("*/derived/mp3_320k/index.json")), "codec output cached beside the waveform cache"
    table = (tmp_path / "ab" / "ablation.md").read_text()
    for family in ("reverb", "noise", "resample", "mp3"):
        assert f"**{family} average**" in table


@pytest.mark.parametrize("format, suffix, aggregate", [("torchscript", "pt", "mean"), ("onnx", "onnx", "min")])
def test_export_scores_whole_clips_as_predict_does(trained, tmp_path, format, suffix, aggregate):
    """Clips shorter than (repeated), equal to and several times longer than the 0.5 s window:
    the exported score and probability are predict's, to 1e-4 plus 1e-5 of the score (float32
    sums in another order: ONNX's nnAudio STFT is a convolution, its FFTs are ONNX Runtime's)."""
    _, _, checkpoint, _ = trained
    out = tmp_path / f"model.{suffix}"
    assert main(["export", "--checkpoint", str(checkpoint), "--format", format, "--out", str(out),
                 "--aggregate", aggregate]) == 0
    reference = detector.load_detector(checkpoint, device="cpu", amp="off",
                                       windows=WindowSettings(aggregate=aggregate))
    if format == "torchscript":
        run = lambda wave: [t.detach().numpy() for t in torch.jit.load(str(out))(torch.from_numpy(wave))]
    else:
        import onnxruntime
        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        run = lambda wave: session.run(["score", "probability_bonafide"], {"wave": wave})
    for seconds in (0.3, 0.5, 2.2):   # 1 window repeated to fill it; exactly 1; 8 with the last one end-aligned
        wave = np.stack([synthetic_clip(np.random.default_rng(i), label, seconds, 16000)
                         for i, label in enumerate(("spoof", "bonafide"))]).astype(np.float32)
        score, probability = run(wave)
        predicted = [reference.predict(clip, 16000) for clip in wave]
        np.testing.assert_allclose(score, [p.score for p in predicted], atol=1e-4, rtol=1e-5)
        np.testing.assert_allclose(probability, [p.probability_bonafide for p in predicted], atol=1e-4, rtol=0)
    # the clips' windows differ in score, so the aggregation is tested, not only the network
    long = wave[0]
    windows = [reference.predict(long[start:start + 8000], 16000).score for start in range(0, 27200, 4000)]
    assert max(windows) - min(windows) > 1e-3
