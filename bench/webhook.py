"""Signed POST /twilio/voice: Monshi's web process side by side with a bare aiohttp handler.

Starts the real server as one process (`python -m triage web`, a throwaway SQLite database
migrated with BENCH_AGENCY applied, a private Redis on a unix socket as `monshi run`
gives Monshi by default, or over TCP with --redis-tcp) and, in the same run, a second
process serving a bare aiohttp handler that parses the form and returns constant TwiML on
the same path, on uvloop's event loop like `monshi web`. Drives signed requests (a new
CallSid and caller each; To a tenant's number) at 1, 16 and 64 concurrent clients over
loopback, the two servers alternating within every
level and round, and prints the median requests/s, p50 and p99 of each and the ratio.
Before each measurement the Monshi process is left to go idle (work a burst leaves behind
in background threads or tasks is not left to slow the next run); how long that took is
printed, with Monshi's CPU per request on its event loop and in its other threads. Only
the web process runs: no worker drains the call-event stream meanwhile.

The path measured is the same at any hour: BENCH_AGENCY's client is open around the
clock and has no IVR, so every call hunts; none of its three secretaries is available,
so every call finds nobody free and is offered voicemail. That is the busy hour, when
calls come fastest: more callers than free secretaries. `--config examples/agency.toml`
measures the example agency instead, whose answer depends on the time of day (Hudson &
Park, the default number, forwards after 17:00 New York time).
Usage: python bench/webhook.py [--requests 2000] [--rounds 3] [--levels 1,16,64] [--to N]
                               [--config AGENCY_TOML] [--redis-tcp]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import uvloop
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _redis import private_redis

from integrations.twilio.call_simulator import (
    SIGNATURE_HEADER,
    TWILIO_WEBHOOK_HEADERS,
    call_params,
    new_sid,
    sign_webhook,
)

REPO = Path(__file__).resolve().parent.parent
PATH = "/twilio/voice"
HUDSON_LAW = "+12125550143"
BENCH_AGENCY = """
[agency]
name = "Monshi benchmark"
inbox = "inbox@monshi-bench.example"

[[tenants]]
id = "hudson-law"
name = "Hudson & Park Law Office"
language = "en"
timezone = "America/New_York"
greeting = "Thank you for calling Hudson and Park. Please hold while we connect you."
phone_numbers = ["+12125550143"]
secretaries = ["sara", "emily"]
backups = ["david"]
fallback_number = "+12125550199"

[tenants.hours]
always_open = true

[[secretaries]]
id = "sara"
name = "Sara Ahmadi"
languages = ["fa", "en"]
phone = "+989121234567"
role = "secretary"
skills = ["message"]
capacity = 3

[[secretaries]]
id = "emily"
name = "Emily Carter"
languages = ["en"]
phone = "+16465550142"
role = "secretary"
skills = ["message"]
capacity = 3

[[secretaries]]
id = "david"
name = "David Chen"
languages = ["en", "fa"]
phone = "+19175550142"
role = "secretary"
skills = ["message"]
capacity = 3
"""
TOKEN = secrets.token_hex(16)
ACCOUNT_SID = "AC" + secrets.token_hex(16)
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    "<Say>Thank you for calling. Please hold.</Say><Hangup /></Response>"
)
IDLE_CPU_SECONDS = 0.01  # less than this per quarter second is idle (4 % of a core)
IDLE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Server:
    name: str
    url: str  # where it listens, which is also the URL it believes it is reached at
    pid: int


@dataclass
class Measurement:
    rate: float  # requests/s
    p50: float  # ms
    p99: float  # ms
    answers: Counter[str]
    sent: int  # with the warm-up
    # CPU µs per request on the event loop (bare: the whole process); Monshi only: in
    # other threads (its to_thread calls, background loops), and the seconds it stayed
    # busy after the run.
    loop_us: float = 0.0
    threads_us: float = 0.0
    drain: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_bare(port: int) -> None:
    """The baseline: what any aiohttp webhook costs before doing anything."""

    async def voice(request: web.Request) -> web.Response:
        await request.post()
        return web.Response(text=BARE_TWIML, content_type="text/xml")

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(PATH, voice)
    app.router.add_get("/ready", ready)
    # On the event loop `monshi web` runs on, so the two differ by what Monshi does.
    loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, loop=loop)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path | None) -> None:
    """Until a GET of `url` answers 200 (`url` None: until the port accepts connections)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise SystemExit(f"{url}: the server exited with {process.returncode}\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within 30 s")


