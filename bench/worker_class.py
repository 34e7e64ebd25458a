"""RQ's per-job cost for each worker class, side by side on one private Redis.

Enqueues N no-op jobs, drains them with one burst worker of each class, and repeats the
pair R times alternating the order; prints the median jobs/s of each and their ratio.
Usage: python bench/worker_class.py [--jobs 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import redis
from rq import Queue, SimpleWorker, Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _redis import private_redis

CLASSES: dict[str, type[Worker] | type[SimpleWorker]] = {
    "SimpleWorker": SimpleWorker,
    "Worker (fork per job)": Worker,
}


def drain(url: str, worker_class: type, jobs: int) -> float:
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    queue = Queue("bench", connection=connection)
    with connection.pipeline() as pipe:
        for _ in range(jobs):
            queue.enqueue("workers.jobs.noop", pipeline=pipe)
        pipe.execute()
    assert queue.count == jobs
    worker = worker_class([queue], connection=connection)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="ERROR")
    elapsed = time.perf_counter() - started
    finished = queue.finished_job_registry.count
    connection.close()
    if finished != jobs:
        raise SystemExit(f"{worker_class.__name__}: {finished} of {jobs} jobs finished")
    return jobs / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rates: dict[str, list[float]] = {name: [] for name in CLASSES}
    with private_redis() as url:
        for round_number in range(args.rounds):
            names = list(CLASSES)
            if round_number % 2:
                names.reverse()
            for name in names:
                rates[name].append(drain(url, CLASSES[name], args.jobs))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    print(f"{args.jobs} no-op jobs x {args.rounds} rounds, one burst worker, private Redis")
    for name, median in medians.items():
        spread = ", ".join(f"{rate:.0f}" for rate in rates[name])
        print(f"  {name:24s} median {median:7.0f} jobs/s   (rounds: {spread})")
    simple, forking = medians["SimpleWorker"], medians["Worker (fork per job)"]
    print(f"  ratio SimpleWorker / Worker: {simple / forking:.1f}x")


if __name__ == "__main__":
    main()
