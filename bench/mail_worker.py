"""The mail worker's CPU per message, without IMAP, RQ or other processes in the way.

Stores N realistic messages (bench/imap_ingest.py's mix) in a fresh database as the
connector would, then runs the ingest job's function (ingest, triage, queue) over them in
batches of B in this process, and prints wall and CPU time per message, optionally under
cProfile (the top functions by cumulative time).

Usage: python bench/mail_worker.py [--messages 600] [--batch 200]
       [--database postgresql|sqlite] [--profile] [--top 40]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import logging
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import redis
from _imap_fetch import cpu_seconds
from _redis import private_redis
from imap_ingest import AGENCY, database, realistic_messages
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from triage.classify.entities import extract_entities
from triage.classify.model import save, train, training_files
from triage.classify.registry import ModelRegistry
from triage.store.config_store import apply_config_path
from triage.store.db import make_engine
from triage.store.mailbox import FetchedMail, MailboxStore
from triage.store.migrate import upgrade
from triage.store.repository import Repository
from triage.store.tables import mail_messages, work_items
from workers import context
from workers.dispatch import Dispatcher
from workers.mail_jobs import ingest_mail_batch

MAILBOX = "bench/INBOX"


def _backend_cpu(engine: Engine) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to this database."""
    if engine.dialect.name != "postgresql":
        return {}
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ).all()
    used = {}
    for pid in pids:
        try:
            used[int(pid)] = cpu_seconds(int(pid))
        except OSError:  # gone meanwhile
            continue
    return used


# (module, attribute, name shown): the phases of the job, timed where they are looked up.
PHASES = (
    ("workers.mail_jobs", "_prepare", "parse and resolve (mail_jobs._prepare)"),
    ("workers.triage_batch.MailTriage", "decide", "triage before ingest (MailTriage.decide)"),
    ("workers.triage_batch", "triage_many", "  of which triage_many"),
    ("triage.classify.pipeline", "extract_entities", "    of which entities"),
    ("triage.classify.entities", "find_dates", "      of which dates"),
    ("triage.classify.model.TrainedModel", "predict", "    of which the model"),
    ("triage.classify.pipeline", "assess_priority", "    of which priority"),
    ("triage.classify.pipeline", "assess_spam", "    of which spam"),
    ("triage.classify.pipeline", "detect_language", "    of which language"),
    ("workers.triage_batch", "routing_from", "  of which SLA routing (routing_from)"),
    ("triage.store.mail_items.MailStore", "ingest_many", "ingest SQL (MailStore.ingest_many)"),
    ("triage.store.mail_items.MailStore", "begin_attempts", "count tries (begin_attempts)"),
    ("triage.store.mail_items.MailStore", "pending_ids", "pending_ids"),
    ("triage.store.mail_items.MailStore", "directory", "tenant addresses (directory)"),
    ("workers.triage_batch.MailTriage", "queued", "escalation jobs (MailTriage.queued)"),
    # Triage after the commit: items whose triage before it did not hold, or failed.
    ("workers.triage_batch", "get_items", "read new items again (get_items)"),
    ("workers.triage_batch", "apply_triage_batch", "store triage (apply_triage_batch)"),
)


