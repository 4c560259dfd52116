#!/usr/bin/env python3
"""`aster --help`, completion and `aster --version` against a bare click group, in one run.

Goals: --help at most 1.1x and 20 MiB peak; completion of top-level names at most
1.25x; --version at most 1.2x. They run as a user's do, with the plugin
cache warm (the first, untimed run writes it). The same --help with no usable
cache (a home that cannot be written: every start imports every family and
calls `aster_commands` through pluggy) is reported for comparison.
Run with every family installed: `python benchmarks/bench_startup.py`.
"""

from __future__ import annotations

import os
import sys
import tempfile

from _timing import BARE_CLICK, BIN, compare, compile_sources, peak_rss_mib, report

ASTER = str(BIN / "aster")


def main() -> int:
    compile_sources()
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, ASTER_HOME=home)
        complete = dict(env, _ASTER_COMPLETE="bash_complete", COMP_WORDS="aster ", COMP_CWORD="1")
        results = compare({"aster --help": [ASTER, "--help"], "aster --version": [ASTER, "--version"],
                           # `env` execs aster with a home it cannot write: a few hundred microseconds
                           # more than the others pay, so this row errs against us
                           "aster --help, no cache": ["env", "ASTER_HOME=/dev/null/no-home", ASTER, "--help"]},
                          BARE_CLICK, rounds=25, env=env)
        results.update(compare({"aster <TAB> (completion)": [ASTER]}, BARE_CLICK, rounds=25, env=complete))
        ok = report("start-up vs a bare click group (median of 25, interleaved)", results,
                    {"aster --help": 1.1, "aster <TAB> (completion)": 1.25, "aster --version": 1.2})
        rss = peak_rss_mib([ASTER, "--help"], env=env)
    bare = peak_rss_mib(BARE_CLICK)
    print(f"  peak memory: aster --help {rss:.1f} MiB (budget 20), bare click group {bare:.1f} MiB; "
          f"load average {os.getloadavg()[0]:.1f}")
    return 0 if ok and rss <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
