"""pcap files (the libpcap format tcpdump -w writes and Wireshark reads): a writer for captured
Ethernet frames and a reader for any pcap file, both byte orders, micro- or nanosecond stamps.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from ctrnet.errors import InvalidConfig
from ctrnet.types import CaptureRecord

MAGIC_USEC = 0xA1B2C3D4
MAGIC_NSEC = 0xA1B23C4D
LINKTYPE_ETHERNET = 1
#: tcpdump's default snapshot length since 4.99.
SNAPLEN = 262144
#: One captured frame: the Backend's observation type (`Capture.records`).
Record = CaptureRecord


def header(linktype: int = LINKTYPE_ETHERNET, snaplen: int = SNAPLEN) -> bytes:
    """The 24-byte global header (little-endian, microsecond stamps, version 2.4)."""
    return struct.pack("<IHHiIII", MAGIC_USEC, 2, 4, 0, 0, snaplen, linktype)


def record(time: float, data: bytes, orig_len: int | None = None,
           snaplen: int = SNAPLEN) -> bytes:
    seconds = int(time)
    micros = int(round((time - seconds) * 1_000_000))
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    kept = data[:snaplen]
    return struct.pack("<IIII", seconds, micros, len(kept),
                       orig_len if orig_len is not None else len(data)) + kept


def write(records: Iterable[Record]) -> bytes:
    """A whole pcap file of Ethernet frames."""
    parts = [header()]
    parts.extend(record(r.time, r.data, r.wire_length) for r in records)
    return b"".join(parts)


def read(data: bytes) -> list[Record]:
    """Every record of a pcap file; InvalidConfig if `data` is not one."""
    return list(iter_records(data))


def linktype(data: bytes) -> int:
    endian, _ = _magic(data)
    return int(struct.unpack(endian + "I", data[20:24])[0])


def _magic(data: bytes) -> tuple[str, int]:
    if len(data) < 24:
        raise InvalidConfig("not a pcap file: shorter than its 24-byte header",
                            ja="pcap ファイルではありません: 24 バイトのヘッダより短いです")
    for endian in ("<", ">"):
        (magic,) = struct.unpack(endian + "I", data[:4])
        if magic == MAGIC_USEC:
            return endian, 1_000_000
        if magic == MAGIC_NSEC:
            return endian, 1_000_000_000
    raise InvalidConfig("not a pcap file (pcapng is not read; save as pcap)",
                        ja="pcap ファイルではありません（pcapng は読めません。pcap 形式で保存"
                           "してください）")


def iter_records(data: bytes) -> Iterator[Record]:
    endian, scale = _magic(data)
    offset = 24
    while offset + 16 <= len(data):
        seconds, frac, incl, orig = struct.unpack(endian + "IIII", data[offset:offset + 16])
        offset += 16
        chunk = data[offset:offset + incl]
        if len(chunk) < incl:
            break  # a capture cut short: keep what is whole
        offset += incl
        yield Record(seconds + frac / scale, chunk, orig)
