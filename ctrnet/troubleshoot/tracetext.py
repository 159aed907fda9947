"""A packet trace for people, in the current language: the exchange's outcome, then each
packet's hops, and where it was dropped. (`--json` prints the trace's fields as they are.)"""

from __future__ import annotations

from ctrnet.i18n import say
from ctrnet.types import Direction, PacketTrace

_OUTCOMES_JA = {"answered": "応答あり", "refused": "拒否された", "unreachable": "到達不能",
                "timeout": "タイムアウト"}


def render(trace: PacketTrace) -> str:
    target = trace.dst + (f":{trace.port}" if trace.port is not None else "")
    outcome = say(trace.outcome, _OUTCOMES_JA.get(trace.outcome, trace.outcome))
    lines = [say(f"trace {trace.proto} from {trace.src_ns} to {target}: {outcome}",
                 f"trace {trace.proto} {trace.src_ns} から {target} へ: {outcome}")]
    current: Direction | None = None
    for hop in trace.hops:
        if hop.direction is not current:
            current = hop.direction
            label = say(current.value, "要求" if current is Direction.REQUEST else "返信")
            lines.append(f"-- {label}")
        lines.append("  " + hop.text())
    dropped = trace.dropped()
    if dropped is not None:
        lines.append(say(f"dropped in {dropped.ns}: {dropped.detail}",
                         f"{dropped.ns} で破棄: {dropped.detail}"))
    return "\n".join(lines)
