"""The condition language without torch: its grammar, the study's conditions and the family table.

``detector conditions`` and every ``--help`` read this module, so it imports nothing heavy; the
parser and the attacks live in :mod:`.catalogue` and :mod:`.families`. :data:`FAMILY_TABLE`
repeats each registered family's example and parameters (its keys' ``describe()``) and adds
what the family does; tests/launder/test_launder_language.py checks it against the registry, and
prints the rows to paste when a family changes.
"""
from __future__ import annotations

import textwrap
from typing import NamedTuple

VALUE_GRAMMAR = "a number '10', a range 'lo..hi' (uniform per example) or alternatives 'a|b|c' (one per example)"

_VALUES = textwrap.fill(f"{VALUE_GRAMMAR}; a word value (the noise type) is a word or alternatives 'white|pink'",
                        width=99, initial_indent=" " * 11, subsequent_indent=" " * 11).lstrip()
GRAMMAR = f"""\
A condition is family[:arg][:key=value]...
  family   one of the families below; 'clean' is the audio unchanged
  arg      shorthand for the family's main key: resample:8000 means resample:rate=8000
  value    {_VALUES}
Conditions never contain ','; --conditions takes several, comma-separated or by repeating the flag,
and three keywords: all = clean + the study's 29 conditions, study = the 29, asvspoof5 = clean +
the codecs of ASVspoof 5's evaluation set that can be made offline (listed below).
The training chain (--launder, [train] launder) is 'p=P; condition; condition; ...': per clip, with
probability P (default 1), one of its conditions, else the clip unchanged; a condition's optional
':w=W' key gives its relative odds (default 1); 'off' = no laundering."""


class FamilyHelp(NamedTuple):
    """One laundering family as the help shows it."""

    name: str
    parameters: str   # the registry's Family.describe(): each key, its range and unit, its default
    example: str
    effect: str       # what it does to the audio


