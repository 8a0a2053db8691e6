"""The `wild` preset's stages on small synthetic inputs: channels, readers, choosing, joining, pairing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tools.corpus_build.hygiene import SAMPLE_RATE, channel_name, codec_roundtrip, parse_channel
from tools.corpus_build.pairing import CHARS_PER_S, tts_text, wild_jobs
from tools.corpus_build.presets import WILD
from tools.corpus_build.wild_prompts import WildPrompt, choose, decode_all, join
from tools.corpus_build.wild_sources import Recording, hedgewars, kajongg, tuxpaint, warzone


def _tone(seconds: float, rate: int = 44100) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))


def _write_ogg(path: Path, seconds: float, rate: int = 44100) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, _tone(seconds, rate), rate, format="OGG", subtype="VORBIS")


def test_channel_names_round_trip_and_reject_unknown_formats():
    assert channel_name("vorbis", 44100, 128) == "vorbis-44100-128k"
    assert parse_channel("vorbis-44100-128k") == ("vorbis", 44100, 128)
    assert parse_channel("u8-11025") == ("u8", 11025, None)
    for bad in ("flac-44100", "vorbis-x-128k", "u8"):
        with pytest.raises(ValueError, match="unknown channel"):
            parse_channel(bad)
    with pytest.raises(ValueError, match="unknown channel format"):
        channel_name("wma", 44100)


def test_pcm_channels_code_at_the_source_rate_and_depth():
    """8-bit 11,025 Hz (the Steel Sky channel): the spoof loses what the game's clips lost."""
    rng = np.random.default_rng(0)
    x = 0.2 * rng.standard_normal(SAMPLE_RATE)
    y = codec_roundtrip(x, "u8-11025")
    assert abs(len(y) - len(x)) <= 2
    spectrum = np.abs(np.fft.rfft(y[: len(x)])) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    assert spectrum[freqs > 6000].sum() < 1e-3 * spectrum.sum()   # nothing above the 5.5 kHz Nyquist
    noise = y[200:-200] - codec_roundtrip(x, "pcm16-11025")[200:-200]
    assert 1e-3 < np.std(noise) < 1e-2   # 8-bit quantisation noise (step 1/128), not 16-bit


def test_readers_take_speech_and_leave_out_processed_voices(tmp_path):
    stamps = tmp_path / "usr/share/tuxpaint/stamps/animals"
    (stamps).mkdir(parents=True)
    (stamps / "frog.txt").write_text("A frog.\nfr.utf8=Une grenouille.\nde.utf8=Ein Frosch.\n", encoding="utf-8")
    _write_ogg(stamps / "frog_desc.ogg", 1.0)
    _write_ogg(stamps / "frog_desc_fr.ogg", 1.2)
    _write_ogg(stamps / "frog.ogg", 1.0)   # the stamp's sound effect, not a description
    voices = tmp_path / "usr/share/games/hedgewars/Data/Sounds/voices"
    _write_ogg(voices / "Default_pl" / "Hello.ogg", 0.8)
    _write_ogg(voices / "Robot" / "Hello.ogg", 0.8)
    calls = tmp_path / "usr/share/kajongg/voices"
    _write_ogg(calls / "male1" / "b1.ogg", 0.5)
    _write_ogg(calls / "de" / "female1" / "b1.ogg", 0.5)

    tux = {(r.lang, r.text) for r in tuxpaint(tmp_path)}
    assert tux == {("en", "A frog."), ("fr", "Une grenouille.")}
    assert {r.name for r in tuxpaint(tmp_path)} == {"tuxpaint/animals/frog"}   # one text id for both languages
    assert [(r.speaker, r.lang) for r in hedgewars(tmp_path)] == [("hedgewars_Default_pl", "pl")]
    assert sorted((r.speaker, r.lang) for r in kajongg(tmp_path)) == [("kajongg_de_female1", "de"),
                                                                      ("kajongg_en_male1", "en")]
    assert all(r.channel.startswith("vorbis-44100-") for r in tuxpaint(tmp_path))


