"""A bare imapclient fetch of a whole mailbox, in a process that imports nothing else.

Run by bench/imap_ingest.py as `python bench/_imap_fetch.py PORT USER PASSWORD`: SELECT
(read-only), SEARCH ALL, UID FETCH BODY.PEEK[] in batches of 200; prints the count, bytes,
seconds and the process's peak RSS as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from imapclient import IMAPClient  # type: ignore[import-untyped]

BATCH = 200


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set size (VmHWM in /proc), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(port: int, user: str, password: str) -> None:
    started = time.perf_counter()
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=120)
    client.login(user, password)
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    fetched = total_bytes = 0
    for start in range(0, len(uids), BATCH):
        for data in client.fetch(uids[start : start + BATCH], ["BODY.PEEK[]"]).values():
            fetched += 1
            total_bytes += len(data[b"BODY[]"])
    client.logout()
    seconds = time.perf_counter() - started
    pid = os.getpid()
    result = {
        "messages": fetched,
        "bytes": total_bytes,
        "seconds": seconds,
        "rss_mb": peak_rss_mb(pid),
        "cpu_seconds": cpu_seconds(pid),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2], sys.argv[3])
