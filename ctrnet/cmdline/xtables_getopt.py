"""iptables' command line as getopt_long(3) hands it to iptables 1.8.9 (xshared.c), turned
into the one-word-per-option form the rule model's parser reads.

- short options cluster (`-nvL`), a value may be attached (`-tnat`, `-AINPUT`); the optional
  chain of -L/-S/-F/-Z/-X is taken only when attached (`-nvLINPUT`), otherwise iptables looks
  at the next word itself;
- a long option may be any unique prefix (`--to` for `--to-destination`, `--dp` for
  `--dport`) of the options known at that point: the global ones, and those of the matches
  and target loaded so far (`-m NAME`, `-j NAME`, the implicit match of `-p tcp|udp|icmp`);
  an ambiguous prefix (`--d`, `--lis`) is an unknown option, as iptables reports it;
- `--opt=value` gives the value;
- the rule options -s -d -p -i -o -j -g take `argv[optind-1]`, not optarg, in 1.8.9: an
  attached value (`-s1.2.3.4`, `--jump=DROP`) makes the whole word the value, which is what
  the kernel's iptables then complains about ("host/network `-s1.2.3.4' not found").

Extension option lists are the real extensions' full lists, so a prefix is resolved against
what iptables would see; an option this simulator's rule model does not implement then fails
loudly as unsupported instead of with a look-alike error.
"""

from __future__ import annotations

from ctrnet.cmdline.context import Unsupported
from ctrnet.netfilter.extensions import MATCHES, TARGETS

#: The short-option string of iptables 1.8.9 (OPTSTRING_COMMON + IPT_OPTSTRING):
#: letter -> 0 no argument, 1 required, 2 optional (attached only).
_SHORT = {
    **dict.fromkeys("V46bfnvx", 0),
    **dict.fromkeys("ACDEIMNPRcdijopstgm", 1),
    **dict.fromkeys("FLXZSWhw", 2),
}
#: Options whose value iptables reads from argv[optind-1] (the whole word when attached).
_WHOLE_WORD = frozenset("sdpiojg")
#: iptables' own long options (original_opts): name -> argument kind, short equivalent.
_GLOBAL_LONG: dict[str, tuple[int, str]] = {
    "--append": (1, "-A"), "--delete": (1, "-D"), "--insert": (1, "-I"),
    "--replace": (1, "-R"), "--list": (2, "-L"), "--list-rules": (2, "-S"),
    "--flush": (2, "-F"), "--zero": (2, "-Z"), "--new-chain": (1, "-N"),
    "--delete-chain": (2, "-X"), "--rename-chain": (1, "-E"), "--policy": (1, "-P"),
    "--source": (1, "-s"), "--src": (1, "-s"), "--destination": (1, "-d"),
    "--dst": (1, "-d"), "--protocol": (1, "-p"), "--in-interface": (1, "-i"),
    "--jump": (1, "-j"), "--table": (1, "-t"), "--match": (1, "-m"),
    "--numeric": (0, "-n"), "--out-interface": (1, "-o"), "--verbose": (0, "-v"),
    "--wait": (2, "-w"), "--wait-interval": (2, "-W"), "--exact": (0, "-x"),
    "--fragment": (0, "-f"), "--version": (0, "-V"), "--help": (2, "-h"),
    "--line-numbers": (0, "--line-numbers"), "--modprobe": (1, "--modprobe"),
    "--set-counters": (1, "-c"), "--goto": (1, "-g"), "--ipv4": (0, "-4"),
    "--ipv6": (0, "-6"), "--check": (1, "-C"),
}
#: The real extensions' long options (libxt_*.c / libipt_*.c of iptables 1.8.9): name ->
#: takes an argument.
_PORTS = {"--source-port": True, "--sport": True, "--destination-port": True, "--dport": True}
_NAT = {"--random": False, "--random-fully": False, "--persistent": False}
EXTENSION_LONG: dict[str, dict[str, bool]] = {
    "tcp": {**_PORTS, "--syn": False, "--tcp-flags": True, "--tcp-option": True},
    "udp": dict(_PORTS),
    "icmp": {"--icmp-type": True},
    "multiport": {"--source-ports": True, "--sports": True, "--destination-ports": True,
                  "--dports": True, "--ports": True},
    "conntrack": {name: True for name in (
        "--ctstate", "--ctproto", "--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst",
        "--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport",
        "--ctstatus", "--ctexpire", "--ctdir")},
    "state": {"--state": True},
    "addrtype": {"--src-type": True, "--dst-type": True, "--limit-iface-in": False,
                 "--limit-iface-out": False},
    "comment": {"--comment": True},
    "mark": {"--mark": True},
    "physdev": {"--physdev-in": True, "--physdev-out": True, "--physdev-is-in": False,
                "--physdev-is-out": False, "--physdev-is-bridged": False},
    "REJECT": {"--reject-with": True},
    "LOG": {"--log-level": True, "--log-prefix": True, "--log-tcp-sequence": False,
            "--log-tcp-options": False, "--log-ip-options": False, "--log-uid": False,
            "--log-macdecode": False},
    "MARK": {"--set-xmark": True, "--set-mark": True, "--and-mark": True, "--or-mark": True,
             "--xor-mark": True},
    "SNAT": {"--to-source": True, **_NAT},
    "DNAT": {"--to-destination": True, **_NAT},
    "MASQUERADE": {"--to-ports": True, "--random": False, "--random-fully": False},
    "TRACE": {},
}
_IMPLICIT = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp", "icmp": "icmp", "1": "icmp"}


