"""What to build: the small built-in demo corpus and the larger multi-speaker research corpus.

A preset names the bona fide sources, the speech generators and their voices,
which speakers and systems are held out for test, the clip lengths, and how
many clips each split gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.corpus_build.hygiene import NO_MASTERING, Mastering
from tools.corpus_build.sources import Source

SPLIT_FRACTIONS = {"train": 0.60, "val": 0.15, "test": 0.25}


@dataclass(frozen=True)
class Preset:
    """A corpus recipe.

    ``bonafide_quota``: split -> {(speaker, lang): clips}, or None to take every
    prompt of the split. ``spoof_systems``: split -> systems made for that split
    (a system absent from train/val is unseen in test). ``spoof_quota``:
    split -> {system: clips}, or None to give each split and language
    ``spoof_per_bonafide`` times as many spoof clips as bona fide ones, shared over
    the systems that speak it (``plan.language_matched_shares``). ``tts_voices``: system ->
    [(language, engine voice)]. ``target_duration_s``: each clip is cut to a
    length drawn uniformly from this range (seconds). ``pair_tts_with_prompt``: a
    TTS clip is paired with the real prompt whose text it speaks: it is cut no
    longer than that prompt (so the classes' durations match), and its file name
    names that prompt's speaker (two speakers may share a text; the channel codec
    always follows the prompt). ``extra_fields``: manifest columns beyond the
    basic six (``condition`` = the clip's channel codec, ``language``).
    """

    name: str
    sources: tuple[Source, ...]
    test_only_speakers: tuple[str, ...]
    spoof_systems: dict[str, tuple[str, ...]]
    tts_voices: dict[str, list[tuple[str, str]]]
    target_duration_s: tuple[float, float]
    bonafide_quota: dict[str, dict[tuple[str, str], int]] | None = None
    spoof_quota: dict[str, dict[str, int]] | None = None
    pair_tts_with_prompt: bool = False
    spoof_per_bonafide: float = 1.0

    def __post_init__(self) -> None:
        # Fixed bona fide quotas with ratio-based spoof quotas would plan spoofs for groups
        # nobody renders; the presets fix both or neither.
        if (self.bonafide_quota is None) != (self.spoof_quota is None):
            raise ValueError(f"preset {self.name!r}: give both bonafide_quota and spoof_quota, or neither")
    extra_fields: tuple[str, ...] = ()
    # The `wild` preset: minutes of recordings taken per bona fide source (``wild_prompts.choose``),
    # and sources whose every clip is in test.
    bonafide_minutes: dict[str, float] | None = None
    test_only_sources: tuple[str, ...] = ()
    mastering: Mastering = NO_MASTERING


CORE_SOURCES = (
    Source("asterisk-core-sounds-en-g722", "en_US_f_Allison", "allison", "en", "g722", ".g722"),
    Source("asterisk-core-sounds-es-g722", "es_MX_f_Allison", "allison", "es", "g722", ".g722"),
    Source("asterisk-core-sounds-fr-g722", "fr_CA_f_June", "june", "fr", "g722", ".g722"),
    Source("asterisk-core-sounds-it-g722", "it_IT_m_Carlo", "carlo", "it", "g722", ".g722"),
    Source("asterisk-core-sounds-ru-g722", "ru_RU_f_IvrvoiceRU", "ivrvoice_ru", "ru", "g722", ".g722"),
)
# The 8 kHz prompt packages: three more speakers, on narrowband channels.
NARROWBAND_SOURCES = (
    Source("asterisk-prompt-it-menardi-wav", "it_IT_f_Menardi", "paola", "it", "pcm8k", ".wav"),
    Source("asterisk-prompt-es-co", "es", "july", "es", "gsm", ".gsm"),
    Source("asterisk-prompt-fr-armelle", "fr", "armelle", "fr", "gsm", ".gsm"),
)

DEMO_SPOOF_QUOTA = {
    "train": {"espeak": 28, "flite": 26, "festival_diphone": 26, "griffinlim": 26, "lpc": 26},
    "val": {"espeak": 7, "flite": 6, "festival_diphone": 6, "griffinlim": 7, "lpc": 7},
    "test": {"espeak": 6, "flite": 4, "festival_diphone": 4, "griffinlim": 4, "lpc": 4,
             "festival_hts": 11, "world": 11, "piper": 11},
}

DEMO = Preset(
    name="demo",
    sources=CORE_SOURCES,
    test_only_speakers=("carlo",),
    spoof_systems={split: tuple(quota) for split, quota in DEMO_SPOOF_QUOTA.items()},
    tts_voices={
        "espeak": [("en", "en-us+f3"), ("en", "en-gb-x-rp+m3"), ("es", "es+f2"), ("fr", "fr-fr+m1"),
                   ("it", "it+f4"), ("ru", "ru+m2")],
        "flite": [("en", "slt"), ("en", "awb"), ("en", "rms"), ("en", "kal16")],
        "festival_diphone": [("en", "kal_diphone"), ("en", "ked_diphone")],
        "festival_hts": [("en", "cmu_us_slt_arctic_hts")],
        "piper": [("en", "en_US-joe-medium")],
    },
    target_duration_s=(2.0, 2.5),
    bonafide_quota={
        "train": {("allison", "en"): 36, ("allison", "es"): 30, ("june", "fr"): 33, ("ivrvoice_ru", "ru"): 33},
        "val": {("allison", "en"): 9, ("allison", "es"): 8, ("june", "fr"): 8, ("ivrvoice_ru", "ru"): 8},
        "test": {("carlo", "it"): 27, ("allison", "en"): 7, ("allison", "es"): 7, ("june", "fr"): 7,
                 ("ivrvoice_ru", "ru"): 7},
    },
    spoof_quota=DEMO_SPOOF_QUOTA,
)

SEEN_SYSTEMS = ("espeak", "flite", "festival_diphone", "griffinlim", "lpc")
LARGE = Preset(
    name="large",
    sources=CORE_SOURCES + NARROWBAND_SOURCES,
    # One wideband and one narrowband speaker never seen in training.
    test_only_speakers=("carlo", "armelle"),
    spoof_systems={"train": SEEN_SYSTEMS, "val": SEEN_SYSTEMS,
                   "test": SEEN_SYSTEMS + ("festival_hts", "festival_clunits", "piper", "world")},
    tts_voices={
        "espeak": [("en", "en-us+f3"), ("en", "en-gb-x-rp+m3"), ("es", "es+f2"), ("es", "es-419+m3"),
                   ("fr", "fr-fr+m1"), ("fr", "fr-be+f2"), ("it", "it+f4"), ("it", "it+m5"),
                   ("ru", "ru+m2"), ("ru", "ru+f3")],
        "flite": [("en", "slt"), ("en", "awb"), ("en", "rms"), ("en", "kal16")],
        "festival_diphone": [("en", "kal_diphone"), ("en", "ked_diphone"), ("it", "lp_diphone"),
                             ("it", "pc_diphone")],
        "festival_hts": [("en", "cmu_us_slt_arctic_hts")],
        "festival_clunits": [("ru", "msu_ru_nsh_clunits")],
        "piper": [("en", "en_US-joe-medium")],
    },
    target_duration_s=(2.0, 4.0),
    pair_tts_with_prompt=True,
    # 1,400 usable prompts: two spoofs for each makes a corpus of about 4,200 clips
    # (``detector prepare --balance`` undersamples it to a balanced set).
    spoof_per_bonafide=2.0,
    extra_fields=("condition", "language"),
)

# espeak-ng's voice for each language the `wild` sources speak (a language missing here has no
# espeak voice: its clips get a second vocoded copy instead of a TTS one).
ESPEAK_LANGUAGES = {"ar": "ar", "be": "be", "bg": "bg", "ca": "ca", "cs": "cs", "da": "da", "de": "de", "el": "el",
                    "en": "en-us", "es": "es", "fi": "fi", "fr": "fr-fr", "ga": "ga", "he": "he", "hu": "hu",
                    "id": "id", "it": "it", "lt": "lt", "ml": "ml", "nb": "nb", "nl": "nl", "nn": "nb", "pl": "pl",
                    "pt": "pt", "ro": "ro", "ru": "ru", "sk": "sk", "sl": "sl", "sr": "sr", "sv": "sv", "tn": "tn",
                    "uk": "uk"}
WILD_SEEN = ("espeak", "flite", "festival_diphone", "griffinlim", "lpc")
WILD = Preset(
    name="wild",
    sources=CORE_SOURCES + NARROWBAND_SOURCES,
    # Test-only voices of sources that train also hears, and two whole sources (below).
    test_only_speakers=("carlo", "armelle", "tuxpaint_ro", "ktuberling_sl", "klettres_cs", "hedgewars_Pirate"),
    test_only_sources=("queen", "kajongg"),
    spoof_systems={"train": WILD_SEEN, "val": WILD_SEEN,
                   "test": WILD_SEEN + ("festival_hts", "festival_clunits", "piper", "world", "rhvoice", "gnuspeech")},
    tts_voices={
        "espeak": [(lang, f"{voice}+{variant}") for lang, voice in ESPEAK_LANGUAGES.items()
                   for variant in ("f3", "m3")],
        "flite": LARGE.tts_voices["flite"],
        "festival_diphone": LARGE.tts_voices["festival_diphone"],
        "festival_hts": LARGE.tts_voices["festival_hts"],
        "festival_clunits": LARGE.tts_voices["festival_clunits"],
        "piper": LARGE.tts_voices["piper"],
        # The voices under free licences (LGPL, CC BY-SA; rhvoice.FREE_VOICES), none NC or ND.
        "rhvoice": [("en", "alan"), ("en", "bdl"), ("en", "clb"), ("en", "slt"), ("ru", "aleksandr"),
                    ("ru", "anna"), ("ru", "elena"), ("ru", "irina")],
        "gnuspeech": [("en", "male"), ("en", "female")],
    },
    target_duration_s=(2.5, 6.0),
    pair_tts_with_prompt=True,
    spoof_per_bonafide=2.0,
    extra_fields=("condition", "language", "source"),
    # Home recordings bring hum and DC, generators (LPC's pulse train) DC and peaky waveforms: both
    # classes are high-passed at 70 Hz and peak-limited at -9 dBFS, 14 dB above their loudness.
    # TTS pauses are digital silence: each TTS clip gets its paired real clip's room tone.
    mastering=Mastering(highpass_hz=70.0, peak_dbfs=-9.0, room_tone=True),
    # Minutes of shipped recordings per source: about 2.2 h of bona fide clips after trimming and
    # cutting, so 6.5 h with two spoofs each.
    bonafide_minutes={"asterisk": 28, "tuxpaint": 42, "klettres": 22, "ktuberling": 22, "hedgewars": 13,
                      "warzone": 11, "kajongg": 5, "sky": 23, "queen": 22},
)

PRESETS = {preset.name: preset for preset in (DEMO, LARGE, WILD)}
