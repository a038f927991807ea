"""The small run size shared by the lab, model, laundering and driver tests (a plain dict of Params fields)."""

from __future__ import annotations

SMALL = dict(n_documents=2000, batch_size=100)
