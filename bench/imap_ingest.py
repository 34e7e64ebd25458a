"""IMAP ingest end to end: Dovecot -> `monshi imap` -> `monshi worker` -> routed items.

Appends N realistic messages (generated English and Persian mail to the example agency's
tenants: plain, HTML, windows-1256, attachments, auto-forwards, plus-tags, replies, and
messages from the shared MIME corpus) to a throwaway Dovecot, then, in the same run:

1. a bare imapclient fetch of the whole mailbox (SELECT, SEARCH, UID FETCH BODY.PEEK[] in
   batches of 200), in a process that imports nothing else (bench/_imap_fetch.py);
2. Monshi: W `python -m triage worker` processes (started first and left idle) and one
   `python -m triage imap`, on a fresh database with examples/agency.toml applied and a
   private Redis; timed from the connector's start until every message is stored and
   ingested (no mail_messages row `stored`, no email item `received`).

Prints messages/s for both, their ratio, when the connector had stored everything, the
outcome counts, and every process's peak RSS (VmHWM) and CPU time. Linux only (/proc).
Usage: python bench/imap_ingest.py [--messages 10000] [--workers 2] [--batch 200]
       [--database postgresql|sqlite] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
import redis
from _imap_fetch import cpu_seconds, peak_rss_mb
from _redis import private_redis
from rq import Worker
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Engine

from tests.dovecot import PASSWORD, USER, DovecotServer
from triage.settings import normalize_database_url
from triage.store.config_store import apply_config_path
from triage.store.db import make_engine
from triage.store.migrate import upgrade
from triage.store.tables import mail_messages, work_items

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
AGENCY = REPO / "examples" / "agency.toml"
CORPUS = REPO.parent / "shared" / "corpus" / "mime"
PG_ADMIN_URL = os.environ.get("MONSHI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
APPEND_CHUNK = 500
MONSHI = (sys.executable, "-m", "triage")

EN_SUBJECTS = (
    "Appointment for next Tuesday",
    "Invoice #{n} is overdue",
    "Please call me back",
    "Question about my order {n}",
    "Flight to Istanbul on the 14th",
    "Documents for the closing",
    "Complaint: the repair was not finished",
    "Partnership proposal",
)
EN_BODIES = (
    "Hello,\n\nI would like to book an appointment for next Tuesday at 10:30 if possible. "
    "My number is +1 212 555 0{n:03d}.\n\nThanks,\n{name}",
    "Hi,\n\nWe still have not received payment for invoice #{n} of $1,250.00, due on "
    "March 3. Could you check with accounting?\n\nBest regards,\n{name}",
    "Dear team,\n\nThe technician came yesterday but the boiler still leaks. This is urgent, "
    "we have no hot water. Please send someone today.\n\n{name}",
    "Hello,\n\nCould you find me a flight to Istanbul on the 14th, returning on the 21st, "
    "and a hotel near Taksim for two adults?\n\n{name}",
)
FA_SUBJECTS = (
    "درخواست نوبت برای هفته آینده",
    "پیگیری فاکتور شماره {n}",
    "لطفاً با من تماس بگیرید",
    "رزرو بلیط تهران به مشهد",
    "شکایت از خدمات",
)
FA_BODIES = (
    "سلام،\n\nلطفاً برای روز سه‌شنبه ساعت ۱۰:۳۰ یک نوبت برای من ثبت کنید. شماره تماس من "
    "۰۹۱۲۱۲۳۴۵{n:02d} است.\n\nبا تشکر،\n{name}",
    "سلام وقت بخیر،\n\nفاکتور شماره {n} به مبلغ ۲٬۵۰۰٬۰۰۰ تومان هنوز پرداخت نشده است. "
    "لطفاً پیگیری کنید.\n\n{name}",
    "با سلام،\n\nتعمیرکار دیروز آمد اما مشکل هنوز حل نشده. این موضوع فوری است.\n\n{name}",
)
FA_1256_BODY = "سلام،\n\nلطفا براي فردا ساعت 11 يک نوبت ثبت کنيد. متشکرم.\n\n{name}"
NAMES = ("Sara Karimi", "John Miller", "مریم احمدی", "Reza Tehrani", "Emily Clark", "علی رضایی")


# -- the mail ------------------------------------------------------------------------


def agency() -> tuple[str, list[tuple[str, list[str], str]]]:
    """The agency inbox, and (tenant id, addresses, language) of each example tenant."""
    config = tomllib.loads(AGENCY.read_text(encoding="utf-8"))
    tenants = [
        (t["id"], list(t.get("email_addresses", [])), t.get("language", "en"))
        for t in config["tenants"]
    ]
    return config["agency"]["inbox"], tenants


def realistic_messages(count: int, seed: int = 7) -> list[bytes]:
    """`count` distinct messages, a realistic mix; the same mix for the same seed."""
    rng = random.Random(seed)
    inbox, tenants = agency()
    local, domain = inbox.split("@")
    corpus = [path.read_bytes() for path in sorted(CORPUS.rglob("*")) if path.is_file()]
    corpus = [raw for raw in corpus if len(raw) < 2_000_000]
    sent: list[str] = []
    messages: list[bytes] = []
    start = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    for n in range(count):
        roll = rng.random()
        if roll < 0.10 and corpus:
            messages.append(_unique_id(rng.choice(corpus), n))
            continue
        tenant, addresses, language = rng.choice(tenants)
        name = rng.choice(NAMES)
        sender = f"client{n}@example-{rng.randrange(500)}.org"
        message = EmailMessage(policy=SMTP)
        message["From"] = f"{name} <{sender}>"
        message["Date"] = format_datetime(start + timedelta(seconds=30 * n))
        message_id = make_msgid(f"m{n}", domain="mail.example.org")
        message["Message-ID"] = message_id
        persian = language == "fa" or rng.random() < 0.3
        if roll < 0.15:  # a plus-tag: the client forwards to inbox+<tenant>@
            message["To"] = f"{local}+{tenant}@{domain}"
        elif roll < 0.22 and addresses:  # an auto-forward keeps the original recipient
            message["To"] = addresses[0]
            message["Delivered-To"] = inbox
            message["X-Forwarded-To"] = inbox
        else:
            message["To"] = rng.choice(addresses) if addresses else inbox
            message["Delivered-To"] = inbox
        if roll > 0.95 and sent:  # a reply to earlier mail
            message["In-Reply-To"] = rng.choice(sent)
        subject = rng.choice(FA_SUBJECTS if persian else EN_SUBJECTS).format(n=n)
        body = rng.choice(FA_BODIES if persian else EN_BODIES).format(n=n % 100, name=name)
        message["Subject"] = ("Re: " if message["In-Reply-To"] else "") + subject
        if persian and roll > 0.9:
            message.set_content(FA_1256_BODY.format(name="مريم"), charset="windows-1256")
        else:
            message.set_content(body)
        if 0.3 < roll < 0.4:  # HTML as well as text
            html = "<html><body><p>" + body.replace("\n\n", "</p><p>") + "</p></body></html>"
            message.add_alternative(html, subtype="html")
        elif 0.4 < roll < 0.45:  # an attachment, 20-100 kB
            data = rng.randbytes(rng.randrange(20_000, 100_000))
            message.add_attachment(
                data, maintype="application", subtype="pdf", filename=f"scan-{n}.pdf"
            )
        sent.append(message_id)
        messages.append(message.as_bytes())
    return messages


def _unique_id(raw: bytes, n: int) -> bytes:
    """A corpus message with a Message-ID of its own, so each copy is a distinct message."""
    new_id = f"<corpus-{n}-{uuid.uuid4().hex[:8]}@bench.example>".encode()
    head_end = raw.find(b"\n\n")
    head = raw if head_end < 0 else raw[:head_end]
    replaced, done = re.subn(
        rb"(?im)^message-id:[^\r\n]*(\r?\n[ \t][^\r\n]*)*",
        b"Message-ID: " + new_id,
        head,
        count=1,
    )
    if done:
        return replaced + raw[len(head) :]
    newline = b"\r\n" if b"\r\n" in raw[:500] else b"\n"
    return b"Message-ID: " + new_id + newline + raw


# -- processes and measurements -------------------------------------------------------


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'monshi.db'}"
        return
    name = "monshi_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reader_engine(url: str) -> Engine:
    # Plain deferred reads: Monshi's SQLite engine takes the write lock on every BEGIN.
    if url.startswith("sqlite"):
        return create_engine(url)
    return make_engine(normalize_database_url(url), pool_size=1)


def progress(reader: Engine) -> tuple[int, int, int]:
    """(rows stored in all, rows still waiting for ingest, email items not yet routed).

    An item is routed once triage has read it and it waits in its pool: status `queued`
    with a triage result (ingest creates ordinary items queued, then triage reads them).
    Machine mail is recorded completed and needs no routing.
    """
    with reader.connect() as connection:
        total = connection.scalar(select(func.count()).select_from(mail_messages)) or 0
        waiting = (
            connection.scalar(
                select(func.count())
                .select_from(mail_messages)
                .where(mail_messages.c.status == "stored")
            )
            or 0
        )
        unrouted = (
            connection.scalar(
                select(func.count())
                .select_from(work_items)
                .where(
                    work_items.c.channel == "email",
                    (work_items.c.status == "received")
                    | ((work_items.c.status == "queued") & work_items.c.triage.is_(None)),
                )
            )
            or 0
        )
    return total, waiting, unrouted


def outcomes(reader: Engine) -> dict[str, int]:
    with reader.connect() as connection:
        mail = dict(
            connection.execute(
                select(mail_messages.c.status, func.count()).group_by(mail_messages.c.status)
            ).all()
        )
        items = dict(
            connection.execute(
                select(work_items.c.status, func.count())
                .where(work_items.c.channel == "email")
                .group_by(work_items.c.status)
            ).all()
        )
    return {
        **{f"mail {k}": v for k, v in mail.items()},
        **{f"items {k}": v for k, v in items.items()},
    }


def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            [*MONSHI, *argv],
            env=env,
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def run(args: argparse.Namespace) -> None:
    # SIGTERM unwinds like Ctrl-C, so the servers, processes and database are cleaned up.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit("terminated"))
    print(f"generating {args.messages} messages ...", flush=True)
    messages = realistic_messages(args.messages)
    size = sum(map(len, messages))
    print(f"  {size / 1e6:.1f} MB, mean {size / len(messages) / 1024:.1f} kB", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="monshi-bench-imap-"))
    workdir.chmod(0o755)  # Dovecot's own users read the config and mail below it
    server = DovecotServer(workdir / "dovecot")
    server.start()
    try:
        started = time.perf_counter()
        client = server.client()
        for start in range(0, len(messages), APPEND_CHUNK):
            client.multiappend("INBOX", messages[start : start + APPEND_CHUNK])
        client.logout()
        print(f"appended in {time.perf_counter() - started:.1f} s (MULTIAPPEND)", flush=True)
        del messages

        bare = subprocess.run(
            [sys.executable, str(BENCH / "_imap_fetch.py"), str(server.port), USER, PASSWORD],
            capture_output=True,
            text=True,
            check=True,
        )
        bare_result = json.loads(bare.stdout)
        with private_redis() as redis_url, database(args.database, workdir) as database_url:
            monshi = measure_monshi(args, server, redis_url, database_url, workdir)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(args, bare_result, monshi)
    if args.keep:
        print(f"(logs and the maildir in {workdir})")


def measure_monshi(
    args: argparse.Namespace,
    server: DovecotServer,
    redis_url: str,
    database_url: str,
    workdir: Path,
) -> dict[str, object]:
    engine = make_engine(normalize_database_url(database_url))
    upgrade(engine)
    apply_config_path(engine, AGENCY)
    engine.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MONSHI_SECRET_KEY": "bench",
        "MONSHI_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
        "IMAP_BATCH": str(args.batch),
        "MONSHI_MODEL_DIR": str(workdir / "models"),
        **server.env(),
    }
    # Train the category model first, as `monshi run` does, so no worker trains it mid-run.
    subprocess.run(
        [*MONSHI, "model", "train", "--no-corrections", "--out", env["MONSHI_MODEL_DIR"]],
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    connection = redis.Redis.from_url(redis_url)
    reader = reader_engine(database_url)
    workers = [spawn(["worker"], env, workdir / f"worker-{n}.log") for n in range(args.workers)]
    imap: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=connection)) < args.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not register within 60 s")
            time.sleep(0.1)
        helpers = _helper_pids(server, connection, reader)
        cpu_before = {
            **{f"worker {n}": cpu_seconds(w.pid) for n, w in enumerate(workers)},
            **{name: _cpu_of(pids) for name, pids in helpers.items()},
        }
        started = time.perf_counter()
        imap = spawn(["imap"], env, workdir / "imap.log")
        all_stored_at = None
        while True:
            total, waiting, unrouted = progress(reader)
            now = time.perf_counter()
            if all_stored_at is None and total >= args.messages:
                all_stored_at = now - started
            if total >= args.messages and waiting == 0 and unrouted == 0:
                done_at = now - started
                break
            if now - started > args.timeout:
                raise RuntimeError(f"not done after {args.timeout} s: {progress(reader)}")
            ended = [p.args for p in (*workers, imap) if p.poll() is not None]
            if ended:
                raise RuntimeError(f"{ended} exited; see the logs in {workdir}")
            time.sleep(0.05)
        processes = {"imap": imap, **{f"worker {n}": w for n, w in enumerate(workers)}}
        # CPU in the timed run: workers since they were ready, the servers' processes since
        # then too (PostgreSQL backends of this database, Dovecot, the private Redis).
        helpers = _helper_pids(server, connection, reader)
        run_cpu = {
            "imap": cpu_seconds(imap.pid),
            **{
                f"worker {n}": cpu_seconds(w.pid) - cpu_before[f"worker {n}"]
                for n, w in enumerate(workers)
            },
            **{
                name: _cpu_of(pids, since=cpu_before.get(name, 0.0))
                for name, pids in helpers.items()
            },
        }
        return {
            "run_cpu_seconds": run_cpu,
            "seconds": done_at,
            "stored_seconds": all_stored_at,
            "rss_mb": {name: peak_rss_mb(p.pid) for name, p in processes.items()},
            "cpu_seconds": {name: cpu_seconds(p.pid) for name, p in processes.items()},
            "outcomes": outcomes(reader),
        }
    finally:
        for process in [*workers, *([imap] if imap else [])]:
            process.terminate()
        for process in [*workers, *([imap] if imap else [])]:
            process.wait(30)
        reader.dispose()
        connection.close()


def _helper_pids(
    server: DovecotServer, connection: redis.Redis, reader: Engine
) -> dict[str, list[int]]:
    """The servers' processes working for the run: PostgreSQL backends on its database
    (SQLite has none), Dovecot's master and its children, the private Redis."""
    pids: dict[str, list[int]] = {}
    if reader.dialect.name == "postgresql":
        with reader.connect() as db:
            pids["postgresql backends"] = [
                int(pid)
                for pid in db.scalars(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid()"
                    )
                )
            ]
    if server.process is not None:
        pids["dovecot"] = _with_descendants(server.process.pid)
    pids["redis"] = [int(connection.info("server")["process_id"])]
    return pids