def test_warzone_reads_speech_members_and_leaves_out_nexus(tmp_path):
    ogg = tmp_path / "line.ogg"
    _write_ogg(ogg, 1.0, rate=22050)
    archive = tmp_path / "usr/share/games/warzone2100/base.wz"
    archive.parent.mkdir(parents=True)
    with zipfile.ZipFile(archive, "w") as wz:
        for member in ("audio/tutorial/t1.ogg", "audio/nexus/n1.ogg", "audio/sfx/weapons/gun.ogg",
                       "sequenceaudio/nexend.ogg", "sequenceaudio/res_pow.ogg"):
            wz.write(ogg, member)
    assert [r.member for r in warzone(tmp_path)] == ["audio/tutorial/t1.ogg", "sequenceaudio/res_pow.ogg"]
    assert warzone(tmp_path)[0].channel.startswith("vorbis-22050-")


def _recording(speaker: str, name: str, seconds: float, channel: str = "vorbis-44100-128k") -> Recording:
    return Recording("src", speaker, "en", name, name.split("/")[-1], f"{speaker}/{name}.ogg", "", channel, seconds)


def test_choose_takes_every_speaker_in_turn_up_to_the_budget():
    recordings = [_recording(f"s{i}", f"t/{i}-{j}", 2.0) for i in range(3) for j in range(50)]
    chosen = choose(recordings, budget_min=1.0, key="src")
    assert sum(r.duration_s for r in chosen) == pytest.approx(60.0)
    counts = {s: sum(r.speaker == s for r in chosen) for s in ("s0", "s1", "s2")}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert choose(recordings, 1.0, "src") == chosen   # seeded


def test_join_makes_clips_of_short_recordings_per_speaker_and_channel(tmp_path, monkeypatch):
    """Short words are joined in text order until the clip reaches its target; a long one starting a
    clip stays alone; different channels are never joined; a remainder too short for a clip is dropped."""
    recordings = ([_recording("a", f"w/{i:02d}", 0.8) for i in range(7)] + [_recording("a", "w/long", 3.5)]
                  + [_recording("a", "w/zz-alone", 2.2)] + [_recording("a", "w/other", 0.8, channel="pcm16-8000")])
    for rec in recordings:
        path = tmp_path / rec.path
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _tone(rec.duration_s, 16000), 16000, format="WAV", subtype="PCM_16")
    monkeypatch.setattr("tools.corpus_build.wild_prompts.decode_file",
                        lambda path, channel: sf.read(path, dtype="float64")[0])
    monkeypatch.setattr("tools.corpus_build.wild_prompts.trim_silence", lambda x: x)
    decode_all(tmp_path, recordings, tmp_path / "scratch", workers=1)
    clips = join(recordings, lambda rec: "train", lambda key: 2.5, tmp_path / "scratch")
    # 00-03 (3.2 s); 04-06 (2.4 s) + long; zz-alone (2.2 s: a clip by itself though short of its target)
    assert [clip.parts for clip in clips] == [4, 4, 1]
    joined = [clip for clip in clips if clip.parts > 1]
    assert all(clip.duration_s >= 2.5 for clip in joined)
    assert joined[0].text == "00 01 02 03" and joined[0].name == "w/00"
    assert sf.info(joined[0].wav).duration == pytest.approx(joined[0].duration_s, abs=1e-3)
    assert all(clip.codec == "vorbis-44100-128k" for clip in clips)   # the lone 8 kHz word is dropped


def _prompt(lang: str, seconds: float, split: str = "train", text: str = "", codec: str = "u8-11025") -> WildPrompt:
    return WildPrompt(f"spk_{lang}", lang, f"t/{lang}{seconds}", text, Path("x.wav"), seconds, codec, "src", split, 1)


