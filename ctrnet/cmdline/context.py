"""What a simulated command runs with: the `Context` (backend, current namespace, text streams,
environment, the hook that runs a command in another namespace), and the failures a command
ends with (`CommandFailed` carries the exact stderr text and exit status the real tool gives;
`Unsupported` is the loud refusal of anything this front-end does not implement).
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from ctrnet.backend import Backend

if TYPE_CHECKING:
    from ctrnet.netfilter.ebtables import EbtablesFilter
    from ctrnet.netfilter.ruleset import Ruleset

#: Runs argv inside a namespace and returns its exit status (`ip netns exec NS CMD...`).
ExecHook = Callable[[str, list[str]], int]
#: The live iptables state (or ebtables filter table) of a namespace, for a backend that
#: holds them as data — the simulator. iptables verbs the Backend protocol cannot express
#: (`-L -v`, `-D CHAIN N`, `-C`) act on it directly.
RulesetHook = Callable[[str], "Ruleset"]
EbtablesHook = Callable[[str], "EbtablesFilter"]


class CommandFailed(Exception):
    """A command ends: `message` goes to stderr as is (no newline added), `status` is the exit
    status. `fatal` marks failures that make the real tool call exit() at once, which also ends
    an `ip -batch` run without its "Command failed" line."""

    def __init__(self, message: str, status: int, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.fatal = fatal


class Unsupported(CommandFailed):
    """This front-end does not implement the option or form: exit 2, never a silent no-op."""

    def __init__(self, tool: str, what: str) -> None:
        super().__init__(f"ctrnet sim: {tool}: {what} is not supported\n", 2, fatal=True)


@dataclass
class Context:
    """One command's world: the backend it acts on and the namespace it runs in.

    `ns` defaults to the backend's host namespace; streams default to fresh StringIO buffers,
    so a test can read what a command printed from `ctx.stdout.getvalue()`.
    """

    backend: Backend
    ns: str = ""
    stdin: TextIO = field(default_factory=io.StringIO)
    stdout: TextIO = field(default_factory=io.StringIO)
    stderr: TextIO = field(default_factory=io.StringIO)
    env: Mapping[str, str] = field(default_factory=dict)
    exec_hook: ExecHook | None = None
    ruleset_hook: RulesetHook | None = None
    ebtables_hook: EbtablesHook | None = None
    #: The namespace names in the order `ls /run/netns` gives them — newest first, as tmpfs
    #: lists a directory — when the backend knows creation order; else sorted.
    netns_order: Callable[[], list[str]] | None = None

    def __post_init__(self) -> None:
        if not self.ns:
            self.ns = self.backend.host_ns

    def in_namespace(self, ns: str) -> Context:
        """The same context acting in `ns` (what `ip -n NS` and `ip netns exec NS` switch to)."""
        return dataclasses.replace(self, ns=ns)

    def exec_in_namespace(self, ns: str, argv: list[str]) -> int:
        """Run `argv` in `ns`. Needs a process runner, which the command layer does not have:
        without an `exec_hook` it refuses loudly."""
        if self.exec_hook is None:
            raise Unsupported("ip", "netns exec (no command runner attached)")
        return self.exec_hook(ns, argv)

    def ruleset(self, tool: str) -> Ruleset:
        """The current namespace's iptables state; refuses loudly without a hook."""
        if self.ruleset_hook is None:
            raise Unsupported(tool, "this backend (no rule model attached)")
        return self.ruleset_hook(self.ns)

    def bridge_filter(self) -> EbtablesFilter:
        """The current namespace's ebtables filter table; refuses loudly without a hook."""
        if self.ebtables_hook is None:
            raise Unsupported("ebtables", "this backend (no rule model attached)")
        return self.ebtables_hook(self.ns)

    def out(self, text: str) -> None:
        self.stdout.write(text)

    def err(self, text: str) -> None:
        self.stderr.write(text)


def matches(word: str, keyword: str) -> bool:
    """iproute2's matches(): `word` is a non-empty prefix of `keyword` ("li" matches "link")."""
    return 0 < len(word) <= len(keyword) and keyword.startswith(word)


def namespace_exists(ctx: Context, ns: str) -> bool:
    """Whether `ns` can be entered by name: the namespaces `ip netns add` made. The host
    namespace, like the root namespace on a real machine, has no name under /run/netns."""
    return ns in ctx.backend.netns_list()
