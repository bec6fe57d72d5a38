"""Sum the cProfile stats the bench probe wrote (NBBENCH_PROFILE=<dir>): where a callback's time goes.

python -m bench.profile /tmp/prof [--kind first|repeat] [--pid PID] [--top 40] [--sort cumulative]
"""

from __future__ import annotations

import argparse
import pstats
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--kind", choices=("first", "repeat"), default=None)
    parser.add_argument("--pid", default=None, help="only this worker's files")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--skip", type=int, default=2, help="leave out each worker's first N files (cold)")
    args = parser.parse_args(argv)
    files = []
    for path in sorted(args.directory.glob("*.prof"), key=lambda p: (p.name.split("-")[0], int(p.name.split("-")[1]))):
        pid, index, kind = path.stem.split("-")
        if (args.kind and kind != args.kind) or (args.pid and pid != args.pid) or int(index) < args.skip:
            continue
        files.append(path)
    if not files:
        print("no profiles match", file=sys.stderr)
        return 1
    stats = pstats.Stats(*map(str, files))
    print(f"{len(files)} callbacks; per-callback = total / {len(files)}")
    stats.sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
