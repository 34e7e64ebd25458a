"""RQ jobs (thin: ids in, call triage, enqueue the next step) and the worker entry point."""
