"""Root qdiscs over the namespace's own rtnetlink channel: set a tbf, delete, read back.

The tbf parameters are encoded by pyroute2's tc plugin (the rate table and the burst in
scheduler ticks, as tc(8) computes them), but the message is built here and sent on the
namespace's cached socket, and what the kernel then holds is read back, not assumed. The
kernel keeps rate in bytes/s, burst as a transmit time in ticks and the queue as a byte
`limit`; tc(8) turns them back into burst bytes and latency the way `_tbf_view` does.
"""

from __future__ import annotations

import errno
import struct
from typing import Any

from pyroute2.netlink.rtnl import RTM_DELQDISC, RTM_GETQDISC, RTM_NEWQDISC, TC_H_ROOT
from pyroute2.netlink.rtnl.tcmsg import common as tc_common
from pyroute2.netlink.rtnl.tcmsg import sched_tbf, tcmsg

from ctrnet.errors import from_errno
from ctrnet.types import Qdisc

from .errors import kernel_errors
from .spaces import Space

_NLM_F_REPLACE = 0x100
_NLM_F_CREATE = 0x400
#: tc's TIME_UNITS_PER_SEC: tbf times are microseconds before they become ticks.
_USEC = 1_000_000
#: TCA_TBF_PARMS carries the rate as u32 bytes/s; faster needs TCA_TBF_RATE64, not sent here.
_MAX_RATE_BPS = 0xFFFFFFFF * 8
#: The handle tc(8) gives a root qdisc added without one ("1:").
_ROOT_HANDLE = 0x10000


def _msg(index: int, **fields: int) -> Any:
    msg = tcmsg()
    msg["family"] = 0
    msg["index"] = index
    msg["handle"] = fields.get("handle", 0)
    msg["parent"] = fields.get("parent", TC_H_ROOT)
    msg["info"] = 0
    return msg


def tbf_set(space: Space, dev: str, *, rate_bps: int, burst: int, latency: float) -> None:
    where = f"tbf on {dev} in namespace {space.name}"
    if not 0 < rate_bps <= _MAX_RATE_BPS or burst <= 0 or latency < 0:
        # tc(8) refuses these before asking the kernel (and a zero rate has no transmit time).
        raise from_errno(errno.EINVAL, f"{where}: rate {rate_bps} bit/s, burst {burst} B, "
                                       f"latency {latency} s out of range")
    try:
        params = sched_tbf.get_parameters(
            {"rate": rate_bps / 8, "burst": burst, "latency": latency * _USEC})
        with kernel_errors(where):
            index = space.rtnl.link_index(dev)
            msg = _msg(index, handle=_ROOT_HANDLE)
            msg["attrs"] = [("TCA_KIND", "tbf"), ("TCA_OPTIONS", params)]
            space.rtnl.request(msg, RTM_NEWQDISC, _NLM_F_CREATE | _NLM_F_REPLACE)
    except struct.error as exc:
        # The burst (or the queue limit) as a transmit time in ticks overflows tbf's u32
        # fields (a big burst, a very slow rate): tc(8) would wrap it; we refuse it rather
        # than shape with a wrapped value. Nothing was sent: encoding failed first.
        raise from_errno(errno.ERANGE, f"{where}: rate {rate_bps} bit/s, burst {burst} B, "
                                       f"latency {latency} s do not fit tbf's 32-bit fields"
                         ) from exc


def qdisc_delete(space: Space, dev: str) -> None:
    # The kernel answers ENOENT ("Cannot delete qdisc with handle of zero") for a device's
    # default root qdisc (noqueue/noop/pfifo_fast): only an added one can go.
    with kernel_errors(f"deleting the root qdisc of {dev} in namespace {space.name}"):
        index = space.rtnl.link_index(dev)
        space.rtnl.request(_msg(index), RTM_DELQDISC)


def qdisc_get(space: Space, dev: str) -> Qdisc:
    with kernel_errors(f"root qdisc of {dev} in namespace {space.name}"):
        index = space.rtnl.link_index(dev)
        msgs = space.rtnl.dump(_msg(0, parent=0), RTM_GETQDISC)
    for msg in msgs:
        if int(msg["index"]) == index and int(msg["parent"]) == TC_H_ROOT:
            kind = str(msg.get_attr("TCA_KIND"))
            if kind == "tbf":
                return _tbf_view(space.name, dev, msg)
            return Qdisc(ns=space.name, dev=dev, kind=kind)
    # A device that is down holds the built-in noop qdisc, which a dump never shows
    # (TCQ_F_BUILTIN); tc(8) lists nothing for it either.
    return Qdisc(ns=space.name, dev=dev, kind="noop")


def _tbf_view(ns: str, dev: str, msg: Any) -> Qdisc:
    """rate/burst/latency as tc(8) prints them (q_tbf.c tbf_print_opt)."""
    options = msg.get_attr("TCA_OPTIONS")
    parms = options.get_attr("TCA_TBF_PARMS") if options is not None else None
    if parms is None:
        return Qdisc(ns=ns, dev=dev, kind="tbf")
    rate = int(parms["rate"])  # bytes/s
    rate64 = options.get_attr("TCA_TBF_RATE64")
    if rate64:
        rate = int(rate64)
    buffer_us = int(parms["buffer"]) / tc_common.tick_in_usec  # ticks -> microseconds
    burst = round(rate * buffer_us / _USEC)
    latency_us = _USEC * int(parms["limit"]) / rate - buffer_us
    return Qdisc(ns=ns, dev=dev, kind="tbf", rate_bps=rate * 8, burst=burst,
                 latency=round(latency_us) / _USEC)
