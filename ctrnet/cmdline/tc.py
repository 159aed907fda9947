"""`tc qdisc` (iproute2 6.1) on a Backend: a token-bucket filter as a device's root qdisc —
add, replace, change, del, show (text and -j) — the one shaping the guide teaches. Sizes,
rates and times are parsed and printed with tc's units (get_size/get_rate/get_time,
sprint_size/sprint_rate); any other qdisc, class or filter is refused loudly.
"""

from __future__ import annotations

import errno
import re
from typing import Any

from ctrnet.backend import Backend
from ctrnet.cmdline.context import (
    CommandFailed,
    Context,
    Unsupported,
    matches,
    namespace_exists,
)
from ctrnet.cmdline.ip_common import dump_json
from ctrnet.errors import CtrnetError
from ctrnet.types import Qdisc, QdiscStats

_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1 << 20, "mb": 1 << 20,
               "g": 1 << 30, "gb": 1 << 30, "kbit": 1024 / 8, "mbit": (1 << 20) / 8,
               "gbit": (1 << 30) / 8}
_RATE_UNITS = {"": 1, "bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
               "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9, "tbps": 8e12,
               "kibit": 1024, "mibit": 1 << 20, "gibit": 1 << 30}
_TIME_UNITS = {"": 1e-6, "s": 1.0, "sec": 1.0, "secs": 1.0, "ms": 1e-3, "msec": 1e-3,
               "msecs": 1e-3, "us": 1e-6, "usec": 1e-6, "usecs": 1e-6}
_NUMBER = re.compile(r"^(\d+(?:\.\d+)?)([a-zA-Z]*)$")
#: The refcnt this machine's kernel (6.18) shows for a veth's root qdisc: noqueue 2, tbf 3.
_REFCNT = {"noqueue": 2, "tbf": 3}
_U32_MAX = 0xFFFFFFFF
_TBF_USAGE = ("Usage: ... tbf limit BYTES burst BYTES[/BYTES] rate KBPS [ mtu BYTES[/BYTES] ]\n"
              "\t[ peakrate KBPS ] [ latency TIME ] [ overhead BYTES ] [ linklayer TYPE ]\n")


def _shaper(ctx: Context) -> Backend:
    """The backend, whose traffic-control operations `tc` drives (part of the protocol)."""
    return ctx.backend


def _value(text: str, units: dict[str, float], what: str) -> float:
    found = _NUMBER.match(text)
    if not found or found.group(2).lower() not in units:
        raise CommandFailed(f'tbf: illegal value for "{what}": "{text}"\n', 1)
    return float(found.group(1)) * units[found.group(2).lower()]


def _size(text: str, what: str) -> int:
    """get_size(): bytes as a u32; more is an illegal value, not a wrapped one."""
    size = int(_value(text, _SIZE_UNITS, what))
    if size > _U32_MAX:
        raise CommandFailed(f'tbf: illegal value for "{what}": "{text}"\n', 1)
    return size


def sprint_rate(bits: float) -> str:
    """tc_util.c sprint_rate(): 1000-based units, stepping up while the value divides."""
    rate = int(bits)
    units = ["", "K", "M", "G", "T"]
    i = 0
    while i < len(units) - 1:
        if rate < 1000 or (rate % 1000 and rate < 1000 * 1000):
            break
        rate //= 1000
        i += 1
    return f"{rate}{units[i]}bit"


def sprint_size(size: int) -> str:
    """tc_util.c sprint_size(): Mb or Kb when (nearly) a whole number of them, else bytes."""
    if size >= 1 << 20 and abs((1 << 20) * round(size / (1 << 20)) - size) < 1024:
        return f"{round(size / (1 << 20))}Mb"
    if size >= 1024 and abs(1024 * round(size / 1024) - size) < 16:
        return f"{round(size / 1024)}Kb"
    return f"{size}b"


def sprint_time(seconds: float) -> str:
    usec = seconds * 1e6
    if usec >= 1e6:
        return f"{round(usec / 1e6, 1):g}s"
    if usec >= 1e3:
        return f"{round(usec / 1e3, 1):g}ms"
    return f"{int(usec)}us"


