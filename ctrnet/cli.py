"""The `ctrnet` command line: the entry point people use. It parses arguments, calls the core
and prints; a mistake the user made comes out as one line on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO, cast

from ctrnet import __version__, cli_lazy, cli_network, cli_troubleshoot, i18n
from ctrnet.backend import SIMULATED_COMMAND_LINE, Backend
from ctrnet.compare import oracle
from ctrnet.errors import CtrnetError, oserror_ja
from ctrnet.grade import command as grade_command
from ctrnet.registry import (
    KERNEL_SANDBOX,
    REGISTRY,
    BackendEntry,
    RootlessSandbox,
    entry,
    open_backend,
    run_sim_command,
    run_sim_shell,
)
from ctrnet.state import default_state_dir
from ctrnet.worldlock import sim_run_holding

#: What each kind of error means, for the Japanese line (its detail: the error's Japanese
#: wording, `CtrnetError.in_lang`).
_KINDS_JA = {"NotFound": "見つかりません", "AlreadyExists": "すでに存在します",
             "InvalidConfig": "設定の誤り", "PoolExhausted": "アドレスが尽きました",
             "Unreachable": "到達できません", "PermissionDenied": "権限がありません",
             "Busy": "使用中です", "InvalidArgument": "引数の誤り"}


def error_line(exc: CtrnetError) -> str:
    """The one line a user's mistake gets, in the current language."""
    if i18n.current() != "ja":
        return str(exc)
    kind = next((_KINDS_JA[k.__name__] for k in type(exc).__mro__ if k.__name__ in _KINDS_JA),
                "エラー")
    return f"{kind}: {exc.in_lang('ja')}"


def _chosen(args: argparse.Namespace) -> BackendEntry | None:
    """The registry entry of the backend the command acts on (None: it names none)."""
    name = getattr(args, "backend", None)
    return None if name is None else entry(name)


def _throwaway_sandbox(args: argparse.Namespace) -> RootlessSandbox | None:
    """The rootless sandbox a command re-runs in first, without root, when it works on
    throw-away worlds only (which the sandbox can hold: they end with the process), as
    opposed to the operator's persistent ones; None for the others."""
    if args.command == "sim":  # `sim compare`: its kernel side
        return KERNEL_SANDBOX if args.sim_command == "compare" else None
    if args.command == "backends":  # to open one world of each
        return next((e.rootless for e in REGISTRY.values() if e.rootless is not None), None)
    chosen = _chosen(args)
    if args.command in ("conformance", "grade") and chosen is not None:
        return chosen.rootless
    return None


def _cmd_backends(args: argparse.Namespace) -> int:
    """List the backends and what each can do here."""
    for name, known in REGISTRY.items():
        reason = known.unavailable()
        mode, why = known.rootless.mode() if known.rootless is not None else ("", "")
        if reason is not None:
            print(f"{name:8} unavailable: {why if mode == 'unavailable' else reason}")
            continue
        with open_backend(name) as world:
            shown = f"[{mode}: {why}] " if mode else ""
            print(f"{name:8} {shown}{' '.join(sorted(world.capabilities))}")
    return 0


def _cmd_conformance(args: argparse.Namespace) -> int:
    """Run the conformance suite shipped in the package against one backend."""
    extra = list(args.pytest_args)
    if extra and extra[0] == "--":  # `ctrnet conformance -- -k fdb`: the separator is ours
        extra = extra[1:]
    argv = ["--pyargs", "ctrnet.conformance", "--backend", args.backend, *extra]
    return cli_lazy.run_conformance(argv)


def _cmd_sim_exec(args: argparse.Namespace) -> int:
    """Run a command with the simulator's shims (ip, iptables, ping…) first on its PATH."""
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(i18n.say("ctrnet sim exec: no command given (ctrnet sim exec -- CMD [ARGS...])",
                       "ctrnet sim exec: コマンドがありません（ctrnet sim exec -- CMD "
                       "[ARGS...]）"), file=sys.stderr)
        return 2
    return run_sim_command(argv, args.state, in_world=in_world)


def _cmd_sim_compare(args: argparse.Namespace) -> int:
    """Run a command on both backends; print the differences of every tool invocation."""
    return oracle.main(args.argv, state_dir=args.state, timeout=args.timeout)


def _cmd_sim_shell(args: argparse.Namespace) -> int:
    """An interactive shell in the simulator."""
    return run_sim_shell(args.state, in_world=in_world)


