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
import io
import logging
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import redis
from _redis import private_redis
from imap_ingest import AGENCY, database, realistic_messages
from sqlalchemy import func, select

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
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--callees", action="append", default=[], help="a function to break down")
    args = parser.parse_args()

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
            context.install(
                context.WorkerContext(
                    Repository(engine), connection, Dispatcher(connection), models
                )
            )
            profiler = cProfile.Profile() if args.profile else None
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            for start in range(0, len(ids), args.batch):
                ingest_mail_batch(ids[start : start + args.batch])
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
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
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(args.top)
        for name in args.callees:
            stats.print_callees(name)
        print(out.getvalue())


if __name__ == "__main__":
    main()