def test_every_clip_gets_two_spoofs_on_its_own_channel():
    prompts = [_prompt("en", 3.0, text="Hello there."), _prompt("xx", 4.0), _prompt("en", 5.0, split="test")]
    pools = {("train", "en"): ["A frog.", "The bird sings in the morning."], ("test", "en"): ["A cat."]}
    jobs = wild_jobs(prompts, WILD.spoof_systems, WILD.tts_voices, pools, target_s=lambda key: 4.5)
    for prompt in prompts:
        mine = [job for job in jobs if job.name == prompt.name]
        assert [job.label for job in mine] == ["bonafide", "spoof", "spoof"]
        assert {job.codec for job in mine} == {prompt.codec} and {job.origin for job in mine} == {"src"}
        assert {job.split for job in mine} == {prompt.split}
        assert all(job.target_s == min(prompt.duration_s, 4.5) for job in mine)
        assert all(job.system in WILD.spoof_systems[prompt.split] for job in mine[1:])
    xx = [job.system for job in jobs if job.name == "t/xx4.0"][1:]
    assert len(set(xx)) == 2 and all(s in ("griffinlim", "lpc") for s in xx)   # no TTS speaks "xx"
    en_tts = [job for job in jobs if job.name == "t/en3.0" and job.label == "spoof"
              and job.system not in ("griffinlim", "lpc", "world")]
    assert en_tts[0].text.startswith("Hello there.") and en_tts[0].lang == "en"


def test_tts_text_is_lengthened_to_the_clip_from_the_pool():
    pool = [f"Sentence number {i}." for i in range(20)]
    text = tts_text(_prompt("en", 4.0, text="Hi."), pool)
    assert text.startswith("Hi.") and len(text) >= CHARS_PER_S * 4.0
    assert tts_text(_prompt("en", 4.0, text="Hi."), []) == "Hi."


def test_corpus_tables_count_clips_per_split_source_and_channel(tmp_path):
    from tools.corpus_build.tables import corpus_tables

    lines = ["path,label,speaker,system,split,duration_s,condition,language,source"]
    for i, (split, label, system, channel) in enumerate([("train", "bonafide", "-", "u8-11025"),
                                                         ("train", "spoof", "lpc", "u8-11025"),
                                                         ("train", "spoof", "espeak", "u8-11025"),
                                                         ("test", "bonafide", "-", "g722"),
                                                         ("test", "spoof", "world", "g722")]):
        speaker = "sky" if channel == "u8-11025" else "allison"
        lines.append(f"c{i}.flac,{label},{speaker},{system},{split},30.0,{channel},en,"
                     f"{'sky' if speaker == 'sky' else 'asterisk'}")
    (tmp_path / "manifest.csv").write_text("\n".join(lines) + "\n")
    text = corpus_tables(str(tmp_path / "manifest.csv"))
    assert "5 clips, 0.04 h of audio" in text
    assert "| `sky` | 1 | en | 1 | 0 | 0 | 0.5 |" in text          # source table: speakers, languages, splits
    assert "| `u8-11025` | 1 | 2 | 2.00 |" in text and "| `g722` | 1 | 1 | 1.00 |" in text


def test_mastering_removes_dc_and_limits_peaks_without_clipping():
    from tools.corpus_build.hygiene import highpass, limit_peaks

    rng = np.random.default_rng(1)
    x = 0.05 * rng.standard_normal(SAMPLE_RATE) + 0.02
    x[8000] = 0.9   # one click
    y = highpass(x, 70.0)
    assert abs(y[1000:-1000].mean()) < 1e-4
    z = limit_peaks(x, 0.3)
    assert np.abs(z).max() <= 0.3 + 1e-12
    far = np.r_[0:7000, 9000:len(x)]
    assert np.array_equal(z[far], x[far])   # the gain is eased only near the peak
    assert np.sum(np.abs(z) > 0.3 - 1e-9) == 1   # the click meets the ceiling; nothing is flattened beside it


