"""The timeline benchmark on PostgreSQL with 100,000 incidents: median page times and the query count
per page (constant whatever the number of incidents). Needs a PostgreSQL server: BENCH_PG_URL, default
postgres://postgres:postgres@127.0.0.1:5432/postgres; skipped with a note when none answers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = os.environ.get("BENCH_PG_URL", "postgres://postgres:postgres@127.0.0.1:5432/postgres")
DATABASE = "bench_timeline"


def main() -> int:
    try:
        import psycopg

        with psycopg.connect(SERVER, autocommit=True, connect_timeout=5) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{DATABASE}"')
    except Exception as exc:
        print(f"timeline_pg: skipped (no PostgreSQL at {SERVER}: {exc.__class__.__name__})")
        return 0
    env = {
        **os.environ,
        "DATABASE_URL": SERVER.rsplit("/", 1)[0] + f"/{DATABASE}",
        "BENCH_TIMELINE_INCIDENTS": os.environ.get("BENCH_TIMELINE_PG_INCIDENTS", "100000"),
        "BENCH_LABEL": "timeline_pg",
    }
    try:
        return subprocess.run([sys.executable, str(HERE / "timeline.py")], env=env).returncode
    finally:
        with psycopg.connect(SERVER, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
