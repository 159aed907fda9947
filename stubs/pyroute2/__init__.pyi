# Typed stubs for the small part of pyroute2 (0.9) that ctrnet's kernel backend uses; see
# stubs/README.md. Only what `backends/kernel` imports is declared: anything else is an error.
from pyroute2 import netns as netns