def _modelled(extension: str, option: str) -> bool:
    ext = MATCHES.get(extension) or TARGETS.get(extension)
    return ext is not None and ext().canonical(option) is not None


def canonical_argv(argv: list[str]) -> list[str]:
    """`argv` with every option as its own word, spelled in full."""
    out: list[str] = []
    loaded: list[str] = []  # extensions whose options are known, most recent last
    i = 0

    def value(word_value: str | None, whole: str, short: str) -> str | None:
        """The option's value: attached (or the whole word, for argv[optind-1] options), else
        the next word; None when the line ends (the parser reports the missing argument)."""
        nonlocal i
        if word_value is not None:
            return whole if short.lstrip("-") in _WHOLE_WORD and len(short) == 2 else word_value
        if i < len(argv):
            i += 1
            return argv[i - 1]
        return None

    def emit(short: str, val: str | None) -> None:
        out.append(short)
        if val is not None:
            out.append(val)
        if short == "-m" and val is not None:
            loaded.append(val)
        elif short in ("-j", "-g") and val is not None:
            loaded.append(val)
        elif short == "-p" and val is not None and val.lower() in _IMPLICIT:
            loaded.append(_IMPLICIT[val.lower()])

    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            out += argv[i - 1:]
            break
        if word.startswith("--"):
            name, eq, attached = word.partition("=")
            full, kind, short = _resolve_long(name, loaded)
            if full is None:
                out.append(word)  # unknown or ambiguous: the parser says "unknown option"
                continue
            if kind == 0:
                out.append(short if not eq else word)
                continue
            if kind == 2:
                out.append(short)
                if eq:
                    out.append(attached)
                continue
            emit(short, value(attached if eq else None, word, short))
            continue
        if not word.startswith("-") or word == "-" or len(word) < 2 or word[1].isdigit():
            out.append(word)
            continue
        j = 1
        while j < len(word):
            letter = word[j]
            j += 1
            short_kind = _SHORT.get(letter)
            if short_kind is None:
                out.append(f"-{letter}")  # unknown: the parser reports it
                continue
            if short_kind == 0:
                out.append(f"-{letter}")
                continue
            rest = word[j:] if j < len(word) else None
            if short_kind == 2:
                out.append(f"-{letter}")
                if rest is not None:
                    out.append(rest)
                break
            emit(f"-{letter}", value(rest, word, f"-{letter}"))
            break
    return out


def _resolve_long(name: str, loaded: list[str]) -> tuple[str | None, int, str]:
    """(full name, argument kind, word to emit) of `name`, getopt_long's exact-or-unique-prefix
    rule over the options iptables knows at this point; (None, 0, "") if unknown/ambiguous."""
    known: dict[str, tuple[int, str, str | None]] = {
        opt: (kind, short, None) for opt, (kind, short) in _GLOBAL_LONG.items()}
    for ext in loaded:
        for opt, takes in EXTENSION_LONG.get(ext, {}).items():
            known.setdefault(opt, (1 if takes else 0, opt, ext))
    candidates = [name] if name in known else [
        opt for opt in known if opt.startswith(name) and len(name) > 2]
    if len(candidates) != 1:
        return None, 0, ""
    full = candidates[0]
    kind, short, owner = known[full]
    if owner is not None and not _modelled(owner, full):
        raise Unsupported("iptables", f"option {full} of {owner}")
    return full, kind, short