def _add_sim_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet sim exec|shell`: the guide's commands, and any script, on the simulator."""
    say = i18n.say
    sim = sub.add_parser("sim", help=say("run commands or a shell against a simulated world",
                                         "シミュレーションの世界でコマンドやシェルを実行する"))
    verbs = sim.add_subparsers(dest="sim_command", required=True, metavar="VERB")
    state_help = say("keep the world in DIR: it is loaded before and saved after the run "
                     "(default: a fresh world, discarded)",
                     "世界を DIR に保つ: 実行前に読み込み、実行後に保存する（既定: 新しい世界"
                     "を使い、終了時に捨てる）")
    # `--state ""` is a mistake, not "a fresh world" (the same rule as --state-dir).
    state_dir = cli_network._arg(cli_network._state_dir_arg)
    p = verbs.add_parser("exec", help=say("run CMD with ip, iptables, ping… acting on the world",
                                          "ip・iptables・ping… がその世界に作用する状態で CMD "
                                          "を実行する"))
    p.add_argument("--state", metavar="DIR", help=state_help, type=state_dir)
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    p.set_defaults(func=_cmd_sim_exec)
    p = verbs.add_parser("shell", help=say("an interactive shell in the simulated world",
                                           "シミュレーションの世界の対話シェル"))
    p.add_argument("--state", metavar="DIR", help=state_help, type=state_dir)
    p.set_defaults(func=_cmd_sim_shell)
    p = verbs.add_parser("compare", help=say(
        "run CMD on the simulator and on the real kernel and print the differences of every "
        "tool invocation, or \"identical\"",
        "CMD をシミュレータと実際のカーネルで実行し、各ツール呼び出しの違い（なければ "
        "\"identical\"）を表示する"))
    p.add_argument("--state", metavar="DIR", type=state_dir,
                   help=say("the simulator's side keeps its world in DIR "
                            "(the kernel's side always starts from an empty sandbox)",
                            "シミュレータ側は世界を DIR に保つ（カーネル側は常に空の"
                            "サンドボックスから始まる）"))
    p.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                   help=say("real seconds each side may take (default: 120)",
                            "それぞれの側にかけてよい実時間の秒数（既定: 120）"))
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD [ARGS...]")
    p.set_defaults(func=_cmd_sim_compare)


def _add_grade_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet grade`: an implementation against the guide's six-item checklist."""
    p = sub.add_parser("grade", help=i18n.say("grade ctrnet or a CNI plugin against the "
                                              "checklist",
                                              "ctrnet か CNI プラグインをチェックリストで"
                                              "採点する"))
    grade_command.add_arguments(p)
    p.set_defaults(func=cli_lazy.run_grade)  # imports the grader (and pytest) when it runs


