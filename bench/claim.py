"""Claims through the HTTP API: 50 secretaries claiming and completing from 100,000 items.

For PostgreSQL (a throwaway database on MONSHI_BENCH_PG, default the machine's
127.0.0.1:5432) and for SQLite (a temporary file): migrate, write 30 tenants, 50
secretaries (each primary for 3 tenants and backup for a 4th, capacity 2) and 100,000
queued items (bulk SQL; mixed priority, language, due and backup times), start the real
web process (`python -m triage web`, private Redis), and run 50 clients, one per
secretary, each claiming (POST /api/v1/queue/claim) and completing (POST
/api/v1/items/{id}/complete) in a loop for a fixed time: flat out (complete at once),
then paced (each holds an item `--think` seconds on average, first claims spread out),
for `--rounds` rounds alternating on the same server. Prints claims/s and the p50/p99
latency of the claims per run and their medians, and the double-claim count, read from
item_events (must be 0). Flat out, 50 closed-loop clients keep the one web process
saturated, so its latency is mostly queueing: 50 / throughput.
Usage: python bench/claim.py [--items 100000] [--seconds 15] [--rounds 3] [--think 1]
                             [--clients 50] [--only postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import psycopg
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _redis import private_redis
from webhook import free_port, running, wait_until_up

from triage.settings import normalize_database_url
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.repository import Repository
from triage.store.tables import assignments, secretaries, tenants, work_items

PG_ADMIN_URL = os.environ.get("MONSHI_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TENANTS = 30
SECRETARIES = 50
CAPACITY = 2
SKILLS = ("scheduling", "accounting", "travel", "sales", "support")


@contextmanager
def postgres_database() -> Iterator[str]:
    name = "monshi_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, items: int) -> dict[str, str]:
    """Tenants, secretaries and queued items written straight in; returns secretary -> token."""
    engine = make_engine(normalize_database_url(database_url))
    upgrade(engine)
    rng = random.Random(6)
    now = datetime.now(UTC)
    tenant_ids = [f"client-{n:02}" for n in range(TENANTS)]
    people = [f"sec-{n:02}" for n in range(SECRETARIES)]
    with engine.begin() as connection:
        connection.execute(
            tenants.insert(),
            [
                {
                    "id": t,
                    "name": t,
                    "language": "en",
                    "timezone": "America/New_York",
                    "settings": {},
                }
                for t in tenant_ids
            ],
        )
        connection.execute(
            secretaries.insert(),
            [
                {
                    "id": person,
                    "name": person,
                    "role": "secretary",
                    "languages": ["fa", "en"] if n % 3 else ["en"],
                    "skills": list(SKILLS) if n % 2 else list(SKILLS[:3]),
                    "capacity": CAPACITY,
                    "phone": "+15550100000",
                    "settings": {},
                }
                for n, person in enumerate(people)
            ],
        )
        # Each secretary: primary for 3 tenants, backup for a 4th; every tenant has 5 primaries.
        rows = []
        for n, person in enumerate(people):
            for k in range(3):
                rows.append(
                    {
                        "tenant_id": tenant_ids[(n * 3 + k) % TENANTS],
                        "secretary_id": person,
                        "kind": "primary",
                    }
                )
            rows.append(
                {
                    "tenant_id": tenant_ids[(n * 3 + 7) % TENANTS],
                    "secretary_id": person,
                    "kind": "backup",
                }
            )
        unique = {(row["tenant_id"], row["secretary_id"]): row for row in rows}
        connection.execute(assignments.insert(), list(unique.values()))
    batch = []
    started = time.monotonic()
    for n in range(items):
        created = now - timedelta(seconds=rng.randint(0, 6 * 3600))
        tenant = rng.choice(tenant_ids)
        batch.append(
            {
                "tenant_id": tenant,
                "channel": rng.choice(("sms", "call", "email")),
                "external_id": f"bench-{n}",
                "status": "queued",
                "priority_rank": rng.choices((0, 1, 2, 3), weights=(2, 10, 70, 18))[0],
                "pool": f"tenant:{tenant}",
                "sender": "+15550000001",
                "recipient": "+15550100001",
                "subject": "",
                "body": "Please call me back about my appointment",
                "language": rng.choice(("en", "en", "fa", None)),
                "category": "scheduling",
                "required_skill": rng.choice((None, None, None, "scheduling", "sales")),
                "payload": {},
                "created_at": created,
                "updated_at": created,
                "queued_at": created,
                "due_at": created + timedelta(minutes=rng.choice((30, 60, 240))),
                "backup_at": created + timedelta(minutes=rng.choice((15, 120))),
                "escalation": 0,
            }
        )
        if len(batch) == 10_000:
            with engine.begin() as connection:
                connection.execute(work_items.insert(), batch)
            batch = []
    if batch:
        with engine.begin() as connection:
            connection.execute(work_items.insert(), batch)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE work_items"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    print(f"  seeded {items} items in {time.monotonic() - started:.1f} s", flush=True)
    repository = Repository(engine)
    tokens = {person: repository.issue_token(person) for person in people}
    engine.dispose()
    return tokens


async def secretary_loop(
    session: aiohttp.ClientSession,
    base: str,
    token: str,
    until: float,
    latencies: list[float],
    errors: list[str],
    think: float,
    rng: random.Random,
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    if think:
        # Secretaries do not all start at once: spread the first claims over a handling time.
        await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < until:
        started = time.perf_counter()
        async with session.post(f"{base}/api/v1/queue/claim", headers=headers) as response:
            body = await response.json() if response.status == 200 else None
            status = response.status
        latencies.append(time.perf_counter() - started)
        if status == 204:
            await asyncio.sleep(0.01)
            continue
        if status != 200 or body is None:
            errors.append(f"claim: {status}")
            continue
        if think:
            # Handling the item: between half and one and a half times the mean.
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        async with session.post(
            f"{base}/api/v1/items/{body['id']}/complete",
            json={"outcome": "called_back"},
            headers=headers,
        ) as response:
            if response.status != 200:
                errors.append(f"complete: {response.status} {await response.text()}")


async def drive(
    base: str, tokens: dict[str, str], seconds: float, think: float
) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    rng = random.Random(7)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        # Warm-up: two seconds of the same load (connections, caches, prepared statements).
        warm_until = time.monotonic() + 2
        await asyncio.gather(
            *(
                secretary_loop(session, base, t, warm_until, [], errors, think, rng)
                for t in tokens.values()
            )
        )
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(
                secretary_loop(session, base, t, until, latencies, errors, think, rng)
                for t in tokens.values()
            )
        )
        elapsed = time.monotonic() - started
    return latencies, errors, elapsed


def figures(latencies: list[float], elapsed: float) -> tuple[float, float, float]:
    """(claims/s, p50 ms, p99 ms)."""
    ms = sorted(latency * 1000 for latency in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return len(ms) / elapsed, statistics.median(ms), p99


def double_claims(database_url: str) -> tuple[int, int]:
    """(items claimed more than once, claims) according to item_events."""
    engine = make_engine(normalize_database_url(database_url))
    with engine.connect() as connection:
        doubled = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT item_id FROM item_events WHERE kind = 'claimed'"
                " GROUP BY item_id HAVING count(*) > 1) AS doubled"
            )
        )
        claims = connection.scalar(text("SELECT count(*) FROM item_events WHERE kind = 'claimed'"))
    engine.dispose()
    return int(doubled or 0), int(claims or 0)


def listeners(port: int) -> int:
    """How many sockets listen on the TCP port (Linux /proc/net/tcp, state 0A)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    )


