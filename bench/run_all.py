"""Run every benchmark, one after another: short sizes by default, the issues' sizes with --full.

    python3 dev.py bench            # a few minutes: a smoke run of every benchmark
    python3 dev.py bench --full     # the sizes the targets are stated at (an hour or more)
    python3 dev.py bench --database-url postgresql+psycopg://root@127.0.0.1:5432/test

Each benchmark prints its own figures with the machine's load beside them. Run it on a quiet
machine: the figures are only as good as the load they were taken at.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, short arguments, full arguments, needs a database URL to run on PostgreSQL)
BENCHMARKS: list[tuple[str, list[str], list[str], bool]] = [
    ("bench_classify.py", ["--messages", "5000", "--rounds", "3"], [], False),
    ("bench_parse.py", ["--repeat", "5"], [], False),
    ("bench_records.py", ["--candidates", "5000", "--lookups", "500"], [], True),
    ("bench_tickets.py", ["--tickets", "5000", "--reset"], ["--reset"], True),
    ("bench_ingest.py", ["--messages", "300"], [], True),
    ("bench_slack.py", ["--requests", "200", "--concurrency", "20"], [], True),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the sizes the targets are stated at")
    parser.add_argument("--database-url", help="run the database benchmarks here (else SQLite)")
    parser.add_argument("--only", nargs="*", help="names of benchmarks to run (e.g. classify)")
    args = parser.parse_args()
    failed = []
    for script, short, full, takes_db in BENCHMARKS:
        name = script.removeprefix("bench_").removesuffix(".py")
        if args.only and name not in args.only:
            continue
        command = [sys.executable, str(HERE / script), *(full if args.full else short)]
        if takes_db and args.database_url:
            command += ["--database-url", args.database_url]
        load = os.getloadavg()[0]
        print(f"\n== {name} (load {load:.2f} at start): {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=HERE.parent).returncode
        print(f"== {name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
