"""The shim every simulated tool runs: a tiny client of the simulator's server.

Installed (with a `#!python -IS` line) as `ip`, `iptables`, `sleep`… in the run's shim
directory. It imports only C modules (_socket, _signal) besides os and sys, so a command costs
little more than an interpreter start: it hands its stdin/stdout/stderr to the server over the
unix socket named by $CTRNET_SIM_SOCKET (SCM_RIGHTS), waits for the exit status and exits
with it — or, for `ip netns exec` and `nsenter`, execs the command with $CTRNET_SIM_NS
naming the namespace it now runs in.

Wire format, NUL-separated fields: request `ctrnet-sim-1, tool, ns, cwd, pid, fds (comma
separated), N, N locale variables (NAME=VALUE), argv…`; reply `status, N` or `signal, N` or
`exec, NS, STYLE (ip or nsenter: whose words a failed exec gets), argv…`.
"""

import _signal  # type: ignore[import-not-found]  # C modules: no enum, no re
import _socket
import os
import sys

SOCKET_ENV = "CTRNET_SIM_SOCKET"
#: The request a shim sends, on a second connection, when it gets SIGINT/SIGTERM/SIGHUP
#: while waiting: the server ends its blocked request as the signal would end the real tool.
INTERRUPT = "ctrnet-sim-interrupt"
#: Real seconds a signalled shim waits for the server to wind its request up.
INTERRUPT_GRACE = 2.0
#: Tools that catch these signals to finish their work (tcpdump prints its packets and
#: counts): their shim waits for the server's answer; every other shim dies at once.
HANDLES_SIGNALS = ("tcpdump",)
NS_ENV = "CTRNET_SIM_NS"
#: Set in a root run whose command sees the world's files as /etc/netns: the directory bound
#: there (so a command run another way, where /etc/netns is the machine's, is not fooled).
ETC_ENV = "CTRNET_SIM_ETC"
MAGIC = "ctrnet-sim-1"
#: Locale variables the tools' messages depend on (coreutils quoting, for one).
LOCALE_ENV = ("LC_ALL", "LC_MESSAGES", "LANG")


