"""`python -m bench.profile_child OUT -m module args...`: run a stack process under cProfile, stats written to OUT.

The stack's processes leave with `os._exit` after their own shutdown, which skips interpreter exit (and so cProfile's
own writing): the stats are dumped just before. Used by the benchmarks' `--profile` (bench/harness.py); profiles
the event loop's thread only, from SIGUSR1 on.
"""

import cProfile
import os
import runpy
import signal
import sys


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.profile_child OUT -m module [args...]")
    profiler = cProfile.Profile()
    real_exit = os._exit

    def dump_and_exit(code: int) -> None:
        profiler.disable()
        profiler.dump_stats(out)
        real_exit(code)

    os._exit = dump_and_exit  # type: ignore[assignment]
    sys.argv = [module, *rest]
    # SIGUSR1 (BenchStack.start_profiles) starts the profile once the stack is up: the figures leave out start-up.
    signal.signal(signal.SIGUSR1, lambda signum, frame: profiler.enable())
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