def _add_troubleshoot_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ctrnet capture|trace|doctor|topology`: see `ctrnet.cli_troubleshoot`."""
    cli_troubleshoot.add_commands(sub)


class _Parser(argparse.ArgumentParser):
    """A usage mistake is one line too (argparse would print the whole usage first); the
    subcommands' parsers inherit this class, so every command says it the same way."""

    def error(self, message: str) -> NoReturn:
        first = message.splitlines()[0] if message else ""
        self.exit(2, i18n.say(f"{self.prog}: error: {first} (see {self.prog} --help)\n",
                              f"{self.prog}: エラー: {first}（{self.prog} --help を参照）\n"))


def _lang_everywhere(parser: argparse.ArgumentParser) -> None:
    """`--lang` accepted after any command too (`ctrnet doctor --lang ja`), without a default
    of its own there, so that the global one (or the locale) stands when it is not given."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if "--lang" not in child._option_string_actions:
                    child.add_argument("--lang", choices=i18n.LANGS, default=argparse.SUPPRESS,
                                       help=argparse.SUPPRESS)
                _lang_everywhere(child)


def build_parser() -> argparse.ArgumentParser:
    say = i18n.say
    parser = _Parser(
        prog="ctrnet",
        description=say("A testbed and conformance suite for Linux container networking.",
                        "Linux のコンテナネットワークのテストベッドと適合性テストスイート。"),
    )
    parser.add_argument("--version", action="version", version=f"ctrnet {__version__}",
                        help=say("show the version and exit", "バージョンを表示して終了する"))
    parser.add_argument("--lang", choices=i18n.LANGS, default=None,
                        help=say("language of the output for people (default: from LC_ALL, "
                                 "LC_MESSAGES or LANG)",
                                 "人向けの出力の言語（既定: LC_ALL・LC_MESSAGES・LANG から）"))
    # Every subcommand's parser is a _Parser (argparse makes them of the parent's class).
    sub = cast("argparse._SubParsersAction[argparse.ArgumentParser]",
               parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))

    p = sub.add_parser("backends", help=say("list the backends and their capabilities",
                                            "バックエンドとその機能の一覧"))
    p.set_defaults(func=_cmd_backends)

    p = sub.add_parser("conformance", help=say("run the conformance suite against a backend",
                                               "バックエンドに対して適合性テストを実行する"))
    p.add_argument("--backend", choices=sorted(REGISTRY), default="sim",
                   help=say("the backend to test (default: sim)",
                            "テストするバックエンド（既定: sim）"))
    p.add_argument("pytest_args", nargs=argparse.REMAINDER,
                   help=say("passed on to pytest", "pytest にそのまま渡す"))
    p.set_defaults(func=_cmd_conformance)
    _add_sim_commands(sub)
    _add_grade_command(sub)
    cli_network.add_commands(sub)
    _add_troubleshoot_commands(sub)
    _lang_everywhere(parser)
    return parser


#: The commands whose parsed arguments carry `backend` and `state_dir`: they act on one world.
WORLD_COMMANDS = frozenset({"network", "connect", "disconnect", "ps", "gc", "doctor", "trace",
                            "capture", "topology"})


def in_world(argv: list[str], world: Backend, records: str, env: dict[str, str],
             stdout: TextIO, stderr: TextIO) -> int | None:
    """`ctrnet ARGV` typed inside `ctrnet sim exec|shell`, run on that run's `world` with its
    records in `records` (the simulator calls this, under its world lock); None when ARGV is
    not a command on a simulated world without its own --state-dir (the real ctrnet runs)."""
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            args = build_parser().parse_args(argv)
    except SystemExit:
        return None  # --help, --version or a usage error: the real ctrnet says it
    chosen = _chosen(args)
    if (args.command not in WORLD_COMMANDS or chosen is None
            or SIMULATED_COMMAND_LINE not in chosen.capabilities
            or getattr(args, "state_dir", "") is not None):
        return None
    if i18n.from_argv(argv) is None:
        argv = ["--lang", i18n.detect(env), *argv]  # the caller's locale, not ours
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr), \
            cli_network.injected(world):
        return main([*argv, "--state-dir", records])


def _world_held_by_a_sim_run(args: argparse.Namespace) -> str | None:
    """A world command on the simulator whose world a `ctrnet sim shell|exec --state` run
    holds would wait for that lock as long as the run lasts: say so instead (None: go on)."""
    chosen = _chosen(args)
    if chosen is None or SIMULATED_COMMAND_LINE not in chosen.capabilities \
            or not hasattr(args, "state_dir") or cli_network._injected:
        return None
    world_dir = os.path.join(args.state_dir or default_state_dir(chosen.name), "world")
    holder = sim_run_holding(world_dir)
    if holder is None:
        return None
    pid, what = holder
    return i18n.say(f"the simulated world in {world_dir} is in use by pid {pid} ({what}): "
                    "run this command inside it, where it acts on that world, or leave it "
                    "first",
                    f"{world_dir} のシミュレーション世界は pid {pid}（{what}）が使用中: "
                    "その中で実行するか（同じ世界に作用する）、先にそれを終了する")


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    asked = i18n.from_argv(words)
    i18n.localize_argparse()
    # Known before parsing, so that help and usage errors speak it too.
    i18n.set_lang(asked if asked in i18n.LANGS else i18n.detect())
    try:
        args = build_parser().parse_args(words)
    except SystemExit as exc:  # --help, --version or a usage error, printed already
        return exc.code if isinstance(exc.code, int) else 2
    i18n.set_lang(args.lang or i18n.detect())
    chosen = _chosen(args)
    throwaway = _throwaway_sandbox(args)
    if throwaway is not None:
        throwaway.enter()  # without root: re-run inside a rootless sandbox, if allowed
    elif chosen is not None and chosen.needs_root and os.geteuid() != 0:
        if chosen.rootless is None or not hasattr(args, "state_dir"):
            print(f"ctrnet: this command needs the {chosen.name} backend as root",
                  file=sys.stderr)
            return 1
        # The user's own state directory, chosen before becoming the sandbox's root.
        args.state_dir = args.state_dir or default_state_dir(chosen.name)
        try:
            chosen.rootless.join_keeper(args.state_dir)
        except OSError as exc:
            print(f"ctrnet: {i18n.say(str(exc.strerror or exc), oserror_ja(exc))}",
                  file=sys.stderr)
            return 1
    busy = _world_held_by_a_sim_run(args)
    if busy is not None:
        print(f"ctrnet: {busy}", file=sys.stderr)
        return 1
    try:
        code: int = args.func(args)
    except CtrnetError as exc:
        print(f"ctrnet: {error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(i18n.say("ctrnet: interrupted", "ctrnet: 中断されました"), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `ctrnet trace … | head`: the reader is gone, as for any tool that dies of SIGPIPE;
        # stdout is pointed at /dev/null so that the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        # The user's environment, not a bug: an unwritable or missing state directory, a
        # file given to -w that cannot be written. One line naming the file.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"ctrnet: {where}{i18n.say(str(exc.strerror or exc), oserror_ja(exc))}",
              file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
