"""Flight of the Amazon Queen (freeware CD "compressed" rebuild): speech entries of ``queen.1c``.

Layout (read from ScummVM's queen engine, resource.cpp / sound.cpp / talk.cpp / cutaway.cpp /
logic.cpp; our own code): ``"QTBL"``, a 6-byte version string (``"CEM10\\0"``: CD, English),
2 unused bytes, a compression byte (0 none, 1 MP3, 2 Ogg Vorbis, 3 FLAC), a uint16 BE entry
count, then 21-byte entries: 12-byte NUL-padded name, bundle byte (1 = this file), uint32 BE
offset, uint32 BE size. The entry's bytes are the resource as is: for ``.SB`` entries of an
MP3 rebuild, a bare MP3 stream (16 kbit/s, 11,025 Hz, mono).

``.SB`` entries hold both speech and sound effects. The names (8 characters):

- ``KKHHHHXN`` dialogue lines: ``KK`` the talk key of a dialogue file (decimal), ``HHHH`` the
  dialogue node (hex, or ``SSSS`` / ``XXXX`` for the opening lines), ``X`` ``J`` for Joe or ``P``
  for the person Joe talks to, ``N`` the segment of the sentence (hex, from 1). The person is the
  one of the dialogue file whose header holds that talk key (``talk_keys``), e.g. key 18 ->
  ``FAYE2.DOG`` -> ``FAYE``; the keys are unique per file in this data.
- ``JOE`` + 4 digits + segment: Joe's responses and object descriptions.
- a cut-scene name (``C30E``, ``BLUEP``, ...; the ``.CUT`` entries), ``_``-padded to 5 characters,
  + 2-digit object index + segment (``C30E_102``): lines of a cut scene; the speaker is the
  scene's object at that index (Joe or someone else), which only the ``.CUT`` script and the
  game's object tables tell: not resolved here (``speaker_of`` gives None).
- ``CINTR...`` / ``CDINT...`` / ``COMIC...``: the intro and comic cut scenes (the same scheme).
- digits + optional letter + ``S`` padding (``116BSSSS``): sound effects, not speech.
- a few odd names (``BLANK000``, ``UNTITLED``, ``MIK_0019``, ``TOM_0826``, ...), none of the
  game's naming schemes: left out (``is_speech``).

``speaker_of`` gives the character, as the game's file names call it, for dialogue and Joe lines,
and None where the name does not tell. Caution: a character is not a voice actor; the cast is
small and several characters may share one actor, so use these labels as characters.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

MAGIC = b"QTBL"
COMPRESSION_MP3 = 1
_HEADER = 15  # magic 4 + version 6 + unused 2 + compression 1 + count 2
_ENTRY = 21
_DOG_HEADER = 20  # a dialogue file's opaque header, before its big-endian talk header

_DIALOGUE = re.compile(r"^(\d\d)([0-9A-F]{4}|SSSS|XXXX)([JP])[0-9A-F]$")
_JOE = re.compile(r"^JOE\d{5}$")
# A cut-scene line: the scene's file name (letter first, then letters/digits, then "_" padding)
# in the first 5 characters, a 2-digit object index, a segment from 1.
_CUT_NAME = re.compile(r"^[A-Z][0-9A-Z]*_*$")
_CUT_TAIL = re.compile(r"^\d\d[1-9A-F]$")
_SFX = re.compile(r"^\d+[A-Z]?S+$")


class Entry(NamedTuple):
    """One resource: ``name`` (e.g. ``020006J1.SB``), ``offset`` and ``size`` in bytes within queen.1c."""

    name: str
    offset: int
    size: int


def _header(path: str | Path, data: bytes) -> tuple[str, int, int]:
    if len(data) < _HEADER or data[:4] != MAGIC:
        raise ValueError(f"{path}: not a rebuilt queen.1c (no QTBL magic)")
    version = data[4:10].split(b"\0")[0].decode("ascii", "replace")
    return version, data[12], struct.unpack_from(">H", data, 13)[0]


def read_table(path: str | Path) -> list[Entry]:
    """The resource table, in file order. ValueError on a bad magic, truncated table or entry."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(_HEADER)
        _, _, count = _header(path, head)
        table = f.read(count * _ENTRY)
        f.seek(0, 2)
        file_size = f.tell()
    if len(table) < count * _ENTRY:
        raise ValueError(f"{path}: table of {count} entries truncated ({len(table) // _ENTRY} present)")
    entries = []
    for i in range(count):
        raw = table[i * _ENTRY : (i + 1) * _ENTRY]
        name = raw[:12].split(b"\0")[0].decode("ascii", "replace")
        bundle, offset, size = raw[12], *struct.unpack_from(">II", raw, 13)
        if bundle != 1:  # the rebuild is one file; other bundles would be queen.2, ...
            raise ValueError(f"{path}: entry {name!r} is in bundle {bundle}, not in this file")
        if offset + size > file_size:
            raise ValueError(f"{path}: entry {name!r} at {offset}+{size} runs past the end ({file_size})")
        entries.append(Entry(name, offset, size))
    return entries


