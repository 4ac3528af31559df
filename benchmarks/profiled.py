"""Run a module as ``python -m`` would, with cProfile counting CPU time rather than wall time (a
service waiting on its database or for the next request spends nothing) between SIGUSR1 and
SIGUSR2, so that its start is left out; SIGUSR2 writes the statistics to a file. Benchmarks only:
``python benchmarks/profiled.py OUT MODULE [ARGS...]``."""
import cProfile
import runpy
import signal
import sys
import time

if __name__ == "__main__":
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    profile = cProfile.Profile(time.process_time)

    def stop(*_):
        profile.disable()
        profile.dump_stats(out)

    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGUSR2, stop)
    runpy.run_module(module, run_name="__main__", alter_sys=True)
