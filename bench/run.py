"""Run every benchmark with its defaults and print what each writes to the docs.

python -m bench.run            # all (the foundation at 1M customers takes ~15 min)
python -m bench.run forecasting segmentation
"""

from __future__ import annotations

import subprocess
import sys

from bench.measure import ROOT

BENCHMARKS = ("foundation", "segmentation", "forecasting", "value")


def main() -> None:
    for name in sys.argv[1:] or BENCHMARKS:
        if name not in BENCHMARKS:
            raise SystemExit(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}")
        print(f"\n## {name}\n", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{name}", "all"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
