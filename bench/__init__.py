"""Benchmarks (not tests): each prints figures for a throwaway stack; `./run bench NAME` runs bench/NAME.py."""
