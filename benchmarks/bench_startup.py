#!/usr/bin/env python3
"""`aster --help` and `aster --version` against a bare click group, in one run.

Budgets (issue 2): --help at most 1.3x and 20 MiB peak; --version at most 1.2x.
Run with every family installed: `python benchmarks/bench_startup.py`.
"""

from __future__ import annotations

import sys

from _timing import BARE_CLICK, BIN, compare, compile_sources, peak_rss_mib, report

ASTER = str(BIN / "aster")


def main() -> int:
    compile_sources()
    results = compare({"aster --help": [ASTER, "--help"], "aster --version": [ASTER, "--version"]}, BARE_CLICK,
                      rounds=25)
    ok = report("start-up vs a bare click group (median of 25, interleaved)", results,
                {"aster --help": 1.3, "aster --version": 1.2})
    rss = peak_rss_mib([ASTER, "--help"])
    bare = peak_rss_mib(BARE_CLICK)
    print(f"  peak memory: aster --help {rss:.1f} MiB (budget 20), bare click group {bare:.1f} MiB")
    return 0 if ok and rss <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