def test_an_interrupted_build_keeps_its_finished_clips(tmp_path):
    """render() reuses a clip already written by a run of the same build; build_id names the build."""
    from tools.corpus_build.build import build_id, render
    from tools.corpus_build.plan import Job
    from tools.corpus_build.presets import LARGE

    assert build_id(WILD) == build_id(WILD) != build_id(LARGE)
    done = tmp_path / "bonafide" / "a.flac"
    done.parent.mkdir()
    sf.write(done, np.zeros(40000), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    # A job whose source does not exist: rendering it would fail, so a result proves the reuse.
    job = Job("bonafide/a.flac", "bonafide", "s", "-", "train", "en", "n", "", tmp_path / "missing.wav", "", 3.0,
              "g722")
    assert render(job, tmp_path, tmp_path) == pytest.approx(2.5)
    assert not list(tmp_path.rglob("*.part"))


def test_asterisk_prompts_are_read_with_their_text_and_length_without_decoding(tmp_path):
    import gzip

    from tools.corpus_build.sources import SOUNDS, Source
    from tools.corpus_build.wild_sources import asterisk

    doc = tmp_path / "usr/share/doc/asterisk-core-sounds-en"
    doc.mkdir(parents=True)
    with gzip.open(doc / "core-sounds-en.txt.gz", "wt", encoding="utf-8") as f:
        f.write("vm-goodbye: Goodbye.\ndigits/1: one\nbeep: [tone]\n")
    folder = tmp_path / SOUNDS / "en"
    (folder / "digits").mkdir(parents=True)
    for name in ("vm-goodbye", "digits/1", "beep"):
        (folder / f"{name}.g722").write_bytes(bytes(12000))
    recordings = asterisk(tmp_path, (Source("pkg", "en", "allison", "en", "g722", ".g722"),))
    assert [(r.name, r.text, r.channel, r.speaker) for r in recordings] == [
        ("asterisk/vm-goodbye", "Goodbye.", "g722", "allison")]   # digits skipped, annotated text dropped
    assert recordings[0].duration_s == pytest.approx(1.5)   # 12,000 bytes of 64 kbit/s G.722


def test_room_tone_gives_clean_speech_the_real_clips_background_at_its_level():
    from tools.corpus_build.hygiene import active_rms, add_room_tone, frame_db

    rng = np.random.default_rng(2)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    envelope = (np.sin(2 * np.pi * 1.0 * t) > 0).astype(float)       # speech bursts and pauses
    recording = 0.1 * envelope * np.sin(2 * np.pi * 300 * t) + 0.001 * rng.standard_normal(len(t))
    clean = 0.2 * envelope * np.sin(2 * np.pi * 500 * t)            # digital silence in its pauses
    y = add_room_tone(clean, recording, seed=0)
    pauses = envelope == 0
    ratio_real = np.std(recording[pauses]) / active_rms(recording)
    ratio_tts = np.std(y[pauses]) / active_rms(clean)
    assert ratio_tts == pytest.approx(ratio_real, rel=0.1)          # same noise-to-speech level
    assert np.percentile(frame_db(y), 5) > np.percentile(frame_db(clean), 5) + 40


def test_a_shipped_coding_no_channel_reproduces_is_an_error_naming_the_file(tmp_path):
    from tools.corpus_build.wild_sources import file_channel

    path = tmp_path / "word.flac"
    sf.write(path, _tone(0.5, 16000), 16000, format="FLAC", subtype="PCM_24")
    with pytest.raises(ValueError, match="word.flac: PCM_24 audio has no channel"):
        file_channel(path, sf.info(str(path)))
    wav = tmp_path / "word.wav"
    sf.write(wav, _tone(0.5, 8000), 8000, subtype="PCM_16")
    assert file_channel(wav, sf.info(str(wav))) == "pcm16-8000"