def _open_fds() -> list[int]:
    """Which of 0, 1, 2 are open: a script may run a command with `<&-`."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            continue
        fds.append(fd)
    return fds


def encode(fields: list[str]) -> bytes:
    return b"\0".join(os.fsencode(f) for f in fields)


def decode(data: bytes) -> list[str]:
    return [os.fsdecode(f) for f in data.split(b"\0")]


def _request(tool: str, argv: list[str], fds: list[int]) -> bytes:
    env = [f"{k}={os.environ[k]}" for k in LOCALE_ENV if k in os.environ]
    return encode([MAGIC, tool, os.environ.get(NS_ENV, ""), os.getcwd(), str(os.getpid()),
                   ",".join(map(str, fds)), str(len(env)), *env, *argv])


def _exchange(path: str, message: bytes, fds: list[int]) -> list[str]:
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)

    def note(signum: int) -> None:
        # A second connection (the request socket is already shut for writing).
        try:
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            conn.connect(path)
            conn.sendall(encode([MAGIC, INTERRUPT, "", os.getcwd(), shim_pid, "", "0",
                                 str(signum)]))
            conn.close()
        except OSError:
            pass

    def forward(signum: int, frame: object) -> None:
        if os.path.basename(sys.argv[0]) not in HANDLES_SIGNALS:
            # The real tool dies of the signal at once, so the shim does too, before the
            # shell's next command (`wait` reports a job that died before it differently);
            # a child tells the server, which ends the request on its own.
            if os.fork() == 0:
                note(signum)
                os._exit(0)
            _signal.signal(signum, _signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        # The tool finishes its work first: wait INTERRUPT_GRACE seconds for its answer.
        note(signum)
        sock.settimeout(INTERRUPT_GRACE)
        interrupted.append(signum)

    shim_pid = str(os.getpid())

    interrupted: list[int] = []
    for signum in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
        # An ignored signal stays ignored (SIGINT of a background job); Python's own SIGINT
        # handler counts as the default.
        if _signal.getsignal(signum) in (_signal.SIG_DFL, _signal.default_int_handler):
            _signal.signal(signum, forward)
    try:
        sock.connect(path)
        rights = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
        ancillary = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)] if fds else []
        sent = sock.sendmsg([message], ancillary)
        while sent < len(message):
            sent += sock.send(message[sent:])
        sock.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                if not interrupted:
                    raise
                return ["signal", str(interrupted[0])]
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
        for signum in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP):
            if _signal.getsignal(signum) is not _signal.SIG_IGN:
                _signal.signal(signum, _signal.SIG_DFL)
    return decode(b"".join(chunks)) if chunks else ["status", "2"]


def _bind_etc(ns: str) -> None:
    """What `ip netns exec` does before it runs the command (iproute2's netns_switch() and
    bind_etc()): a mount namespace of its own, and each /etc/netns/NS/FILE bound over
    /etc/FILE, a failed bind said and skipped. Only where /etc/netns is the world's."""
    ours = os.environ.get(ETC_ENV)
    try:
        if not ours or not os.path.samestat(os.stat("/etc/netns"), os.stat(ours)):
            return
        names = sorted(os.listdir(f"/etc/netns/{ns}"))
    except OSError:
        return
    import ctypes  # only here: every other command of the run starts without it

    libc = ctypes.CDLL(None, use_errno=True)
    clone_newns, ms_bind, ms_rec, ms_slave = 0x00020000, 4096, 16384, 1 << 19
    if libc.unshare(clone_newns) != 0:
        err = ctypes.get_errno()
        sys.stderr.write(f"unshare failed: {os.strerror(err)}\n")
        sys.exit(1)
    if libc.mount(b"", b"/", b"none", ms_slave | ms_rec, None) != 0:
        err = ctypes.get_errno()
        sys.stderr.write(f'"mount --make-rslave /" failed: {os.strerror(err)}\n')
        sys.exit(1)
    for name in names:
        source, target = f"/etc/netns/{ns}/{name}", f"/etc/{name}"
        if libc.mount(os.fsencode(source), os.fsencode(target), b"none", ms_bind, None) != 0:
            err = ctypes.get_errno()
            sys.stderr.write(f"Bind {source} -> {target} failed: {os.strerror(err)}\n")


def _exec(ns: str, style: str, argv: list[str]) -> None:
    os.environ[NS_ENV] = ns
    if style == "ip":
        _bind_etc(ns)
    try:
        os.execvp(argv[0], argv)
    except OSError as err:
        if style == "nsenter":
            # util-linux: errexec() exits 127 for a missing program, 126 otherwise.
            sys.stderr.write(f"nsenter: failed to execute {argv[0]}: {err.strerror}\n")
            sys.exit(127 if isinstance(err, FileNotFoundError) else 126)
        # What iproute2's cmd_exec() says when execvp() fails, and its exit status.
        sys.stderr.write(f'exec of "{argv[0]}" failed: {err.strerror}\n')
        sys.exit(1)


def main() -> None:
    tool = os.path.basename(sys.argv[0])
    path = os.environ.get(SOCKET_ENV)
    if not path:
        sys.stderr.write(f"ctrnet sim: {tool}: ${SOCKET_ENV} is not set: "
                         "run this under `ctrnet sim exec` or `ctrnet sim shell`\n")
        sys.exit(2)
    fds = _open_fds()
    try:
        reply = _exchange(path, _request(tool, sys.argv[1:], fds), fds)
    except OSError as err:
        sys.stderr.write(f"ctrnet sim: {tool}: cannot reach the simulator at {path}: "
                         f"{err.strerror or err}\n")
        sys.exit(2)
    kind = reply[0]
    if kind == "exec":
        _exec(reply[1], reply[2], reply[3:])
    if kind == "signal":
        signum = int(reply[1])
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    sys.exit(int(reply[1]) if kind == "status" else 2)


if __name__ == "__main__":
    main()