def compression(path: str | Path) -> int:
    """The archive's compression byte (1 = MP3)."""
    with Path(path).open("rb") as f:
        return _header(path, f.read(_HEADER))[1]


def _is_cutaway(stem: str) -> bool:
    return len(stem) == 8 and bool(_CUT_NAME.match(stem[:5]) and _CUT_TAIL.match(stem[5:]))


def is_speech(name: str) -> bool:
    """True for the speech ``.SB`` entries (dialogue, Joe, cut scenes), False for effects and the rest."""
    if not name.endswith(".SB"):
        return False
    stem = name[:-3]
    return bool(_DIALOGUE.match(stem) or _JOE.match(stem) or _is_cutaway(stem)) and not _SFX.match(stem)


def talk_keys(path: str | Path) -> dict[int, str]:
    """Talk key -> dialogue file name (``18 -> 'FAYE2.DOG'``), read from each ``.DOG`` entry's header."""
    keys: dict[int, str] = {}
    with Path(path).open("rb") as f:
        for entry in read_table(path):
            if not entry.name.endswith(".DOG"):
                continue
            if entry.size < _DOG_HEADER + 6:
                raise ValueError(f"{path}: dialogue file {entry.name} too short ({entry.size} bytes)")
            f.seek(entry.offset + _DOG_HEADER)
            _, _, key = struct.unpack(">hhh", f.read(6))  # level count, unique key, talk key
            keys[key] = entry.name
    return keys


def speaker_of(name: str, keys: dict[int, str]) -> str | None:
    """The speaking character of a speech entry (``'JOE'``, ``'FAYE'``, ...), None when the name does not tell.

    ``keys``: ``talk_keys(path)``. The character is the dialogue file's name without its number
    and extension (``FAYE2.DOG`` -> ``FAYE``); these are the game's own short names (``PRIN`` the
    princess, ``SEC`` ..., ``MAN``), not guaranteed to be distinct voice actors.
    """
    stem = name[:-3] if name.endswith(".SB") else name
    if _JOE.match(stem):
        return "JOE"
    m = _DIALOGUE.match(stem)
    if not m:
        return None
    if m.group(3) == "J":
        return "JOE"
    dog = keys.get(int(m.group(1)))
    return None if dog is None else re.sub(r"\d*\.DOG$", "", dog)


def speech_clips(path: str | Path) -> Iterator[tuple[str, bytes]]:
    """``(name, mp3_bytes)`` for every speech entry, in table order. ValueError unless the archive is MP3."""
    kind = compression(path)
    if kind != COMPRESSION_MP3:
        raise ValueError(f"{path}: compression type {kind}, only MP3 (1) rebuilds are read")
    with Path(path).open("rb") as f:
        for entry in read_table(path):
            if is_speech(entry.name):
                f.seek(entry.offset)
                yield entry.name, f.read(entry.size)
