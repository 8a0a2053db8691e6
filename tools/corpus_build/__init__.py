"""Build real-vs-generated speech corpora from offline sources (the demo corpus and a larger one).

Three presets (``presets.py``):

* ``demo``: the built-in corpus under ``detector/data/demo_corpus/`` (about 440
  clips of 2.0-2.5 s, under 20 MB). Bona fide: the Asterisk core-sound studio
  prompts, G.722 wideband, voices Allison (en + es, one speaker), June (fr),
  Carlo (it) and IvrvoiceRU (ru). Spoof: TTS of the same prompt texts
  (espeak-ng, Flite, Festival diphone and HTS, Piper) and vocoded copies of the
  prompts (WORLD, Griffin-Lim, LPC with WORLD F0).
* ``large``: a multi-speaker research corpus of a few thousand clips of 2-4 s,
  built outside the repository: every usable prompt of the five core-sound
  languages plus the three 8 kHz prompt packages (Paola, it; July, es; Armelle,
  fr), so 7 real speakers on 3 channels (G.722 wideband, GSM and 8 kHz PCM
  narrowband); TTS in the matching languages (espeak-ng in all five, Festival
  in en/it/ru, Flite and Piper in en) and vocoded copies of the prompts.
* ``wild``: real speech of many rooms, voices and languages (WILD.md): the
  Asterisk prompts, Tux Paint, KLettres and KTuberling volunteers, Hedgewars,
  Warzone 2100 and Kajongg voices, and two games' dialogue read from their
  archives (``archives/``), each clip paired with a vocoded copy and a TTS
  utterance in its language on its own channel (``pairing.py``).

Hygiene, identical for both classes: every clip goes through its channel's codec
(a prompt was shipped coded; a spoof is levelled to the prompts' studio level
and round-tripped through FFmpeg's encoder for the channel of the prompt it is
made from, then the same decoder), then the same silence trim, the same cut to
a seeded target length at a pause, 10 ms fades, and the same loudness
normalisation (-23 dBFS RMS over active frames, peak below 0.99). With spoof
quotas matched to the prompts language by language, the narrowband channels
carry both classes in about the same proportion (measured: the package's
README.md), so "no energy above 4 kHz" does not give the label away.

Splits follow ASVspoof's evaluation design: prompt names (texts) are split
60/15/25 into train/val/test, so no text is shared between train and test;
some speakers and systems occur only in test; vocoded copies follow their
source prompt.

Prerequisites (Debian 12)::

    apt-get install ffmpeg espeak-ng flite festival festvox-kallpc16k \
        festvox-kdlpc16k festvox-us-slt-hts                      # demo
    apt-get install festvox-italp16k festvox-itapc16k festvox-ru  # + large
    python3 -m venv VENV
    VENV/bin/pip install -r tools/corpus_build/requirements.txt

The Asterisk ``.deb`` packages are fetched with ``apt-get download`` into the
scratch folder. Build (from the repository root)::

    VENV/bin/python -m tools.corpus_build --preset demo \
        --out detector/data/demo_corpus --scratch SCRATCH
    VENV/bin/python -m tools.corpus_build --preset large \
        --out DATA/asterisk-large --scratch SCRATCH
    VENV/bin/python -m tools.corpus_build --preset wild \
        --out DATA/wild --scratch SCRATCH      # + RHVoice, Node: WILD.md

Only ``manifest.csv`` and the FLAC folders are (re)written in ``--out``.
"""