FAMILY_TABLE: tuple[FamilyHelp, ...] = (
    FamilyHelp("clean", "", "clean", "nothing: the audio unchanged (the reference condition)"),
    FamilyHelp("noise", "type: white|pink|brown|babble|cafe|street|volvo; snr: -50..100 dB",
               "noise:babble:snr=10..10.5",
               "adds a crop of a noise recording (or a built-in substitute) at a per-example SNR"),
    FamilyHelp("reverb", "rt60: 0.01..5 s; model: auto|study|shoebox|synthetic|measured, default auto (auto: "
                         "study for fixed RT60s, synthetic for a range; study: the laundered-ASVspoof study's room "
                         "by its recipe verbatim, one response per RT60, measured T20 longer than the name (0.68 s "
                         "for 0.6, 1.08 s for 0.9); shoebox: that room calibrated to the named T20, jittered "
                         "positions (8 per RT60), for training; synthetic: exponential-decay noise, any RT60 range; "
                         "measured: --rir-dir responses); drr: -40..40 dB, default -10",
               "reverb:rt60=0.3", "convolves with a room impulse response of the given reverberation time"),
    FamilyHelp("resample", "rate: 1000..384000 Hz, integer, fixed or alternatives only", "resample:8000|11025",
               "resamples to the rate and back to the model's rate (band-limits the audio)"),
    FamilyHelp("lowpass", "cutoff: 10..192000 Hz; order: 1..12 , integer, fixed or alternatives only, default 5",
               "lowpass:7000", "Butterworth low-pass filter at the cutoff"),
    FamilyHelp("mp3", "bitrate: 8..320 kbit/s, fixed or alternatives only", "mp3:128k",
               "real MP3 encode/decode round trip (libsndfile), once per clip on the host"),
    FamilyHelp("vorbis", "level: 0..1 (libsndfile compression level, 0 = best), fixed or alternatives only",
               "vorbis:0.5", "real Ogg Vorbis encode/decode round trip, once per clip on the host"),
    FamilyHelp("opus", "level: 0..1 (libsndfile compression level, 0 = best), fixed or alternatives only",
               "opus:0.5", "real Opus encode/decode round trip, once per clip on the host"),
    FamilyHelp("codec", "codec: aac|amr|g722|gsm|mulaw|alaw|mp3|opus|speex|amrwb|encodec (speex, amrwb, encodec: "
                        "missing, no encoder offline; asking says why); bitrate: 2..320 kbit/s, fixed or alternatives "
                        "only; rate: 7350..96000 Hz (encoder rate, aac and opus), integer, fixed or alternatives only",
               "codec:aac:32k",
               "real codec encode/decode round trip, once per clip on the host, output aligned with the input: "
               "aac (AAC-LC, as in M4A) 8..128k, amr (AMR-NB) 4.75|5.15|5.9|6.7|7.4|7.95|10.2|12.2k, g722 (64k), "
               "gsm (GSM 06.10, 13k), mulaw and alaw (G.711, 64k), opus 2..256k (PyAV's FFmpeg; gsm libsndfile's); "
               "mp3 as the mp3 family; AMR-NB, GSM and G.711 run at 8 kHz, G.722 at 16 kHz, resampled there and "
               "back; rate= sets AAC's or Opus's encoder rate (codec:opus:8k:rate=8000: narrow-band)"),
    FamilyHelp("clip", "level: 0.01..1 x peak", "clip:0.5", "hard clipping at a fraction of each clip's peak"),
    FamilyHelp("codecsim", "step: 0.1..40 dB, default 6; cutoff: 100..96000 Hz, default 7000",
               "codecsim:step=3..12:cutoff=4000..8000",
               "codec-like degradation on the device for training: spectral quantisation and a low-pass "
               "(not a real codec)"),
    FamilyHelp("colored", "snr: -50..100 dB, default 3..30; decay: -6..6 (power ~ 1/f^decay), default -2..2",
               "colored:snr=3..30:decay=-2..2", "adds noise whose power falls as 1/f^decay, at a per-example SNR"),
    FamilyHelp("gain", "db: -60..60 dB", "gain:-6..6", "changes the level (then peak-limited to [-1, 1])"),
    FamilyHelp("mulaw", "", "mulaw", "8-bit mu-law companding round trip (G.711 quantisation)"),
    FamilyHelp("polarity", "p: 0..1 probability, fixed or alternatives only, default 1", "polarity:p=0.5",
               "inverts the polarity with probability p per example"),
    FamilyHelp("rawboost", "algo: 1..8 (1 convolutive, 2 impulsive, 3 coloured noise; series: 4 = 1+2+3, 5 = 1+2, 6 "
                           "= 1+3, 7 = 2+3; 8 = 1 and 2 in parallel), integer, fixed or alternatives only; bands: "
                           "1..20 notch bands per filter, integer, fixed or alternatives only, default 5; fc: "
                           "0..96000 Hz band centre, default 20..8000; bw: 1..96000 Hz band width, default "
                           "100..1000; coeffs: 1..400 taps per band, made odd, integer, default 10..100; gain: "
                           "-40..40 dB linear gain, default 0; bias: 0..60 dB linear minus non-linear gain, default "
                           "5..20; nf: 1..10 (powers of the signal filtered, N_f), integer, fixed or alternatives "
                           "only, default 5; p: 0..100 % of samples at most, fixed or alternatives only, default 10; "
                           "gsd: 0..100 (impulse gain g_sd), default 2; snr: -50..100 dB, default 10..40",
               "rawboost:4",
               "RawBoost (Tak et al., ICASSP 2022), batched: 1 linear and non-linear convolutive noise (notch "
               "filter cascades on powers of the signal), 2 impulsive signal-dependent noise, 3 coloured "
               "additive noise at an SNR; 4-7 in series, 8 = 1 and 2 in parallel, as the authors' code"),
    FamilyHelp("shift", "fraction: -1..1 x length, default -0.5..0.5", "shift:-0.5..0.5",
               "circular time shift by a fraction of the length"),
    FamilyHelp("telephone", "", "telephone",
               "narrow-band telephone channel: 300-3400 Hz band-pass, 8 kHz round trip, mu-law"),
)

# The laundered ASVspoof 2019 LA study's 29 conditions (Ali et al., 2024), by family, plus clean.
# Reverb is the study's room by its recipe (model=study, the default for fixed RT60s); noise
# SNRs are drawn from [s, s + 0.5] dB as in the study.
STUDY_CONDITIONS: tuple[str, ...] = (
    *(f"reverb:rt60={rt60}" for rt60 in ("0.3", "0.6", "0.9")),
    *(f"noise:{kind}:snr={snr}..{snr}.5" for kind in ("babble", "cafe", "street", "volvo", "white")
      for snr in (0, 10, 20)),
    *(f"resample:{rate}" for rate in (8000, 11025, 22050, 44100)),
    *(f"mp3:{rate}k" for rate in (16, 64, 128, 196, 256, 320)),
    "lowpass:7000",
)
CATALOGUE_ALL: tuple[str, ...] = ("clean", *STUDY_CONDITIONS)

