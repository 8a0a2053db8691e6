"""Beneath a Steel Sky (CD, v0.0372): the recorded speech inside ``sky.dsk``, indexed by ``sky.dnr``.

Layout (read from ScummVM's sky engine, disk.cpp / rnc_deco.cpp / sound.cpp; our own code):

- ``sky.dnr``: uint32 LE entry count, then 8-byte entries: uint16 LE file number, a 24-bit LE
  offset word (bits 0-22 offset, bit 23 "offset is in 16-byte units"), a 24-bit LE size word
  (bits 0-21 stored size in bytes, bit 22 "drop the header when unpacking", bit 23 "stored
  as is", i.e. clear = may be RNC packed).
- every loaded file starts with a 22-byte header (11 uint16 LE; ``flag`` first, ``s_tot_size``
  seventh). Packed files are that header followed by an RNC ProPack method 1 stream, and the
  header's ``flag`` bit 7 says so.
- speech: text number -> file ``50000 + SPEECH_SECTION_START[section] + line``
  (sections 0-6); the samples are the loaded file after its header, 8-bit unsigned PCM,
  mono, 11,025 Hz. All 3,487 speech files of v0.0372 are RNC packed.

Speakers: the archive says nothing about who speaks a line. A file number maps to a text
number only; the speaking character (Foster, Joey the robot, ...) is decided by the game
scripts at run time, and ScummVM keeps no table of it. So Joey's processed-voice lines
cannot be told apart or left out from this format; that would take an audio classifier or
a hand-made list. ``section_of`` gives the game section (chapter) of a line, nothing more.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

SAMPLE_RATE = 11025
HEADER_SIZE = 22
SPEECH_BASE = 50000
# First speech file (minus SPEECH_BASE) of each section 0-6, and the end of the last one:
# room for 600, 500, 1330, 950, 1150, 550, 150 lines (the game's speech conversion table).
SPEECH_SECTION_START = (0, 600, 1100, 2430, 3380, 4530, 5080, 5230)

_RNC_MAGIC = b"RNC\x01"
_RNC_HEADER = 18


class Entry(NamedTuple):
    """One file of sky.dsk: where it is (bytes), how big it is stored, how to load it."""

    file_number: int
    offset: int  # byte offset in sky.dsk (already scaled)
    size: int  # bytes stored in sky.dsk
    packed: bool  # may be RNC packed (size-word bit 23 clear)
    keep_header: bool  # unpacking keeps the 22-byte header in front (size-word bit 22 clear)


class SpeechClip(NamedTuple):
    """One spoken line: ``samples`` uint8 (time,), unsigned PCM centred on 128, at ``sample_rate`` Hz."""

    file_number: int
    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE


def is_speech(file_number: int) -> bool:
    """True for the speech files (50000 ... 55229)."""
    return SPEECH_BASE <= file_number < SPEECH_BASE + SPEECH_SECTION_START[-1]


def section_of(file_number: int) -> int:
    """The game section (0-6) of a speech file number."""
    if not is_speech(file_number):
        raise ValueError(f"file {file_number} is not a speech file")
    n = file_number - SPEECH_BASE
    return max(i for i, start in enumerate(SPEECH_SECTION_START[:-1]) if start <= n)


def read_dnr(path: str | Path) -> list[Entry]:
    """The index of sky.dsk, in file order. ValueError on a truncated or empty index."""
    data = Path(path).read_bytes()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for a sky.dnr header ({len(data)} bytes)")
    (count,) = struct.unpack_from("<I", data)
    if count == 0 or len(data) < 4 + 8 * count:
        raise ValueError(f"{path}: {count} entries announced, {(len(data) - 4) // 8} present")
    entries = []
    for i in range(count):
        raw = data[4 + 8 * i : 12 + 8 * i]
        number = int.from_bytes(raw[0:2], "little")
        off_word = int.from_bytes(raw[2:5], "little")
        size_word = int.from_bytes(raw[5:8], "little")
        offset = off_word & 0x7FFFFF
        if off_word >> 23 & 1:  # large archives store offsets in 16-byte units (v0.0331: 8)
            offset <<= 4
        entries.append(Entry(number, offset, size_word & 0x3FFFFF, not size_word >> 23 & 1, not size_word >> 22 & 1))
    return entries


def load_file(dsk: bytes, entry: Entry, name: str = "sky.dsk") -> bytes:
    """The loaded bytes of one file, as the game sees them (unpacked, with its header unless dropped)."""
    if entry.offset + entry.size > len(dsk):
        raise ValueError(
            f"{name}: file {entry.file_number} at {entry.offset}+{entry.size} runs past the end ({len(dsk)} bytes)"
        )
    raw = dsk[entry.offset : entry.offset + entry.size]
    if len(raw) < HEADER_SIZE:
        return raw
    flag = raw[0] | raw[1] << 8
    # The game unpacks only when both the index and the header say so, and the stream has the magic.
    if not (entry.packed and flag >> 7 & 1 and raw[HEADER_SIZE : HEADER_SIZE + 4] == _RNC_MAGIC):
        return raw
    try:
        body = rnc_unpack(raw[HEADER_SIZE:])
    except ValueError as exc:
        raise ValueError(f"{name}: file {entry.file_number}: {exc}") from None
    return raw[:HEADER_SIZE] + body if entry.keep_header else body


def speech_clips(dsk_path: str | Path, dnr_path: str | Path) -> Iterator[SpeechClip]:
    """Every speech file of the archive, in file-number order (about 60 MB read at once)."""
    dsk = Path(dsk_path).read_bytes()
    for entry in sorted(read_dnr(dnr_path), key=lambda e: e.file_number):
        if not is_speech(entry.file_number):
            continue
        data = load_file(dsk, entry, str(dsk_path))
        if len(data) <= HEADER_SIZE:
            raise ValueError(f"{dsk_path}: speech file {entry.file_number} holds no samples ({len(data)} bytes)")
        samples = np.frombuffer(data, dtype=np.uint8, offset=HEADER_SIZE).copy()
        yield SpeechClip(entry.file_number, samples)


# --- RNC ProPack, method 1 -------------------------------------------------------------------
# Header (18 bytes, big-endian): "RNC\1", unpacked size u32, packed size u32, unpacked CRC u16,
# packed CRC u16, leeway u8, block count u8. The stream: 16-bit little-endian words read LSB
# first, with literal bytes interleaved: the reader keeps one word of lookahead, and a run of
# literals is taken from the byte position of that lookahead word (which is then reloaded).
# Each block: three Huffman tables (literal-run lengths, match offsets, match lengths), a
# 16-bit count of sub-chunks, then per sub-chunk a literal run and (except the last) a match.

_CRC_TABLE = []
for _byte in range(256):
    _c = _byte
    for _ in range(8):
        _c = _c >> 1 ^ 0xA001 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def rnc_crc(data: bytes) -> int:
    """CRC-16 (poly 0xA001 reflected, init 0: 'CRC-16/ARC') as RNC stores it."""
    crc = 0
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ crc >> 8
    return crc


class _Bits:
    """LSB-first reader over 16-bit LE words with one lookahead word (see the note above)."""

    def __init__(self, data: bytes, pos: int):
        self.data, self.pos = data, pos
        self.buf, self.count = self._word(pos), 16  # count includes the 16 lookahead bits

    def _word(self, pos: int) -> int:
        return int.from_bytes(self.data[pos : pos + 2].ljust(2, b"\0"), "little")

    def read(self, n: int) -> int:
        value = self.buf & ((1 << n) - 1)
        self.buf >>= n
        self.count -= n
        if self.count < 16:  # the lookahead word becomes current; load the next one
            self.pos += 2
            self.buf |= self._word(self.pos) << self.count
            self.count += 16
        return value

    def take_bytes(self, n: int) -> bytes:
        """n literal bytes from the lookahead position; the lookahead is then reloaded after them."""
        if self.pos + n > len(self.data):
            raise ValueError("literal run past the end of the packed data")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        self.count -= 16
        self.buf = self.buf & ((1 << self.count) - 1) | self._word(self.pos) << self.count
        self.count += 16
        return out


def _read_table(bits: _Bits) -> tuple[list, int]:
    """A canonical Huffman table: (lookup by the next ``width`` bits -> (symbol, length), width)."""
    n = bits.read(5)
    if n > 16:
        raise ValueError(f"Huffman table of {n} symbols (at most 16)")
    lengths = [bits.read(4) for _ in range(n)]
    width = max(lengths, default=0)
    table: list = [None] * (1 << width)
    code = 0  # MSB-first canonical code, left-aligned in 16 bits
    for length in range(1, 17):
        for symbol, sym_len in enumerate(lengths):
            if sym_len != length:
                continue
            msb = code >> (16 - length)
            lsb = int(f"{msb:0{length}b}"[::-1], 2)  # the stream is read LSB first
            table[lsb :: 1 << length] = [(symbol, length)] * (1 << (width - length))
            code += 1 << (16 - length)
    if code > 1 << 16:
        raise ValueError("over-subscribed Huffman table")
    return table, width


def _read_value(bits: _Bits, table: list, width: int) -> int:
    hit = table[bits.buf & ((1 << width) - 1)] if width else None
    if hit is None:
        raise ValueError("bad Huffman code")
    symbol, length = hit
    bits.read(length)
    if symbol < 2:
        return symbol
    return 1 << (symbol - 1) | bits.read(symbol - 1)


def rnc_unpack(data: bytes) -> bytes:
    """Unpack one RNC ProPack method-1 stream (header included). ValueError on any inconsistency."""
    if len(data) < _RNC_HEADER or data[:4] != _RNC_MAGIC:
        raise ValueError("not an RNC method 1 stream")
    unpacked_size, packed_size, crc_unpacked, crc_packed = struct.unpack_from(">IIHH", data, 4)
    blocks = data[17]
    packed = data[_RNC_HEADER : _RNC_HEADER + packed_size]
    if len(packed) != packed_size:
        raise ValueError(f"RNC stream truncated ({len(packed)} of {packed_size} packed bytes)")
    if rnc_crc(packed) != crc_packed:
        raise ValueError("RNC packed CRC mismatch")
    bits = _Bits(data[: _RNC_HEADER + packed_size], _RNC_HEADER)
    bits.read(2)  # lock / key flags, unused by the game
    out = bytearray()
    try:
        for _ in range(blocks):
            raw_t, pos_t, len_t = _read_table(bits), _read_table(bits), _read_table(bits)
            chunks = bits.read(16)
            for left in range(chunks, 0, -1):
                run = _read_value(bits, *raw_t)
                if run:
                    out += bits.take_bytes(run)
                if left > 1:
                    offset = _read_value(bits, *pos_t) + 1
                    length = _read_value(bits, *len_t) + 2
                    if offset > len(out):
                        raise ValueError("match reaches before the start of the output")
                    start = len(out) - offset
                    piece = out[start : start + length]
                    if offset < length:  # overlapping copy: the last `offset` bytes repeat
                        piece = (piece * (length // offset + 1))[:length]
                    out += piece
            if len(out) > unpacked_size:
                raise ValueError("RNC output longer than announced")
    except IndexError:
        raise ValueError("corrupt RNC stream") from None
    if len(out) != unpacked_size:
        raise ValueError(f"RNC output of {len(out)} bytes, {unpacked_size} announced")
    if rnc_crc(out) != crc_unpacked:
        raise ValueError("RNC unpacked CRC mismatch")
    return bytes(out)