def _with_descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _cpu_of(pids: list[int], since: float = 0.0) -> float:
    """CPU seconds of the live processes of `pids` (a backend gone meanwhile is lost: the
    pool keeps them for the run), less `since`."""
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue
    return max(total - since, 0.0)


def report(args: argparse.Namespace, bare: dict[str, float], monshi: dict[str, object]) -> None:
    n = args.messages
    bare_rate = bare["messages"] / bare["seconds"]
    seconds = float(monshi["seconds"])  # type: ignore[arg-type]
    stored = float(monshi["stored_seconds"])  # type: ignore[arg-type]
    rate = n / seconds
    print()
    print(f"{n} messages, {args.workers} workers, batch {args.batch}, {args.database}")
    print(
        f"bare imapclient fetch: {bare['seconds']:.2f} s, {bare_rate:.0f} messages/s, "
        f"peak RSS {bare['rss_mb']:.0f} MB, CPU {bare['cpu_seconds']:.1f} s"
    )
    print(f"Monshi, stored by the connector: {stored:.2f} s, {n / stored:.0f} messages/s")
    print(f"Monshi, all ingested and routed: {seconds:.2f} s, {rate:.0f} messages/s")
    print(f"ratio (Monshi routed / bare fetch): {rate / bare_rate:.2f}")
    cpu = monshi["cpu_seconds"]
    for name, mb in monshi["rss_mb"].items():  # type: ignore[attr-defined]
        print(f"{name}: peak RSS {mb:.0f} MB, CPU {cpu[name]:.1f} s")  # type: ignore[index]
    run_cpu: dict[str, float] = monshi["run_cpu_seconds"]  # type: ignore[assignment]
    total = sum(run_cpu.values())
    print(
        f"CPU in the timed run: {total:.1f} s, {1000 * total / n:.2f} ms a message"
        f" ({total / seconds:.2f} cores busy on average): "
        + ", ".join(f"{name} {1000 * used / n:.2f} ms" for name, used in run_cpu.items())
    )
    print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(monshi["outcomes"].items())))  # type: ignore[attr-defined]
    worst = max(monshi["rss_mb"].values())  # type: ignore[attr-defined]
    print(
        f"targets: >= 500 messages/s routed: {'met' if rate >= 500 else 'NOT met'}; "
        f"< 300 MB per process: {'met' if worst < 300 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="IMAP_BATCH")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true", help="keep the logs and the maildir")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
