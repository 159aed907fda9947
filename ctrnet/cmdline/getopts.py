"""Short-option parsing as glibc getopt(3) does it for iputils' ping and tcpdump: clustered
letters (`-nq`), values attached or separate (`-c3`, `-c 3`), operands anywhere before "--"
(argv is permuted), and the tools' own words and exit status for a bad option."""

from __future__ import annotations

from ctrnet.cmdline.context import CommandFailed, Unsupported


def parse_short(
    argv: list[str],
    *,
    tool: str,
    with_arg: str,
    flags: str,
    unsupported: str,
    status: int,
) -> tuple[dict[str, str], set[str], list[str]]:
    """(values, flags, operands) of `argv`; an unknown letter fails as `tool` would, one the
    simulator does not implement fails loudly as unsupported."""
    values: dict[str, str] = {}
    seen: set[str] = set()
    operands: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            operands += argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            operands.append(arg)
            continue
        j = 1
        while j < len(arg):
            letter = arg[j]
            j += 1
            if letter in with_arg:
                if j < len(arg):
                    values[letter] = arg[j:]
                elif i < len(argv):
                    values[letter] = argv[i]
                    i += 1
                else:
                    raise CommandFailed(
                        f"{tool}: option requires an argument -- '{letter}'\n", status)
                break
            if letter in flags:
                seen.add(letter)
            elif letter in unsupported:
                raise Unsupported(tool, f"option -{letter}")
            else:
                raise CommandFailed(f"{tool}: invalid option -- '{letter}'\n", status)
    return values, seen, operands
