"""The corpus builder's planning and clip hygiene (pure Python: no FFmpeg, TTS engine or download)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.data.cues import CUES
from detector.data.summary import roc_auc
from tools.corpus_build.audit import audit_text
from tools.corpus_build.generators import VOCODERS
from tools.corpus_build.hygiene import (
    MIN_DURATION_S,
    NO_MASTERING,
    PEAK_LIMIT,
    SAMPLE_RATE,
    TARGET_LEVEL_DBFS,
    active_rms,
    cut_at_pause,
    set_level,
    trim_silence,
)
from tools.corpus_build.plan import candidate_jobs, language_matched_shares, quotas, split_names
from tools.corpus_build.presets import DEMO, LARGE, PRESETS
from tools.corpus_build.sources import Prompt

NAMES = [f"prompt-{i:03d}" for i in range(60)]


def fake_prompts(preset, names=NAMES) -> list[Prompt]:
    """Every source of ``preset`` reading every name (text long enough for TTS), 2-5 s long."""
    rng = np.random.default_rng(1)
    return [Prompt(s.speaker, s.lang, name, f"{s.lang} text of {name}, long enough to speak",
                   Path(f"/decoded/{s.folder}/{name}.wav"), float(rng.uniform(2.0, 5.0)), s.codec)
            for s in preset.sources for name in names]


@pytest.fixture(scope="module")
def large_plan():
    prompts = fake_prompts(LARGE)
    groups = candidate_jobs(LARGE, prompts, split_names(prompts))
    return prompts, groups, quotas(LARGE, groups)


def test_texts_never_cross_splits():
    prompts = fake_prompts(LARGE)
    name_split = split_names(prompts)
    counts = Counter(name_split.values())
    assert counts == {"train": 36, "val": 9, "test": 15}
    _, groups = prompts, candidate_jobs(LARGE, prompts, name_split)
    for (split, *_), jobs in groups.items():
        assert {name_split[job.name] for job in jobs} <= {split}


def test_test_only_speakers_and_systems_stay_in_test(large_plan):
    _, groups, _ = large_plan
    for (split, label, *rest), jobs in groups.items():
        if split == "test":
            continue
        assert not any(job.speaker in LARGE.test_only_speakers for job in jobs if job.source is not None)
        assert label == "bonafide" or rest[0] in LARGE.spoof_systems["train"]
    unseen = set(LARGE.spoof_systems["test"]) - set(LARGE.spoof_systems["train"])
    assert unseen == {"festival_hts", "festival_clunits", "piper", "world"}
    assert all(any(g[:3] == ("test", "spoof", s) and jobs for g, jobs in groups.items()) for s in unseen)


def test_every_candidate_path_is_unique(large_plan):
    _, groups, _ = large_plan
    paths = [job.path for jobs in groups.values() for job in jobs]
    assert len(paths) == len(set(paths))


def test_tts_clips_are_paired_with_the_prompt_they_speak(large_plan):
    prompts, groups, _ = large_plan
    tts = [job for jobs in groups.values() for job in jobs if job.label == "spoof" and job.system not in VOCODERS]
    assert tts
    for job in tts:
        # the file name ends with the speaker of the prompt it is paired with
        [prompt] = [p for p in prompts if (p.lang, p.name) == (job.lang, job.name)
                    and Path(job.path).stem.endswith("_" + p.speaker)]
        assert job.codec == prompt.codec and job.text == prompt.text
        assert job.target_s <= prompt.duration_s
        assert LARGE.target_duration_s[0] <= job.target_s <= LARGE.target_duration_s[1] or \
            job.target_s == prompt.duration_s


def test_each_voice_speaks_each_text_at_most_once(large_plan):
    _, groups, _ = large_plan
    per_system = {}
    for (split, label, *rest), jobs in groups.items():
        if label == "spoof" and rest[0] not in VOCODERS:
            per_system.setdefault((split, rest[0]), []).extend(jobs)
    assert per_system
    for (_split, system), jobs in per_system.items():
        pairs = Counter((job.voice, job.lang, job.text) for job in jobs)   # whatever channel it is paired with
        assert max(pairs.values()) == 1
        # every voice of the system speaks in this split
        assert {job.voice for job in jobs} == {v for _, v in LARGE.tts_voices[system]}


def test_vocoded_copies_keep_their_source_channel(large_plan):
    _, groups, _ = large_plan
    for (_split, label, *rest), jobs in groups.items():
        if label == "spoof" and rest[0] in VOCODERS:
            source_channel = {s.speaker + s.lang: s.codec for s in LARGE.sources}
            assert all(job.codec == source_channel[job.speaker + job.lang] for job in jobs)


def test_large_quotas_match_the_classes_language_by_language(large_plan):
    _, groups, wanted = large_plan
    for split in ("train", "val", "test"):
        for lang in ("en", "es", "fr", "it", "ru"):
            bonafide = sum(n for g, n in wanted.items() if g[:2] == (split, "bonafide") and g[-1] == lang)
            spoof = {g: n for g, n in wanted.items() if g[:2] == (split, "spoof") and g[-1] == lang}
            assert bonafide == sum(len(j) for g, j in groups.items() if g[:2] == (split, "bonafide") and g[-1] == lang)
            assert sum(spoof.values()) == round(LARGE.spoof_per_bonafide * bonafide) > 0
            assert all(n <= len(groups[g]) for g, n in spoof.items())
        totals = Counter()
        for g, n in wanted.items():
            if g[:2] == (split, "spoof"):
                totals[g[2]] += n
        assert set(totals) == set(LARGE.spoof_systems[split]) and min(totals.values()) > 0
    channels = Counter(job.codec for jobs in groups.values() for job in jobs if job.label == "bonafide")
    assert set(channels) == {"g722", "gsm", "pcm8k"}


def test_spoof_ratio_is_a_parameter():
    prompts = fake_prompts(LARGE)
    preset = dataclasses.replace(LARGE, spoof_per_bonafide=1.0)
    wanted = quotas(preset, candidate_jobs(preset, prompts, split_names(prompts)))
    for split in ("train", "val", "test"):
        per_label = Counter()
        for (s, label, *_), n in wanted.items():
            if s == split:
                per_label[label] += n
        assert per_label["spoof"] == per_label["bonafide"]


def test_demo_preset_keeps_its_fixed_quotas():
    prompts = fake_prompts(DEMO)
    wanted = quotas(DEMO, candidate_jobs(DEMO, prompts, split_names(prompts)))
    assert wanted[("train", "spoof", "espeak")] == DEMO.spoof_quota["train"]["espeak"]
    assert wanted[("test", "bonafide", "carlo", "it")] == DEMO.bonafide_quota["test"][("carlo", "it")]
    assert sum(wanted.values()) == 440
    assert set(PRESETS) == {"demo", "large", "wild"}


@given(st.dictionaries(st.sampled_from("abcd"), st.integers(0, 300), min_size=1),
       st.dictionaries(st.tuples(st.sampled_from(["s1", "s2", "s3"]), st.sampled_from("abcd")), st.integers(0, 200)))
def test_language_matched_shares_meet_each_languages_need_within_capacity(need, capacity):
    shares = language_matched_shares(need, capacity, ["s1", "s2", "s3"])
    assert all(0 <= n <= capacity[cell] for cell, n in shares.items())
    for lang, n in need.items():
        available = sum(c for (_, cell_lang), c in capacity.items() if cell_lang == lang)
        assert sum(v for (_, cell_lang), v in shares.items() if cell_lang == lang) == min(n, available)


def test_language_matched_shares_leave_english_to_the_english_only_engine():
    need = {"en": 100, "es": 100}
    capacity = {("espeak", "en"): 500, ("espeak", "es"): 500, ("flite", "en"): 500}
    shares = language_matched_shares(need, capacity, ["espeak", "flite"])
    # espeak keeps half of an even split of English; flite takes the rest
    assert shares == {("espeak", "en"): 25, ("espeak", "es"): 100, ("flite", "en"): 75}
    capacity[("flite", "en")] = 30   # flite runs out: espeak speaks the rest of the English
    shares = language_matched_shares(need, capacity, ["espeak", "flite"])
    assert shares == {("espeak", "en"): 70, ("espeak", "es"): 100, ("flite", "en"): 30}


def test_language_matched_shares_keep_multilingual_engines_in_every_language():
    # three engines speak everything, one only English: none of the three drops a language
    langs = ["en", "es", "fr", "it", "ru"]
    need = dict(zip(langs, (226, 394, 248, 214, 230)))
    capacity = {(s, lang): 1000 for s in ("espeak", "griffinlim", "lpc") for lang in langs}
    capacity[("flite", "en")] = 1000
    shares = language_matched_shares(need, capacity, ["espeak", "flite", "griffinlim", "lpc"])
    assert all(shares[(s, lang)] > 0 for s in ("espeak", "griffinlim", "lpc") for lang in langs)
    assert shares[("flite", "en")] > shares[("espeak", "en")]
    totals = Counter()
    for (s, _), n in shares.items():
        totals[s] += n
    assert sum(totals.values()) == sum(need.values())
    # the multilingual engines end level; flite holds every English clip they left it
    multilingual = ("espeak", "griffinlim", "lpc")
    assert max(totals[s] for s in multilingual) - min(totals[s] for s in multilingual) <= 1
    assert shares[("flite", "en")] == 226 - 3 * (226 // 4 // 2)


def _tone(seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * 220 * t)


def test_trim_silence_keeps_the_speech_and_a_short_pad():
    speech = _tone(1.0, 0.3)
    x = np.concatenate([np.zeros(SAMPLE_RATE), speech, np.zeros(SAMPLE_RATE)])
    y = trim_silence(x)
    assert 1.0 <= len(y) / SAMPLE_RATE <= 1.0 + 2 * 0.05 + 0.03
    assert np.abs(y).max() == pytest.approx(0.3, rel=1e-3)


def test_cut_at_pause_prefers_a_pause_in_the_last_half_second():
    x = np.concatenate([_tone(2.2, 0.3), np.zeros(int(0.1 * SAMPLE_RATE)), _tone(1.0, 0.3)])
    y = cut_at_pause(x, target_s=2.5)
    assert 2.2 <= len(y) / SAMPLE_RATE <= 2.3
    assert len(cut_at_pause(_tone(3.0, 0.3), target_s=2.5)) == int(2.5 * SAMPLE_RATE)
    assert len(cut_at_pause(_tone(1.5, 0.3), target_s=2.5)) == int(1.5 * SAMPLE_RATE)
    assert MIN_DURATION_S == 2.0


def test_set_level_reaches_the_active_rms_and_respects_the_peak():
    x = np.concatenate([_tone(1.0, 0.01), np.zeros(SAMPLE_RATE)])
    y = set_level(x, TARGET_LEVEL_DBFS, PEAK_LIMIT)
    assert 20 * np.log10(active_rms(y)) == pytest.approx(TARGET_LEVEL_DBFS, abs=0.01)
    spiky = x.copy()
    spiky[100] = 1.0
    assert np.abs(set_level(spiky, -3.0, PEAK_LIMIT)).max() == pytest.approx(PEAK_LIMIT)


def test_roc_auc_is_uninformative_without_both_classes():
    scores = np.array([0.1, 0.7, 0.3])
    assert roc_auc(scores, np.ones(3, dtype=bool)) == roc_auc(scores, np.zeros(3, dtype=bool)) == 0.5
    assert roc_auc(scores, np.array([False, True, False])) == 1.0


def test_audit_reports_a_planted_band_limit_shortcut_within_its_condition(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    lines = ["path,label,speaker,system,split,condition"]
    for i in range(24):
        label = "bonafide" if i % 2 else "spoof"
        x = 0.1 * rng.standard_normal(SAMPLE_RATE)
        if label == "bonafide":   # planted: bona fide band-limited, spoof full band
            x = np.convolve(x, np.ones(4) / 4, mode="same")
        sf.write(tmp_path / f"{i}.flac", x, SAMPLE_RATE)
        lines.append(f"{i}.flac,{label},s{i % 3},{'-' if label == 'bonafide' else 'tts'},train,gsm")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    report = audit_text(str(tmp_path / "manifest.csv"))
    overall = next(line for line in report.splitlines() if line.startswith("| AUC |")).split("|")[2:-1]
    assert float(overall[list(CUES).index("energy_above_4k")]) == 0.0   # perfect shortcut, spoof higher
    assert float(overall[list(CUES).index("duration_s")]) == 0.5
    gsm = next(line for line in report.splitlines() if line.startswith("| gsm |")).split("|")[2:-1]
    assert gsm[:2] == [" 12 ", " 12 "] and float(gsm[2 + list(CUES).index("rolloff95_hz")]) == 0.0


def test_festival_text_drops_typographic_quotes_without_leaving_lone_punctuation():
    from tools.corpus_build.generators import FESTIVAL_TEXT

    assert "при статусе «недоступен».".translate(FESTIVAL_TEXT) == "при статусе недоступен."
    assert "dell’utente “prova”".translate(FESTIVAL_TEXT) == "dell'utente prova"


def test_a_tts_candidate_without_audio_is_skipped_with_its_reason(tmp_path, monkeypatch):
    from tools.corpus_build import build
    from tools.corpus_build.generators import SynthesisError
    from tools.corpus_build.plan import Job

    def silent_engine(*args):
        raise SynthesisError("festival_clunits voice v wrote an empty file for 'x'")

    monkeypatch.setattr(build, "synthesize", silent_engine)
    job = Job("spoof/festival_clunits/a.flac", "spoof", "festival_v", "festival_clunits", "test", "ru", "a", "x",
              None, "v", 3.0, "g722")
    assert build._render_worker((job, tmp_path, tmp_path, NO_MASTERING)) == (
        job, None, "festival_clunits voice v wrote an empty file for 'x'")
    assert not (tmp_path / job.path).exists()


def test_spoof_need_rounds_the_split_total_not_each_language():
    from tools.corpus_build.plan import spoof_need

    bonafide = {"en": 11, "es": 11, "fr": 11, "it": 11, "ru": 10}   # 54 clips
    for ratio in (0.5, 1.5, 2.0):
        need = spoof_need(bonafide, ratio)
        assert sum(need.values()) == round(ratio * 54)
        assert all(abs(need[lang] - ratio * n) < 1 for lang, n in bonafide.items())


def test_a_language_no_engine_speaks_is_reported_short():
    from tools.corpus_build.plan import quota_shortfalls

    preset = dataclasses.replace(LARGE, tts_voices={**LARGE.tts_voices, "espeak": [("en", "en-us+f3")]},
                                 spoof_systems={split: ("espeak",) for split in ("train", "val", "test")},
                                 spoof_per_bonafide=1.0)   # one English voice covers exactly the English
    prompts = fake_prompts(preset)
    wanted = quotas(preset, candidate_jobs(preset, prompts, split_names(prompts)))
    lines = quota_shortfalls(preset, wanted)
    assert any(line.startswith("train es: 0 spoof clips planned of the") for line in lines)
    assert not any(" en:" in line for line in lines)
    assert quota_shortfalls(LARGE, quotas(LARGE, candidate_jobs(LARGE, fake_prompts(LARGE),
                                                                split_names(fake_prompts(LARGE))))) == []


def test_a_preset_fixes_both_quotas_or_neither():
    with pytest.raises(ValueError, match="give both bonafide_quota and spoof_quota, or neither"):
        dataclasses.replace(DEMO, spoof_quota=None)
