"""Differential tests of the simulated command line: shell scripts (the guide's command blocks,
learners' mistakes, background processes) run under `ctrnet sim exec` and on the kernel, their
normalized outputs compared with what the kernel printed (data/NAME.out, captured by
`python -m ctrnet.conformance.cmdline.harness --capture` as root).
"""
