"""`tcpdump -i IF` on the simulated run as a process of its own: it captures while the other
commands of the run go on, and ends like the real one — after `-c N` packets, or when a
signal (Ctrl-C, `kill`, an outer `timeout`) stops it, printing what it captured and its
counts. Its wait does not hold the world lock and counts as blocked, so `sleep` and the
virtual clock move on while it listens. Output to a file or pipe is written when it ends
(block-buffered, as tcpdump's stdio does), to a terminal or with -l line by line. `-r FILE`
is the one-shot front-end's (ctrnet/cmdline/tcpdump.py).
"""

from __future__ import annotations

import os
from functools import partial

from ctrnet.backend import Capture
from ctrnet.backends.sim.cmdline.scheduler import Cancelled, Interrupted
from ctrnet.backends.sim.cmdline.server import Invocation, Server
from ctrnet.backends.sim.cmdline.tools import context, front_end
from ctrnet.cmdline import tcpdump as front
from ctrnet.cmdline.context import CommandFailed, Unsupported
from ctrnet.errors import CtrnetError
from ctrnet.troubleshoot import pcap, tcpdump_format
from ctrnet.troubleshoot.pcapfilter import SUBSET, compile_filter


def run(server: Server, inv: Invocation) -> int:
    """The `tcpdump` tool of the server's table."""
    try:
        values, flags, rest = front._parse(inv.argv)
        if "r" in values or "i" not in values:
            return front_end(server, inv)  # reading a file, or refusing loudly
        return _live(server, inv, values, flags, " ".join(rest) or None)
    except CommandFailed as failure:
        inv.stderr.write(failure.message)
        return failure.status


def _live(server: Server, inv: Invocation, values: dict[str, str], flags: set[str],
          expression: str | None) -> int:
    count = front._count(values.get("c"))
    ifname = values["i"]
    with server.lock:
        ctx = context(server, inv)
        if ifname not in {link.name for link in server.backend.link_list(ctx.ns)}:
            raise CommandFailed(f"tcpdump: {ifname}: No such device exists\n"
                                "(No such device exists)\n", 1)
        try:
            compile_filter(expression)
        except CtrnetError:
            # Not necessarily wrong for tcpdump: outside the subset this simulator reads.
            raise Unsupported("tcpdump", f"capture filter {expression!r} (the simulator "
                              f"reads {SUBSET})") from None
        try:
            capture = server.backend.capture_start(ctx.ns, ifname, filter=expression)
        except CtrnetError as err:
            raise CommandFailed(f"tcpdump: {ifname}: {err}\n", 1) from None
    if "w" not in values:
        inv.stderr.write("tcpdump: verbose output suppressed, use -v[v]... for full protocol "
                         "decode\n")
    inv.stderr.write(f"listening on {ifname}, link-type EN10MB (Ethernet), snapshot length "
                     f"{pcap.SNAPLEN} bytes\n")
    server.flush(inv)
    out = inv.fds.get(1)
    streaming = "w" not in values and ("l" in flags or (out is not None and os.isatty(out)))
    formatter = tcpdump_format.Formatter()
    shown = 0

    def enough() -> bool:
        return count is not None and len(capture.records) >= count

    def stream() -> None:
        nonlocal shown
        records = capture.records[:count] if count is not None else capture.records
        for record in records[shown:]:
            inv.stdout.write(formatter.line(record, with_time="t" not in flags) + "\n")
        shown = len(records)
        server.flush(inv)

    interrupted = False
    try:
        while not enough():
            seen = len(capture.records)
            server.scheduler.wait_for(inv.pid, partial(_more, capture, seen))
            if streaming:
                with server.lock:
                    stream()
    except Interrupted:
        interrupted = True  # tcpdump's handler: stop, print what was captured and the counts
    except Cancelled:
        with server.lock:
            capture.stop()
        raise
    with server.lock:
        records = pcap.read(capture.stop())
    if count is not None:
        records = records[:count]
    if streaming:
        for record in records[shown:]:
            inv.stdout.write(formatter.line(record, with_time="t" not in flags) + "\n")
    else:
        front._emit(ctx, records, values, flags)
    if interrupted and "w" not in values:
        inv.stdout.write("\n")  # print_packets_stats: a new line after ^C
    inv.stderr.write(f"{len(records)} packets captured\n{len(records)} packets received by "
                     "filter\n0 packets dropped by kernel\n")
    return 0


def _more(capture: Capture, seen: int) -> bool:
    return len(capture.records) > seen
