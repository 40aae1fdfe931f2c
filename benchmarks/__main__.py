"""Run every ``benchmarks/bench_*.py`` module and print its lines.

Each module exposes ``run() -> list[str]``. Timings on the shared 2-core
machines are noisy, so every module reports medians of repeated runs and the
ratios between runs measured side by side, never single timings.

Usage: ``python -m benchmarks [NAME ...]`` with NAME such as ``calibration``.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path


def _modules(selected: list[str]) -> list[str]:
    folder = Path(__file__).parent
    names = sorted(
        info.name
        for info in pkgutil.iter_modules([str(folder)])
        if info.name.startswith("bench_")
    )
    if selected:
        wanted = {f"bench_{name.removeprefix('bench_')}" for name in selected}
        unknown = wanted - set(names)
        if unknown:
            listed = ", ".join(sorted(unknown))
            sys.exit(f"unknown benchmark(s): {listed}; available: {names}")
        names = [name for name in names if name in wanted]
    return names


def main(argv: list[str]) -> None:
    print(f"# healthlab benchmarks on {platform.node()}, {platform.processor() or ''}")
    print(f"# python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}")
    for name in _modules(argv):
        print(f"\n## {name}", flush=True)
        module = importlib.import_module(f"benchmarks.{name}")
        started = time.perf_counter()
        for line in module.run():
            print(line, flush=True)
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
