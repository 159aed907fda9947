"""The simulated command line: `ctrnet sim exec` and `ctrnet sim shell`.

A run holds one SimBackend in a server process (`server`, `scheduler`); the tools a script
calls (`ip`, `iptables`, `sleep`…) are shims (`client`) first on its PATH that talk to the
server over a unix socket; `tools` answers them; `run` ties a command's life to the world's.
Writes to /proc/sys cannot be intercepted (the kernel's file, not a command): use `sysctl -w`.
"""

from ctrnet.backends.sim.cmdline.run import SHIMS, run_command, run_shell

__all__ = ["SHIMS", "run_command", "run_shell"]
