"""`monshi serve`: being written."""

from __future__ import annotations
