"""`timeout` (coreutils) on the simulated run's virtual clock.

In a simulated run `sleep`, `nc -w` and a connect that waits for its SYN to be answered all
wait on the virtual clock, which moves only when every process of the run waits: the real
`timeout`, counting real seconds, would let `timeout 3 nc HOST PORT` run through the 127
virtual seconds of a DROPped connect in an instant. So `timeout` is a shim too: the server
answers it by exec'ing this script, which runs COMMAND as coreutils does (in its own process
group, the signal sent to the group) and counts DURATION with the `sleep` shim — virtual
seconds, like everything else in the run. Exit statuses are coreutils': 124 when the command
timed out (or its status with --preserve-status), 125 for timeout's own errors, 126/127 when
COMMAND cannot be run, else COMMAND's (128+N if a signal ended it).

Runs as `python -IS vtimeout.py ARGS…`: standard library only, no ctrnet import.
"""

import os
import signal
import sys

_SUFFIXES = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_USAGE = "Try 'timeout --help' for more information.\n"


def _fail(message: str, status: int = 125) -> None:
    sys.stderr.write(f"timeout: {message}\n")
    sys.exit(status)


def _duration(text: str) -> float:
    number, unit = text, ""
    if text and text[-1] in "smhd":
        number, unit = text[:-1], text[-1]
    try:
        value = float(number) * _SUFFIXES[unit]
    except ValueError:
        value = -1.0
    if not number or value < 0 or value != value:
        sys.stderr.write(f"timeout: invalid time interval '{text}'\n{_USAGE}")
        sys.exit(125)
    return value


def _signal_number(text: str) -> int:
    name = text.upper()
    if name.isdigit():
        return int(name)
    name = name if name.startswith("SIG") else "SIG" + name
    number = getattr(signal, name, None)
    if not isinstance(number, int):
        sys.stderr.write(f"timeout: {text}: invalid signal\n{_USAGE}")
        sys.exit(125)
    return int(number)


def _parse(argv: list[str]) -> tuple[float, int, float | None, bool, bool, list[str]]:
    sig, kill_after, preserve, verbose = int(signal.SIGTERM), None, False, False
    args = list(argv)
    while args and args[0].startswith("-") and args[0] != "-":
        opt = args.pop(0)
        if opt == "--":
            break
        name, _, attached = opt.partition("=")
        if name in ("-s", "--signal") or (opt.startswith("-s") and len(opt) > 2):
            value = attached or (opt[2:] if not opt.startswith("--") and len(opt) > 2
                                 else (args.pop(0) if args else ""))
            sig = _signal_number(value)
        elif name in ("-k", "--kill-after") or (opt.startswith("-k") and len(opt) > 2):
            value = attached or (opt[2:] if not opt.startswith("--") and len(opt) > 2
                                 else (args.pop(0) if args else ""))
            kill_after = _duration(value)
        elif opt == "--preserve-status":
            preserve = True
        elif opt in ("-v", "--verbose"):
            verbose = True
        elif opt == "--foreground":
            pass  # no terminal process groups to keep in the simulated run
        else:
            sys.stderr.write(f"timeout: unrecognized option '{opt}'\n{_USAGE}"
                             if opt.startswith("--")
                             else f"timeout: invalid option -- '{opt[1:2]}'\n{_USAGE}")
            sys.exit(125)
    if len(args) < 2:
        sys.stderr.write(_USAGE)  # coreutils 9.1 prints only the hint here
        sys.exit(125)
    return _duration(args[0]), sig, kill_after, preserve, verbose, args[1:]


def _spawn(argv: list[str], *, pgroup: bool) -> int:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            if not pgroup:
                os.setpgid(0, 0)  # the clock is not part of the group the signal goes to
            os.set_inheritable(write_end, False)
            os.execvp(argv[0], argv)
        except OSError as err:
            os.write(write_end, f"{err.errno}".encode())
        os._exit(127)
    os.close(write_end)
    failure = os.read(read_end, 64)
    os.close(read_end)
    if failure:
        os.waitpid(pid, 0)
        errno_value = int(failure)
        _fail(f"failed to run command '{argv[0]}': {os.strerror(errno_value)}",
              127 if errno_value == 2 else 126)
    return pid


def _status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return 128 + os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def main() -> None:
    duration, sig, kill_after, preserve, verbose, command = _parse(sys.argv[1:])
    os.setpgid(0, 0)  # coreutils: the command and its children form timeout's group
    child = _spawn(command, pgroup=True)
    if duration == 0:
        sys.exit(_status(os.waitpid(child, 0)[1]))
    clock = _spawn(["sleep", repr(duration)], pgroup=False)
    while True:
        pid, wait_status = os.wait()
        if pid == child:
            _stop(clock)
            sys.exit(_status(wait_status))
        if pid == clock:
            break
    # Timed out: the signal goes to the command's whole group, timeout itself ignoring it.
    if verbose:
        sys.stderr.write(f"timeout: sending signal {signal.Signals(sig).name[3:]} "
                         f"to command '{command[0]}'\n")
    if sig != signal.SIGKILL:  # SIGKILL takes timeout with it: 137, as with coreutils
        signal.signal(sig, signal.SIG_IGN)
    os.killpg(0, sig)
    if sig not in (signal.SIGKILL, signal.SIGCONT):
        os.killpg(0, signal.SIGCONT)
    if kill_after is not None:
        clock = _spawn(["sleep", repr(kill_after)], pgroup=False)
        while True:
            pid, wait_status = os.wait()
            if pid == child:
                _stop(clock)
                break
            if pid == clock:
                os.killpg(0, signal.SIGKILL)
    else:
        wait_status = os.waitpid(child, 0)[1]
    sys.exit(_status(wait_status) if preserve else 124)


if __name__ == "__main__":
    main()
