"""`monshi run`: being written."""

from __future__ import annotations
