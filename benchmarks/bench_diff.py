"""Benchmark: `dvsafeguard diff` of real packs against the 60-second limit, in one run.

Prints, measured in this run on this machine, for London 2008 against the London-without-9.3.1
test fixture and for every pair of real packs under rules/:
  * wall-clock seconds of diff_packs (loading, the structural diff, the search, the witnesses'
    full evaluations and checks);
  * whether the outcome search was exhaustive, the cases it covers, and the rule evaluations it
    needed to cover them;
  * the number of differing cells found.
Exits non-zero if any diff takes 60 s or more.

Run:  .venv/bin/python benchmarks/bench_diff.py [--pairs london] [--max-cases N]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

from dvsafeguard.diff import DEFAULT_MAX_CASES, diff_packs
from dvsafeguard.pack import load_pack, pack_files

LIMIT_S = 60.0
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "london-without-9-3-1.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default=None,
                        help="only pairs involving this board (default: every pair of real packs)")
    parser.add_argument("--max-cases", type=int, default=DEFAULT_MAX_CASES)
    args = parser.parse_args(argv)

    packs = [load_pack(p) for p in pack_files()]
    pairs = [("london@2008-03", str(FIXTURE))]
    for a, b in itertools.combinations(packs, 2):
        if args.pairs is None or args.pairs in (a.id, b.id):
            pairs.append((a.ref if a.path is None else a.path, b.ref if b.path is None else b.path))

    print(f"{'A':<28} {'B':<40} {'seconds':>8} {'search':>11} {'cases covered':>26} "
          f"{'evaluations':>12} {'cells':>6}")
    worst = 0.0
    for a_ref, b_ref in pairs:
        t = time.perf_counter()
        d = diff_packs(a_ref, b_ref, max_cases=args.max_cases)
        took = time.perf_counter() - t
        worst = max(worst, took)
        mode = "exhaustive" if d.search.exhaustive else "sampled"
        print(f"{d.a.ref:<28} {d.b.ref:<40} {took:8.2f} {mode:>11} {d.search.searched:>26,} "
              f"{d.search.evaluations:>12,} {len(d.cells):>6}")
    ok = worst < LIMIT_S
    print(f"\nslowest diff: {worst:.2f} s (limit {LIMIT_S:.0f} s): {'OK' if ok else 'TOO SLOW'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
