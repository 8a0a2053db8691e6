"""The game-archive readers (sky.dsk/sky.dnr, queen.1c) on small synthetic archives built here.

CI has no game data: the writers below build archives in the layouts the readers document,
including a small RNC ProPack method-1 packer (greedy LZ, fixed Huffman tables).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tools.corpus_build.archives import queen, sky

# --- RNC method-1 test packer --------------------------------------------------------------------


class _BitWriter:
    """LSB-first bits in 16-bit LE words, allocated lazily so literal bytes land between words."""

    def __init__(self):
        self.out = bytearray()
        self.word, self.used = 0, 16

    def bits(self, value: int, n: int) -> None:
        for k in range(n):
            if self.used == 16:  # the current word is full: start the next one at the end
                self.word, self.used = len(self.out), 0
                self.out += b"\0\0"
            if value >> k & 1:
                self.out[self.word + self.used // 8] |= 1 << self.used % 8
            self.used += 1


def _codes(lengths: list[int]) -> dict[int, tuple[int, int]]:
    """symbol -> (bits to write LSB first, length): canonical codes, bit-reversed."""
    codes, code = {}, 0
    for length in range(1, 17):
        for symbol, sym_len in enumerate(lengths):
            if sym_len == length:
                msb = code >> (16 - length)
                codes[symbol] = (int(f"{msb:0{length}b}"[::-1], 2), length)
                code += 1 << (16 - length)
    return codes


def _write_value(w: _BitWriter, codes, value: int) -> None:
    symbol = value.bit_length()
    w.bits(*codes[symbol])
    if symbol >= 2:
        w.bits(value - (1 << (symbol - 1)), symbol - 1)


def _lz(data: bytes, window: int = 300) -> list[tuple[bytes, tuple[int, int] | None]]:
    """Greedy tokens (literal run, (offset, length) match); the last one has no match."""
    tokens, lit, i = [], bytearray(), 0
    while i < len(data):
        best = (0, 0)
        for off in range(1, min(i, window) + 1):
            n = 0
            while i + n < len(data) and n < 200 and data[i + n - off] == data[i + n]:
                n += 1
            if n > best[0]:
                best = (n, off)
        if best[0] >= 2:
            tokens.append((bytes(lit), (best[1], best[0])))
            lit, i = bytearray(), i + best[0]
        else:
            lit.append(data[i])
            i += 1
    tokens.append((bytes(lit), None))
    return tokens


def rnc_pack(data: bytes, chunks_per_block: int = 4, lengths: tuple[int, ...] = (4,) * 16) -> bytes:
    """An RNC method-1 stream of ``data`` (``lengths``: the code length of each Huffman symbol)."""
    tokens = _lz(data)
    blocks = []
    while len(tokens) > chunks_per_block:  # a block's last chunk has no match: close it with an empty run
        blocks.append(tokens[:chunks_per_block] + [(b"", None)])
        tokens = tokens[chunks_per_block:]
    blocks.append(tokens)
    codes = _codes(list(lengths))
    w = _BitWriter()
    w.bits(0, 2)
    for block in blocks:
        for _ in range(3):  # raw, offset and length tables: the same shape here
            w.bits(len(lengths), 5)
            for length in lengths:
                w.bits(length, 4)
        w.bits(len(block), 16)
        for run, match in block:
            _write_value(w, codes, len(run))
            w.out += run
            if match:
                _write_value(w, codes, match[0] - 1)
                _write_value(w, codes, match[1] - 2)
    packed = bytes(w.out)
    head = struct.pack(">4sIIHHBB", b"RNC\x01", len(data), len(packed), sky.rnc_crc(data), sky.rnc_crc(packed), 0,
                       len(blocks))
    return head + packed


def test_rnc_crc_is_crc16_arc():
    assert sky.rnc_crc(b"123456789") == 0xBB3D


@pytest.mark.parametrize("data", [
    b"",
    b"a",
    b"abcabcabcabcabcabcabcab" * 7,  # overlapping matches
    bytes(np.random.default_rng(0).integers(0, 256, 700, dtype=np.uint8)),  # literals mostly
    bytes(128 + (40 * np.sin(np.arange(1500) / 7)).astype(np.uint8)),  # a periodic "waveform"
])
def test_rnc_round_trip(data):
    assert sky.rnc_unpack(rnc_pack(data)) == data


def test_rnc_round_trip_other_table_shapes():
    data = b"the rain in spain " * 20 + bytes(range(256))
    # one symbol per code length 1..15 plus a second 15-bit one: a complete, very skewed code
    assert sky.rnc_unpack(rnc_pack(data, chunks_per_block=1, lengths=tuple(range(1, 16)) + (15,))) == data


def test_rnc_rejects_corruption():
    packed = bytearray(rnc_pack(b"hello hello hello world" * 5))
    with pytest.raises(ValueError, match="not an RNC"):
        sky.rnc_unpack(b"XXXX" + bytes(packed[4:]))
    with pytest.raises(ValueError, match="truncated"):
        sky.rnc_unpack(bytes(packed[:-3]))
    packed[25] ^= 0x55
    with pytest.raises(ValueError, match="CRC"):
        sky.rnc_unpack(bytes(packed))


# --- sky.dsk / sky.dnr ---------------------------------------------------------------------------


def _header(total: int, packed: bool) -> bytes:
    flag = (0x80 | (total >> 16) << 8) if packed else 0
    return struct.pack("<11H", flag, 0, 0, 0, 0, 0, total & 0xFFFF, 0, 0, 0, 0)


def write_sky(folder: Path, files: list[tuple[int, bytes, str]]) -> tuple[Path, Path]:
    """sky.dsk + sky.dnr holding ``(file number, samples, 'raw' | 'rnc' | 'rnc-nohdr')`` files."""
    dsk, dnr = bytearray(), bytearray(struct.pack("<I", len(files)))
    for i, (number, payload, mode) in enumerate(files):
        loaded = sky.HEADER_SIZE + len(payload)
        if mode == "raw":
            body, size_word = _header(loaded, False) + payload, 1 << 23
        else:
            body = _header(loaded, True) + rnc_pack(payload)
            size_word = (1 << 22) if mode == "rnc-nohdr" else 0
        if i == 0:
            off_word = len(dsk)  # a plain byte offset
        else:
            dsk += bytes(-len(dsk) % 16)
            off_word = len(dsk) >> 4 | 1 << 23  # in 16-byte units
        dsk += body
        size_word |= len(body)
        dnr += struct.pack("<H", number) + off_word.to_bytes(3, "little") + size_word.to_bytes(3, "little")
    (folder / "sky.dsk").write_bytes(dsk)
    (folder / "sky.dnr").write_bytes(dnr)
    return folder / "sky.dsk", folder / "sky.dnr"


def _speech(seed: int, n: int) -> bytes:
    t = np.arange(n)
    wave = 128 + 60 * np.sin(t / (5 + seed)) * np.hanning(n)
    return wave.astype(np.uint8).tobytes()


def test_sky_round_trip(tmp_path):
    a, b, c, other = _speech(0, 900), _speech(1, 1300), _speech(2, 1100), b"\x01\x02" * 50
    dsk, dnr = write_sky(tmp_path, [(60300, other, "raw"), (50000, a, "raw"), (55229, b, "rnc"),
                                    (51100, c, "raw"), (9, other * 3, "rnc-nohdr")])
    entries = sky.read_dnr(dnr)
    assert [e.file_number for e in entries] == [60300, 50000, 55229, 51100, 9]
    assert [e.packed for e in entries] == [False, False, True, False, True]
    assert [e.keep_header for e in entries] == [True, True, True, True, False]

    clips = list(sky.speech_clips(dsk, dnr))
    assert [clip.file_number for clip in clips] == [50000, 51100, 55229]
    for clip, payload in zip(clips, [a, c, b]):
        assert clip.samples.dtype == np.uint8 and clip.samples.ndim == 1
        assert clip.samples.tobytes() == payload
        assert clip.sample_rate == 11025
    assert [sky.section_of(clip.file_number) for clip in clips] == [0, 2, 6]
    # a packed file whose header is dropped on loading: the bare unpacked bytes
    assert sky.load_file(dsk.read_bytes(), entries[4]) == other * 3


def test_sky_bad_archives_name_the_file(tmp_path):
    dsk, dnr = write_sky(tmp_path, [(50000, _speech(0, 500), "raw"), (50001, _speech(1, 700), "rnc")])
    good_dnr = dnr.read_bytes()

    dnr.write_bytes(good_dnr[:-5])  # truncated entry
    with pytest.raises(ValueError, match=r"sky\.dnr.*2 entries announced, 1 present"):
        sky.read_dnr(dnr)
    dnr.write_bytes(b"\0\0")
    with pytest.raises(ValueError, match=r"sky\.dnr"):
        sky.read_dnr(dnr)

    dnr.write_bytes(good_dnr)
    data = dsk.read_bytes()
    dsk.write_bytes(data[:-10])  # the last file runs past the end
    with pytest.raises(ValueError, match=r"sky\.dsk.*file 50001.*past the end"):
        list(sky.speech_clips(dsk, dnr))

    corrupt = bytearray(data)
    corrupt[-20] ^= 0xFF  # inside the packed stream
    dsk.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match=r"sky\.dsk.*file 50001.*RNC"):
        list(sky.speech_clips(dsk, dnr))


# --- queen.1c ------------------------------------------------------------------------------------


def write_queen(path: Path, entries: dict[str, bytes], compression: int = 1) -> Path:
    """A rebuilt queen.1c: QTBL header, sorted table, the entries' bytes."""
    names = sorted(entries)
    offset = 15 + 21 * len(names)
    table, blob = bytearray(), bytearray()
    for name in names:
        table += name.encode().ljust(12, b"\0") + struct.pack(">BII", 1, offset + len(blob), len(entries[name]))
        blob += entries[name]
    path.write_bytes(b"QTBL" + b"CEM10\0" + b"\0\0" + bytes([compression]) + struct.pack(">H", len(names))
                     + table + blob)
    return path


