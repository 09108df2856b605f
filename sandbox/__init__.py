"""HTTP simulators of the vendor APIs, served on one loopback port under per-vendor prefixes."""

from __future__ import annotations