# ASVspoof 5's evaluation set (Wang et al., 2024) codes its trials with codec conditions C01-C11, each at
# up to 5 quality levels (its protocol's CODEC and CODEC_Q columns); the rest stay uncoded. The codecs
# that can be made offline, at the lowest and highest bitrate of each condition's range; ASVSPOOF5_MISSING
# names the others. MP3's 45 and 260 kbit/s are not MPEG layer III bitrates: 48k and 256k are.
ASVSPOOF5_SET: tuple[tuple[str, str], ...] = (
    ("clean", "uncoded trials"),
    ("codec:opus:6k", "C01 Opus wide-band, 6-30 kbit/s"),
    ("codec:opus:30k", "C01"),
    ("codec:mp3:48k", "C05 MP3, 45-260 kbit/s"),
    ("codec:mp3:256k", "C05"),
    ("codec:aac:16k", "C06 M4A (AAC), 16-128 kbit/s"),
    ("codec:aac:128k", "C06"),
    ("codec:opus:4k:rate=8000", "C08 Opus narrow-band, 4-20 kbit/s"),
    ("codec:opus:20k:rate=8000", "C08"),
    ("codec:amr:4.75k", "C09 AMR-NB, 4.75-12.2 kbit/s"),
    ("codec:amr:12.2k", "C09"),
    ("telephone", "C11 device/channel: a stand-in, a simulated telephone line"),
)
ASVSPOOF5_CONDITIONS: tuple[str, ...] = tuple(condition for condition, _ in ASVSPOOF5_SET)
ASVSPOOF5_MISSING: tuple[tuple[str, str], ...] = (
    ("C02 AMR-WB, 6.6-23.05 kbit/s", "no encoder offline (codec:amrwb): PyAV's FFmpeg only decodes it"),
    ("C03 Speex wide-band, 5.75-34.2 kbit/s", "no encoder offline (codec:speex): PyAV's FFmpeg decodes Speex "
     "only, libsndfile has none"),
    ("C04 Encodec, 1.5-24 kbit/s", "a neural codec (codec:encodec): needs model weights"),
    ("C07 MP3 + Encodec", "needs Encodec"),
    ("C10 Speex narrow-band, 3.95-24.6 kbit/s", "no encoder offline (codec:speex)"),
)


def expand_conditions(text: str | list[str]) -> list[str]:
    """``"all"`` -> :data:`CATALOGUE_ALL`; ``"study"`` -> the 29 without clean; ``"asvspoof5"`` ->
    :data:`ASVSPOOF5_CONDITIONS`; else a comma-separated list.

    ``text`` may be one string or several (a repeated flag); each is split at commas, and a
    condition named twice is kept once, where it first appears.
    """
    items = text if isinstance(text, list) else [text]
    out: list[str] = []
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            if part == "all":
                out += CATALOGUE_ALL
            elif part == "study":
                out += STUDY_CONDITIONS
            elif part == "asvspoof5":
                out += ASVSPOOF5_CONDITIONS
            elif part:
                out.append(part)
    return list(dict.fromkeys(out))


def conditions_text(width: int = 100) -> str:
    """What ``detector conditions`` prints: the grammar, the family table and the study's conditions."""
    indent = " " * 4
    lines = [GRAMMAR, "", "Families:"]
    for family in FAMILY_TABLE:
        lines.append(f"  {family.name:<10} e.g. {family.example}")
        lines += textwrap.wrap(family.effect, width, initial_indent=indent, subsequent_indent=indent,
                               break_on_hyphens=False)
        if family.parameters:
            lines += textwrap.wrap(family.parameters, width, initial_indent=indent + "parameters: ",
                                   subsequent_indent=indent + " " * len("parameters: "), break_on_hyphens=False)
    lines += ["", f"The laundered ASVspoof 2019 LA study's {len(STUDY_CONDITIONS)} conditions (study; all adds clean):"]
    lines += [f"  {condition}" for condition in STUDY_CONDITIONS]
    lines += ["", "ASVspoof 5's evaluation codecs made offline (asvspoof5), at each range's lowest and highest "
                  "bitrate:"]
    lines += [f"  {condition:<26} {note}" for condition, note in ASVSPOOF5_SET]
    lines += ["Missing from asvspoof5 (named, not made):"]
    for what, why in ASVSPOOF5_MISSING:
        lines += textwrap.wrap(f"{what}: {why}", width, initial_indent="  ", subsequent_indent=indent)
    return "\n".join(lines)