def _parse_tbf(argv: list[str]) -> tuple[int, int, float]:
    """tbf_parse_opt() of iproute2 6.1, as the real tc answers (checked against it): a value it
    cannot parse or that overflows its u32 is an illegal value; a rate, burst, limit or
    latency that comes out 0 (rate below 8 bit/s, latency below 1 us, or wrapped to 0 as tc's
    u32 microseconds do) counts as not given; each keyword once, limit or latency not both."""
    rate = burst = limit = latency_us = 0
    seen: set[str] = set()
    args = list(argv)
    while args:
        word = args.pop(0)
        if word in ("burst", "buffer", "maxburst"):
            key = "buffer/burst/maxburst"
        elif word in ("latency", "lat"):
            key = "latency"
        elif word in ("rate", "limit"):
            key = word
        else:
            raise Unsupported("tc", f"tbf option {word!r}")
        if not args:
            raise CommandFailed('Command line is not complete. Try option "help"\n', 255)
        value = args.pop(0)
        if key in seen:
            raise CommandFailed(f'tbf: duplicate "{key}" specification\n', 1)
        if key in ("limit", "latency") and ({"limit", "latency"} - {key}) & seen:
            both = '"limit" and "/latency"' if key == "latency" else '"latency" and "limit"'
            raise CommandFailed(f"tbf: specifying both {both} is not allowed\n", 1)
        seen.add(key)
        if key == "rate":
            bits = _value(value, _RATE_UNITS, "rate")
            # get_rate64(): bytes/s as a u64; a value beyond it comes out 0 (no rate).
            rate = int(bits / 8) if bits / 8 < 2**64 else 0
        elif key == "limit":
            limit = _size(value, "limit")
        elif key == "latency":
            micros = _value(value, _TIME_UNITS, "latency") * 1e6
            # get_time() leaves tc a u32 of microseconds: it wraps, and wrapped to 0 is unset.
            latency_us = int(micros) % 2**32 if micros < 2**64 else 0
        else:
            burst = _size(value, word)
    problems = ""
    if not rate:
        problems += 'tbf: the "rate" parameter is mandatory.\n'
    if not burst:
        problems += 'tbf: the "burst" parameter is mandatory.\n'
    if not latency_us and not limit:
        problems += 'tbf: either "limit" or "latency" is required.\n'
    if problems:
        raise CommandFailed(problems + _TBF_USAGE, 1)
    if rate > _U32_MAX:
        # tc sends TCA_TBF_RATE64 for these; the backends keep the u32 rate of TCA_TBF_PARMS.
        raise Unsupported("tc", f"tbf rate above {sprint_rate(_U32_MAX * 8)} (TCA_TBF_RATE64)")
    if burst * 1e6 / rate * _TICKS_PER_USEC >= 2**32:
        # tc keeps the burst as its transmit time at `rate` in a u32 of psched ticks and
        # wraps what does not fit (tc_calc_xmittime): the kernel then shapes with the wrapped
        # value. Not modelled: refused rather than shaped differently.
        raise Unsupported("tc", "a tbf burst that takes 4.29 s or more to send at its rate "
                                "(tc wraps its 32-bit transmit time)")
    if latency_us:
        latency = latency_us / 1e6
    else:
        # tbf_print_opt(): latency = limit/rate - burst/rate, in the units tc prints.
        latency = max(0.0, (limit - burst) / rate)
    return rate * 8, burst, latency


def _device(ctx: Context, name: str) -> None:
    if all(link.name != name for link in ctx.backend.link_list(ctx.ns)):
        raise CommandFailed(f'Cannot find device "{name}"\n', 1)


def qdisc_modify(ctx: Context, verb: str, argv: list[str]) -> int:
    dev: str | None = None
    kind: str | None = None
    rest: list[str] = []
    args = list(argv)
    while args:
        word = args.pop(0)
        if word == "dev" and args:
            dev = args.pop(0)
        elif word == "root":
            pass
        elif word in ("parent", "handle", "ingress", "clsact", "estimator", "stab"):
            raise Unsupported("tc", f"qdisc {word}")
        else:
            kind, rest = word, args
            break
    if dev is None:
        raise Unsupported("tc", "qdisc without dev")
    # tc_qdisc_modify() runs the qdisc's option parser before it looks the device up.
    options = _parse_tbf(rest) if verb != "del" and kind == "tbf" else None
    _device(ctx, dev)
    shaper = _shaper(ctx)
    try:
        if verb == "del":
            if kind is not None:
                raise Unsupported("tc", f"qdisc del … {kind}")
            shaper.tc_qdisc_delete(ctx.ns, dev)
            return 0
        if kind != "tbf" or options is None:
            raise Unsupported("tc", f"qdisc {kind!r} (only tbf)")
        rate, burst, latency = options
        if verb == "add" and shaper.tc_qdisc_get(ctx.ns, dev).kind == "tbf":
            raise CommandFailed("Error: Exclusivity flag on, cannot modify.\n", 2)
        if verb == "change" and shaper.tc_qdisc_get(ctx.ns, dev).kind != "tbf":
            raise CommandFailed("Error: Specified qdisc not found.\n", 2)
        shaper.tc_tbf_set(ctx.ns, dev, rate_bps=rate, burst=burst, latency=latency)
    except CtrnetError as err:
        if err.errno == errno.ENOENT and verb == "del":
            raise CommandFailed("Error: Cannot delete qdisc with handle of zero.\n", 2) from err
        raise CommandFailed(f"RTNETLINK answers: {err}\n", 2) from err
    return 0


#: tc's clock: /proc/net/psched on a kernel with 1 ns resolution makes one tick 1/1000 µs.
_TICKS_PER_USEC = 1000