def _backends_of(database_name: str) -> list[int]:
    """PostgreSQL backends serving `database_name`, found by their process titles (no query:
    one would cost the backends what is being measured)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            title = cmdline.read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and f" {database_name} ".encode() in title:
            pids.append(int(cmdline.parent.name))
    return pids


def _cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:  # gone meanwhile
            continue
    return total


DATABASE_PHASES = {
    name for _, attribute, name in PHASES if attribute not in ("_prepare", "triage_many")
} - {name for _, _, name in PHASES if name.startswith(" ")}


class _Phases:
    """Wraps each phase's function with a CPU-time counter (inclusive of what it calls), and
    counts the CPU its PostgreSQL backends used meanwhile (in clock ticks of 10 ms: read
    over a few thousand messages)."""

    database_name: str | None = None

    def __init__(self) -> None:
        import importlib

        self.used: dict[str, float] = {}
        self.database: dict[str, float] = {}
        for where, attribute, name in PHASES:
            if where.endswith((".MailStore", ".TrainedModel", ".MailTriage")):
                module_name, _, cls = where.rpartition(".")
                target: object = getattr(importlib.import_module(module_name), cls)
            else:
                target = importlib.import_module(where)
            setattr(target, attribute, self._timed(getattr(target, attribute), name))
            self.used[name] = 0.0
            self.database[name] = 0.0

    def _timed(self, function: Any, name: str) -> Any:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            # Only phases called once a batch (reading /proc per message would cost more
            # than most phases), and only those that talk to the database.
            top = self.database_name is not None and name in DATABASE_PHASES
            backends = _backends_of(self.database_name or "") if top else []
            database_start = _cpu_of(backends)
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.used[name] += time.process_time() - start
                self.database[name] += _cpu_of(backends) - database_start

        return timed


class _WarningCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--breakdown", action="store_true", help="CPU time of each phase (inclusive), per message"
    )
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callers", action="append", default=[], help="who calls a function")
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument("--callees", action="append", default=[], help="a function to break down")
    args = parser.parse_args()

    phases = _Phases() if args.breakdown else None
    warnings = _WarningCounter()
    logging.getLogger().addHandler(warnings)
    raws = realistic_messages(args.messages)
    with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
        workdir = Path(tmp)
        engine = make_engine(url)
        upgrade(engine)
        apply_config_path(engine, AGENCY)
        model_dir = workdir / "models"
        save(train(training_files()), model_dir)
        boxes = MailboxStore(engine)
        ids: list[int] = []
        for start in range(0, len(raws), 500):
            fetched = [
                FetchedMail(uid=start + n + 1, raw=raw, size=len(raw))
                for n, raw in enumerate(raws[start : start + 500])
            ]
            ids += [row.id for row in boxes.store_messages(MAILBOX, 1, fetched)]
        with private_redis() as redis_url:
            connection = redis.Redis.from_url(redis_url)
            models = ModelRegistry(model_dir)
            models.current()  # loaded before timing, as a running worker has it
            # dateparser loads its data on its first call: a running worker did that long ago.
            extract_entities("next Monday", now=datetime.now(UTC), timezone="UTC")
            context.install(
                context.WorkerContext(
                    Repository(engine), connection, Dispatcher(connection), models
                )
            )
            # Wall time (a CPU-time timer costs more than most of what it would measure).
            profiler = cProfile.Profile() if args.profile else None
            if phases is not None and engine.dialect.name == "postgresql":
                phases.database_name = engine.url.database
            database_before = _backend_cpu(engine)
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            for start in range(0, len(ids), args.batch):
                ingest_mail_batch(ids[start : start + args.batch])
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            database_after = _backend_cpu(engine)
            database_cpu = sum(
                used - database_before.get(pid, 0.0) for pid, used in database_after.items()
            )
            context.install(None)
            connection.close()
        with engine.connect() as db:
            statuses = dict(
                db.execute(
                    select(mail_messages.c.status, func.count()).group_by(mail_messages.c.status)
                ).all()
            )
            untriaged = db.scalar(
                select(func.count())
                .select_from(work_items)
                .where(work_items.c.status == "queued", work_items.c.triage.is_(None))
            )
        engine.dispose()
    n = len(ids)
    print(f"messages: {n}, batch {args.batch}, {args.database}")
    print(f"outcomes: {statuses}; queued but untriaged: {untriaged}")
    print(f"warnings logged (a batch gone one by one, a failed try): {warnings.count}")
    print(f"wall {wall:.2f} s ({1000 * wall / n:.2f} ms/message, {n / wall:.0f} messages/s)")
    print(f"CPU of this process {cpu:.2f} s ({1000 * cpu / n:.2f} ms/message)")
    if args.database == "postgresql":
        print(
            f"CPU of its PostgreSQL backends {database_cpu:.2f} s"
            f" ({1000 * database_cpu / n:.2f} ms/message)"
        )
    if phases is not None:
        print(f"  {'phase (CPU a message, inclusive)':<48} {'worker':>9} {'postgres':>9}")
        for name, used in phases.used.items():
            print(
                f"  {name:<48} {1000 * used / n:6.3f} ms {1000 * phases.database[name] / n:6.3f} ms"
            )
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(args.sort)
        stats.print_stats(args.top)
        for name in args.callees:
            stats.print_callees(name)
        for name in args.callers:
            stats.print_callers(name)
        print(out.getvalue())


if __name__ == "__main__":
    main()
