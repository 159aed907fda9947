"""`tcpdump` (4.99, as Debian 12 ships it) on a Backend: `-i IF` captures in the command's
namespace through `Backend.capture_start`, `-r FILE` reads a pcap file, `-w FILE` writes one,
`-c N` stops after N packets, `-n` (always numeric here), `-t` (no timestamps), and a
pcap-filter expression (host, net, port, tcp/udp/icmp/arp, and/or/not). Lines are tcpdump's
default format. A live capture waits on the backend's clock (virtual on the simulator) for
its N packets, at most `MAX_WAIT` seconds, so `-c` is required with `-i`.
"""

from __future__ import annotations

import os

from ctrnet.backend import Capture
from ctrnet.cmdline.context import CommandFailed, Context, Unsupported
from ctrnet.cmdline.getopts import parse_short
from ctrnet.errors import CtrnetError
from ctrnet.troubleshoot import pcap, tcpdump_format
from ctrnet.troubleshoot.pcapfilter import SUBSET, compile_filter
from ctrnet.troubleshoot.wire import decode

#: Longest a live capture waits for its -c packets (seconds on the backend's clock).
MAX_WAIT = 60.0
_STEP = 0.1


def _parse(argv: list[str]) -> tuple[dict[str, str], set[str], list[str]]:
    return parse_short(argv, tool="tcpdump", with_arg="icwrs", flags="ntlUq",
                       unsupported="vVeXxAS", status=1)


def _path(ctx: Context, name: str) -> str:
    base = ctx.env.get("PWD", "")
    return name if os.path.isabs(name) or not base else os.path.join(base, name)


def _count(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit() or int(text) <= 0:
        raise CommandFailed(f"tcpdump: invalid packet count {text}\n", 1)
    return int(text)


def run(argv: list[str], ctx: Context) -> int:
    """`tcpdump ARGS…` (argv without the program name); returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status


def main(argv: list[str], ctx: Context) -> int:
    values, flags, rest = _parse(argv)
    expression = " ".join(rest) or None
    try:
        keep = compile_filter(expression)
    except CtrnetError:
        # Not necessarily wrong for tcpdump: outside the subset this front-end reads.
        raise Unsupported("tcpdump", f"capture filter {expression!r} (ctrnet reads "
                          f"{SUBSET})") from None
    count = _count(values.get("c"))
    if "r" in values:
        try:
            with open(_path(ctx, values["r"]), "rb") as source:
                data = source.read()
        except OSError as err:
            raise CommandFailed(f"tcpdump: {values['r']}: {err.strerror}\n", 1) from None
        try:
            records = pcap.read(data)
        except CtrnetError:
            raise CommandFailed(f"tcpdump: {values['r']}: unknown file format\n", 1) from None
        ctx.err(f"reading from file {values['r']}, link-type EN10MB (Ethernet), "
                f"snapshot length {pcap.SNAPLEN}\n")
        records = [r for r in records if keep(decode(r.data))][:count]
        _emit(ctx, records, values, flags)
        return 0
    ifname = values.get("i")
    if ifname is None:
        raise Unsupported("tcpdump", "capturing without -i (give -i IFNAME or -r FILE)")
    if count is None:
        raise Unsupported("tcpdump", "a live capture without -c (it would never end here)")
    try:
        capture = ctx.backend.capture_start(ctx.ns, ifname, filter=expression)
    except CtrnetError as err:
        raise CommandFailed(f"tcpdump: {ifname}: {err}\n", 1) from None
    if "w" not in values:
        ctx.err("tcpdump: verbose output suppressed, use -v[v]... for full protocol decode\n")
    ctx.err(f"listening on {ifname}, link-type EN10MB (Ethernet), snapshot length "
            f"{pcap.SNAPLEN} bytes\n")
    waited = 0.0
    try:
        while _captured(capture) < count and waited < MAX_WAIT:
            ctx.backend.sleep(_STEP)
            waited += _STEP
    finally:
        records = pcap.read(capture.stop())[:count]
    _emit(ctx, records, values, flags)
    ctx.err(f"{len(records)} packets captured\n{len(records)} packets received by filter\n"
            "0 packets dropped by kernel\n")
    return 0


def _captured(capture: Capture) -> int:
    """Packets a running capture holds so far."""
    return len(capture.records)


def _emit(ctx: Context, records: list[pcap.Record], values: dict[str, str],
          flags: set[str]) -> None:
    if "w" in values:
        with open(_path(ctx, values["w"]), "wb") as out:
            out.write(pcap.write(records))
        return
    for line in tcpdump_format.lines(records, with_time="t" not in flags):
        ctx.out(line + "\n")