def shown_burst(rate_bytes: int, burst: int) -> int:
    """The burst tc prints: tbf keeps it as the time to send it at `rate` (in ticks,
    truncated: tc_calc_xmittime), and tc turns that back into bytes (tc_calc_xmitsize)."""
    if rate_bytes <= 0:
        return burst
    ticks = int(1e6 * burst / rate_bytes * _TICKS_PER_USEC)
    return int(rate_bytes * (ticks / _TICKS_PER_USEC) / 1e6)


def _entry(q: Qdisc, handle: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"kind": q.kind, "handle": f"{handle:x}:" if handle else "0:"}
    entry["root"] = True
    entry["refcnt"] = _REFCNT.get(q.kind, 2)
    if q.kind == "tbf":
        rate = (q.rate_bps or 0) // 8
        entry["options"] = {"rate": rate, "burst": shown_burst(rate, q.burst or 0),
                            "lat": round((q.latency or 0) * 1e6)}
    return entry


def _stats(q: Qdisc) -> QdiscStats:
    if q.stats is None:
        raise Unsupported("tc", f"-s on this {q.kind} qdisc (it has delayed or dropped "
                                "frames: the kernel's overlimit count is not modelled)")
    return q.stats


def qdisc_show(ctx: Context, argv: list[str], json: bool, stats: bool = False) -> int:
    dev: str | None = None
    args = list(argv)
    while args:
        word = args.pop(0)
        if word == "dev" and args:
            dev = args.pop(0)
        elif word == "root":
            pass
        else:
            raise Unsupported("tc", f"qdisc show {word!r}")
    if dev is not None:
        _device(ctx, dev)
    entries = []
    shaper = _shaper(ctx)
    for link in ctx.backend.link_list(ctx.ns):
        if (dev is not None and link.name != dev) or not link.up:
            continue  # a device that is down has the noop qdisc, which tc does not list
        q = shaper.tc_qdisc_get(ctx.ns, link.name)
        # Automatic handles count up from 8001: (qdisc_alloc_handle); one per device here.
        entry = _entry(q, 0x8000 + link.index if q.kind == "tbf" else 0)
        if dev is None:
            entry = {"kind": entry.pop("kind"), "handle": entry.pop("handle"),
                     "dev": link.name, **entry}
        if stats:
            counts = _stats(q)
            entry.update(bytes=counts.bytes, packets=counts.packets, drops=counts.drops,
                         overlimits=counts.overlimits, requeues=0, backlog=0, qlen=0)
        entries.append(entry)
    if json:
        dump_json(ctx, entries)
        return 0
    for e in entries:
        line = f"qdisc {e['kind']} {e['handle']} " + (f"dev {e['dev']} " if "dev" in e else "")
        line += f"root refcnt {e['refcnt']} "
        if "options" in e:
            o = e["options"]
            line += (f"rate {sprint_rate(o['rate'] * 8)} burst {sprint_size(o['burst'])} "
                     f"lat {sprint_time(o['lat'] / 1e6)} ")
        ctx.out(line + "\n")
        if stats:
            ctx.out(f" Sent {e['bytes']} bytes {e['packets']} pkt (dropped {e['drops']}, "
                    f"overlimits {e['overlimits']} requeues 0) \n backlog 0b 0p requeues 0\n")
    return 0


def main(argv: list[str], ctx: Context) -> int:
    args = list(argv)
    json = stats = False
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt in ("-j", "-json", "--json"):
            json = True
        elif opt in ("-s", "-stats", "-statistics"):
            stats = True
        elif opt in ("-p", "-pretty", "-d", "-details"):
            raise Unsupported("tc", f"option {opt}")
        elif matches(opt, "-netns"):
            # tc.c tries -netns before -names: "-n" is the namespace.
            # Without a name tc passes NULL on, which glibc's printf shows as "(null)".
            ns = args.pop(0) if args else "(null)"
            if not namespace_exists(ctx, ns):
                raise CommandFailed(
                    f'Cannot open network namespace "{ns}": No such file or directory\n', 255)
            ctx = ctx.in_namespace(ns)
        else:
            raise Unsupported("tc", f"option {opt}")
    if not args or args[0] != "qdisc":
        raise Unsupported("tc", f"object {args[0]!r}" if args else "no object")
    verb, rest = (args[1], args[2:]) if len(args) > 1 else ("show", [])
    if verb in ("add", "replace", "change", "del", "delete"):
        return qdisc_modify(ctx, "del" if verb.startswith("del") else verb, rest)
    if verb in ("show", "list", "ls"):
        return qdisc_show(ctx, rest, json, stats)
    raise Unsupported("tc", f"qdisc {verb}")


def run(argv: list[str], ctx: Context) -> int:
    """`tc ARGS…`; returns the exit status."""
    try:
        return main(argv, ctx)
    except CommandFailed as failure:
        ctx.err(failure.message)
        return failure.status
