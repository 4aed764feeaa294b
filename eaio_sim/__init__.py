"""A simulated building on loopback: real protocol servers serving EAIO's device profiles.

Used by the demo, the tests and the benchmarks. Registers are encoded with the server
library's own converters, not with EAIO's codec, so decoding is checked independently.
"""