def _dog(talk_key: int) -> bytes:
    return bytes(20) + struct.pack(">hhh", 2, 7, talk_key) + bytes(30)


QUEEN_ENTRIES = {
    "020006J1.SB": b"\xff\xe3joe-mp3",
    "020006P1.SB": b"\xff\xe3faye-mp3-" * 3,
    "02SSSSJ1.SB": b"\xff\xe3opening",
    "JOE00441.SB": b"\xff\xe3describe",
    "C30E_102.SB": b"\xff\xe3cutscene",
    "GM___011.SB": b"\xff\xe3cut-gm",
    "116BSSSS.SB": b"\xff\xe3door-sfx",
    "MIK_0019.SB": b"\xff\xe3stray",
    "FAYE2.DOG": _dog(2),
    "ROOM1.PCX": b"picture",
}


def test_queen_round_trip(tmp_path):
    path = write_queen(tmp_path / "queen.1c", QUEEN_ENTRIES)
    table = queen.read_table(path)
    assert [e.name for e in table] == sorted(QUEEN_ENTRIES)
    data = path.read_bytes()
    assert all(data[e.offset : e.offset + e.size] == QUEEN_ENTRIES[e.name] for e in table)

    clips = dict(queen.speech_clips(path))
    assert sorted(clips) == ["020006J1.SB", "020006P1.SB", "02SSSSJ1.SB", "C30E_102.SB", "GM___011.SB",
                             "JOE00441.SB"]
    assert all(clips[name] == QUEEN_ENTRIES[name] for name in clips)

    keys = queen.talk_keys(path)
    assert keys == {2: "FAYE2.DOG"}
    speakers = {name: queen.speaker_of(name, keys) for name in clips}
    assert speakers == {"020006J1.SB": "JOE", "020006P1.SB": "FAYE", "02SSSSJ1.SB": "JOE", "JOE00441.SB": "JOE",
                        "C30E_102.SB": None, "GM___011.SB": None}
    assert queen.speaker_of("990006P1.SB", keys) is None  # a talk key with no dialogue file


def test_queen_bad_archives_name_the_file(tmp_path):
    path = write_queen(tmp_path / "queen.1c", QUEEN_ENTRIES)
    good = path.read_bytes()

    path.write_bytes(b"QTBX" + good[4:])
    with pytest.raises(ValueError, match=r"queen\.1c.*QTBL"):
        queen.read_table(path)
    path.write_bytes(good[:15 + 21 * 3])  # the table cut short
    with pytest.raises(ValueError, match=r"queen\.1c.*truncated"):
        queen.read_table(path)
    path.write_bytes(good[:-3])  # the last entry runs past the end
    with pytest.raises(ValueError, match=r"queen\.1c.*ROOM1\.PCX.*past the end"):
        queen.read_table(path)

    write_queen(path, QUEEN_ENTRIES, compression=2)
    with pytest.raises(ValueError, match=r"queen\.1c.*compression type 2"):
        list(queen.speech_clips(path))
