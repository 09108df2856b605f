"""Operators that land one Pirsch statistics stream per task: the window's day and the trailing days before it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.pirsch.settings import SOURCE, STREAMS

if TYPE_CHECKING:
    from lead_pipelines.common.records import Page
    from lead_pipelines.common.settings import StreamSettings
    from lead_pipelines.common.windows import Window
    from lead_pipelines.pirsch.hook import PirschHook


class PirschStatisticsOperator(VendorToWarehouseOperator):
    """Land one statistics stream of the run's days into ``raw.pirsch_<stream>``, upserted on the natural key.

    Subclasses (one per stream, see ``OPERATORS``) set ``stream``.
    """

    source = SOURCE

    def make_hook(self) -> PirschHook:
        """Build the Pirsch hook for ``conn_id``."""
        from lead_pipelines.pirsch.hook import PirschHook

        return PirschHook(pirsch_conn_id=self.conn_id)

    def lookback(self) -> timedelta:
        """Return the trailing days this run re-reads: the connection's ``trailing_days``."""
        return timedelta(days=self.hook.trailing_days)

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the stream's rows of the window's days and the trailing days, one page at a time."""
        return self.hook.iter_stream(self.stream.name, window)


def _operator(stream: StreamSettings) -> type[PirschStatisticsOperator]:
    name = "Pirsch" + "".join(part.title() for part in stream.name.split("_")) + "Operator"
    attrs: dict[str, Any] = {"stream": stream, "__doc__": f"Land Pirsch's ``{stream.endpoint}`` rows into "
                             f"``raw.{SOURCE.raw_table(stream)}``.", "__module__": __name__}
    return type(name, (PirschStatisticsOperator,), attrs)


#: The operator class of each stream, by stream name.
OPERATORS: dict[str, type[PirschStatisticsOperator]] = {s.name: _operator(s) for s in STREAMS}
globals().update({cls.__name__: cls for cls in OPERATORS.values()})
