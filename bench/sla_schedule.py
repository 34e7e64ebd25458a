"""What the SLA adds to queuing one item, side by side on one private Redis.

Per item: the routing decision (`triage.sla.routing_for` + `escalation_moments`, pure, in
a Tehran office's business hours), scheduling its escalation (`Dispatcher.schedule_escalation`:
the first step's job; each step schedules the next), and, for scale, enqueueing one
ordinary job (what an ingest costs the edge). Repeats R rounds alternating the order;
prints medians in µs per item and the ratio of scheduling to one enqueue.
Usage: python bench/sla_schedule.py [--items 1000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _redis import private_redis

from triage.config import parse_config
from triage.directory import build_directory
from triage.models import Priority
from triage.sla import ItemFacts, escalation_moments, routing_for
from workers.dispatch import Dispatcher

AGENCY = """
[agency]
name = "Bench"
inbox = "inbox@agency.example"

[[tenants]]
id = "pars"
name = "Pars"
language = "fa"
timezone = "Asia/Tehran"
secretaries = ["reza"]

[tenants.hours]
sat = "09:00-17:00"
sun = "09:00-17:00"
mon = "09:00-17:00"
tue = "09:00-17:00"
wed = "09:00-17:00"

[[secretaries]]
id = "reza"
name = "Reza"
role = "secretary"
languages = ["fa"]
skills = ["accounting"]
capacity = 2
phone = "+989123456789"
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    directory = build_directory(parse_config(AGENCY), "1")
    tenant = directory.tenants["pars"]
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday 15:30 in Tehran
    queued = [start + timedelta(minutes=7 * n) for n in range(args.items)]  # over weeks
    facts = ItemFacts(Priority.NORMAL, skill="accounting")

    def decide() -> None:
        for moment in queued:
            routing = routing_for(tenant, directory.secretaries, facts, moment)
            assert routing.due_at is not None
            escalation_moments(tenant.hours, tenant.sla, moment, routing.due_at)

    with private_redis() as url:
        connection = redis.Redis.from_url(url)
        dispatcher = Dispatcher(connection)
        routings = [routing_for(tenant, directory.secretaries, facts, m) for m in queued]
        plans = [
            escalation_moments(tenant.hours, tenant.sla, m, r.due_at)  # type: ignore[arg-type]
            for m, r in zip(queued, routings, strict=True)
        ]

        def schedule() -> None:
            connection.flushdb()
            for item_id, (routing, plan) in enumerate(zip(routings, plans, strict=True), 1):
                assert routing.due_at is not None
                dispatcher.schedule_escalation(item_id, routing.due_at, plan)

        def enqueue() -> None:
            connection.flushdb()
            for item_id in range(1, args.items + 1):
                dispatcher.ingest(item_id)

        cases: dict[str, Callable[[], None]] = {
            "routing decision (pure)": decide,
            "schedule the escalation": schedule,
            "enqueue 1 ingest job": enqueue,
        }
        timings: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(args.rounds):
            order = list(cases.items())
            if round_ % 2:
                order.reverse()
            for name, run in order:
                began = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - began) / args.items * 1e6)
        connection.close()
    print(f"{args.items} items x {args.rounds} rounds, median µs per item:")
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, median in medians.items():
        print(f"  {name:28s} {median:8.1f}")
    ratio = medians["schedule the escalation"] / medians["enqueue 1 ingest job"]
    print(f"  scheduling / one enqueue: {ratio:.2f}x")


if __name__ == "__main__":
    main()