@contextmanager
def running(
    command: Sequence[str], env: dict[str, str], log: Path | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process; stop it (SIGTERM, then SIGKILL) however the run ends."""
    with open(log or os.devnull, "wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=output
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def monshi_env(workdir: Path, redis_url: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"sqlite:///{workdir / 'monshi.db'}",
        "REDIS_URL": redis_url,
        "MONSHI_SECRET_KEY": secrets.token_urlsafe(32),
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "MONSHI_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MONSHI_SPOOL_DIR": str(workdir / "spool"),
    }


def prepare_database(env: dict[str, str], config: Path) -> None:
    for command in (["db", "upgrade"], ["config", "apply", str(config)]):
        done = subprocess.run(
            [sys.executable, "-m", "triage", *command],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"monshi {' '.join(command)} failed:\n{done.stderr[-3000:]}")


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process (or one of its threads), from /proc (Linux)."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_split(pid: int) -> tuple[float, float]:
    """CPU seconds of the main thread (the event loop) and of all threads together."""
    return cpu_seconds(pid, pid), cpu_seconds(pid)


def wait_idle(pid: int) -> float:
    """Wait until the process stops working in the background; the seconds it took."""
    started = time.monotonic()
    before = cpu_seconds(pid)
    while time.monotonic() - started < IDLE_TIMEOUT_SECONDS:
        time.sleep(0.25)
        after = cpu_seconds(pid)
        if after - before < IDLE_CPU_SECONDS:
            return time.monotonic() - started
        before = after
    raise SystemExit(f"process {pid} still busy after {IDLE_TIMEOUT_SECONDS:g} s")


class Callers:
    """Signed incoming-call forms, each with a new CallSid and a new caller."""

    def __init__(self, to: str) -> None:
        self.to = to
        self.count = 0

    def batch(self, server: Server, size: int) -> list[tuple[bytes, dict[str, str]]]:
        requests = []
        for _ in range(size):
            self.count += 1
            params = call_params(
                call_sid=new_sid("CA"),
                account_sid=ACCOUNT_SID,
                from_=f"+1646{2_000_000 + self.count:07d}",
                to=self.to,
                status="ringing",
            )
            signature = sign_webhook(TOKEN, server.url + PATH, params)
            headers = {**TWILIO_WEBHOOK_HEADERS, SIGNATURE_HEADER: signature}
            requests.append((urlencode(params).encode(), headers))
        return requests


async def drive(server: Server, callers: Callers, requests: int, concurrency: int) -> Measurement:
    """`requests` POSTs by `concurrency` clients on one keep-alive session (after a warm-up)."""
    warmup = callers.batch(server, max(100, 4 * concurrency))
    batch = callers.batch(server, requests)
    latencies = [0.0] * requests
    bodies = [""] * requests
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(work: Iterator[int], items: list[tuple[bytes, dict[str, str]]]) -> None:
            for index in work:
                body, headers = items[index]
                started = time.perf_counter()
                async with session.post(server.url + PATH, data=body, headers=headers) as response:
                    text = await response.text()
                    status = response.status
                if items is batch:
                    latencies[index] = time.perf_counter() - started
                    bodies[index] = text
                if status != 200:
                    raise SystemExit(f"{server.name} answered HTTP {status}: {text[:500]}")

        work = iter(range(len(warmup)))
        await asyncio.gather(*(client(work, warmup) for _ in range(concurrency)))
        work = iter(range(requests))
        started = time.perf_counter()
        await asyncio.gather(*(client(work, batch) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Measurement(
        rate=requests / elapsed,
        p50=1000 * ordered[len(ordered) // 2],
        p99=1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        answers=Counter(twiml_shape(body) for body in bodies),
        sent=len(warmup) + requests,
    )


def twiml_shape(body: str) -> str:
    """The verbs of an answer, e.g. "Say Dial(Number)", to show which path was measured."""
    verbs = re.findall(r"<(Say|Play|Gather|Dial|Number|Record|Hangup|Redirect)\b", body)
    if not body.lstrip().startswith("<?xml") or not verbs:
        return "not TwiML: " + body[:80]
    shape = " ".join(verbs).replace("Dial Number", "Dial(Number)")
    return shape if "<Dial" not in body or "Number" in shape else shape.replace("Dial", "Dial(+)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--levels", default="1,16,64", help="concurrent clients, comma-separated")
    parser.add_argument("--to", default=HUDSON_LAW, help="the called number (a tenant's)")
    parser.add_argument(
        "--config", type=Path, help="the agency TOML to apply (default: BENCH_AGENCY)"
    )
    parser.add_argument(
        "--redis-tcp",
        action="store_true",
        help="reach Redis over TCP on loopback (default: a unix socket, as `monshi run` does)",
    )
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(args.serve_bare)
        return
    levels = [int(level) for level in args.levels.split(",")]

    with ExitStack() as stack:
        redis_url = stack.enter_context(private_redis(unix_socket=not args.redis_tcp))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="monshi-bench-")))
        monshi_port, bare_port = free_port(), free_port()
        env = monshi_env(workdir, redis_url, monshi_port)
        config = args.config
        if config is None:
            config = workdir / "agency.toml"
            config.write_text(BENCH_AGENCY)
        prepare_database(env, config.resolve())
        log = workdir / "web.log"
        web_command = [sys.executable, "-m", "triage", "web", "--port", str(monshi_port)]
        monshi_process = stack.enter_context(running(web_command, env, log))
        bare_command = [sys.executable, __file__, "--serve-bare", str(bare_port)]
        bare_process = stack.enter_context(running(bare_command, env, None))
        monshi = Server("Monshi", f"http://127.0.0.1:{monshi_port}", monshi_process.pid)
        bare = Server("bare", f"http://127.0.0.1:{bare_port}", bare_process.pid)
        wait_until_up(monshi.url + "/readyz", monshi_process, log)
        wait_until_up(bare.url + "/ready", bare_process, None)
        results = run_levels(monshi, bare, Callers(args.to), levels, args)
    report(results, levels, args)


Results = dict[tuple[str, int], list[Measurement]]


def run_levels(
    monshi: Server, bare: Server, callers: Callers, levels: list[int], args: argparse.Namespace
) -> Results:
    results: Results = {}
    wait_idle(monshi.pid)
    for level_index, level in enumerate(levels):
        for round_number in range(args.rounds):
            order = [monshi, bare] if (level_index + round_number) % 2 == 0 else [bare, monshi]
            for server in order:
                loop_before, all_before = cpu_split(monshi.pid)
                bare_before = cpu_seconds(bare.pid)
                measurement = asyncio.run(drive(server, callers, args.requests, level))
                if server is bare:
                    measurement.loop_us = (
                        1e6 * (cpu_seconds(bare.pid) - bare_before) / measurement.sent
                    )
                if server is monshi:
                    measurement.drain = wait_idle(monshi.pid)
                    loop_after, all_after = cpu_split(monshi.pid)
                    loop = loop_after - loop_before
                    # /proc counts in clock ticks, read twice: never below zero.
                    threads = max(0.0, (all_after - all_before) - loop)
                    measurement.loop_us = 1e6 * loop / measurement.sent
                    measurement.threads_us = 1e6 * threads / measurement.sent
                results.setdefault((server.name, level), []).append(measurement)
    return results


def report(results: Results, levels: list[int], args: argparse.Namespace) -> None:
    print(
        f"POST {PATH}, signed, To {args.to}: {args.requests} requests per run, "
        f"{args.rounds} rounds per level, medians"
    )
    redis = "over TCP" if args.redis_tcp else "on a unix socket"
    agency = args.config or "BENCH_AGENCY: open around the clock, nobody free"
    print(f"Monshi: `python -m triage web` (SQLite, private Redis {redis}, {agency})")
    print("bare:   an aiohttp handler that parses the form and returns constant TwiML (uvloop)\n")
    print(f"{'clients':>7}  {'Monshi req/s':>12} {'p50 ms':>7} {'p99 ms':>7}  "
          f"{'bare req/s':>10} {'p50 ms':>7} {'p99 ms':>7}  {'ratio':>5}")  # fmt: skip
    summary: dict[int, tuple[float, float]] = {}
    for level in levels:
        row = []
        for name in ("Monshi", "bare"):
            runs = results[(name, level)]
            row.append(
                (
                    statistics.median(run.rate for run in runs),
                    statistics.median(run.p50 for run in runs),
                    statistics.median(run.p99 for run in runs),
                )
            )
        (m_rate, m_p50, m_p99), (b_rate, b_p50, b_p99) = row
        ratio = m_rate / b_rate
        summary[level] = (ratio, m_p99)
        print(
            f"{level:>7}  {m_rate:>12.0f} {m_p50:>7.2f} {m_p99:>7.2f}  "
            f"{b_rate:>10.0f} {b_p50:>7.2f} {b_p99:>7.2f}  {ratio:>5.2f}"
        )
    answers: Counter[str] = Counter()
    for (name, _level), runs in results.items():
        if name == "Monshi":
            for run in runs:
                answers.update(run.answers)
    print("\nMonshi answered: " + "; ".join(f"{shape} x{n}" for shape, n in answers.most_common()))
    print("Monshi CPU per request (median; the event loop + other threads), and how long it")
    print("stayed busy after each run (background work the burst left behind):")
    for level in levels:
        runs = results[("Monshi", level)]
        loop = statistics.median(run.loop_us for run in runs)
        threads = statistics.median(run.threads_us for run in runs)
        drain = statistics.median(run.drain for run in runs)
        bare_cpu = statistics.median(run.loop_us for run in results[("bare", level)])
        print(
            f"{level:>7} clients: {loop:5.0f} µs + {threads:5.0f} µs = {loop + threads:5.0f} µs; "
            f"busy {drain:.1f} s after; bare {bare_cpu:4.0f} µs, "
            f"CPU ratio bare/Monshi {bare_cpu / (loop + threads):.2f}"
        )
    if 16 in summary:
        ratio, p99 = summary[16]
        met = ratio >= 0.5 and p99 < 25
        print(
            f"target at 16 clients (ratio >= 0.5, p99 < 25 ms): {'met' if met else 'NOT met'} "
            f"(ratio {ratio:.2f}, p99 {p99:.1f} ms)"
        )


if __name__ == "__main__":
    main()
