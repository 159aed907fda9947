"""The kernel as a live oracle (`ctrnet sim compare`): one command run on the simulator and on
the real kernel, every tool invocation recorded on both sides (`oracle`), and the two
transcripts compared line by line once what legitimately differs is made equal
(`normalize`). The CLI uses it, and so do the differential tests of the simulated command
line (`ctrnet.conformance.cmdline`). It reaches the backends through `ctrnet.registry` only.
"""