def run_one(
    name: str,
    database_url: str,
    items: int,
    seconds: float,
    think_mean: float,
    rounds: int,
    clients: int = SECRETARIES,
    web_processes: int = 1,
) -> None:
    print(f"{name}, {web_processes} web process(es):", flush=True)
    tokens = dict(list(seed(database_url, items).items())[:clients])
    with ExitStack() as stack, tempfile.TemporaryDirectory() as workdir:
        redis_url = stack.enter_context(private_redis())
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "MONSHI_SECRET_KEY": secrets.token_urlsafe(32),
            "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
            "MONSHI_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "MONSHI_SPOOL_DIR": str(Path(workdir) / "spool"),
            "MONSHI_LOG_LEVEL": "WARNING",
        }
        log = Path(workdir) / "web.log"
        command = [sys.executable, "-m", "triage", "web", "--port", str(port)]
        if web_processes > 1:
            # Replicas on one port: the kernel spreads the clients' connections over them.
            command.append("--reuse-port")
        base = f"http://127.0.0.1:{port}"
        for replica in range(web_processes):
            replica_log = log.with_name(f"web-{replica}.log")
            process = stack.enter_context(running(command, env, replica_log))
            wait_until_up(base + "/readyz", process, replica_log)
            # /readyz may have been answered by a replica already up: wait for this one's socket.
            deadline = time.monotonic() + 30
            while listeners(port) < replica + 1 and time.monotonic() < deadline:
                time.sleep(0.05)
        results: dict[float, list[tuple[float, float, float]]] = {0.0: [], think_mean: []}
        for round_number in range(1, rounds + 1):
            for think in (0.0, think_mean):
                latencies, errors, elapsed = asyncio.run(drive(base, tokens, seconds, think))
                rate, p50, p99 = figures(latencies, elapsed)
                results[think].append((rate, p50, p99))
                label = "flat out" if not think else f"paced ({think:g} s per item)"
                print(
                    f"  round {round_number}, {label}: {rate:6.1f} claims/s, "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                    flush=True,
                )
                if errors:
                    print(f"    {len(errors)} errors, first: {errors[:3]}")
        for think, runs in results.items():
            label = "flat out (no handling time)" if not think else f"paced ({think:g} s per item)"
            print(
                f"  median of {len(runs)}, {label}: "
                f"{statistics.median(r[0] for r in runs):.1f} claims/s, "
                f"p50 {statistics.median(r[1] for r in runs):.1f} ms, "
                f"p99 {statistics.median(r[2] for r in runs):.1f} ms"
            )
    doubled, claims = double_claims(database_url)
    print(f"  double claims: {doubled} (of {claims} claims recorded in item_events)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--clients", type=int, default=SECRETARIES, help="how many secretaries claim (1-50)"
    )
    parser.add_argument("--think", type=float, default=1.0, help="mean seconds per item, paced")
    parser.add_argument("--only", choices=("postgresql", "sqlite"))
    parser.add_argument(
        "--web-processes",
        type=int,
        default=1,
        help="`monshi web` replicas sharing the port (SO_REUSEPORT)",
    )
    args = parser.parse_args()
    print(
        f"{args.items} queued items, {TENANTS} tenants, {args.clients} of {SECRETARIES} "
        f"secretaries (capacity {CAPACITY}) claiming and completing over HTTP for "
        f"{args.seconds:g} s; "
        f"{args.web_processes} web process(es), {os.cpu_count()} cores shared with the "
        "database and the clients"
    )
    if args.only != "sqlite":
        with postgres_database() as url:
            run_one(
                "PostgreSQL",
                url,
                args.items,
                args.seconds,
                args.think,
                args.rounds,
                args.clients,
                args.web_processes,
            )
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as directory:
            run_one(
                "SQLite",
                f"sqlite:///{directory}/monshi.db",
                args.items,
                args.seconds,
                args.think,
                args.rounds,
                args.clients,
                args.web_processes,
            )


if __name__ == "__main__":
    main()
