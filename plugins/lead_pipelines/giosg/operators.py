"""Operators that land giosg's workflows and, one mapped task per workflow, their daily sidedata."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.giosg.settings import SIDEDATA, SOURCE, WORKFLOWS

if TYPE_CHECKING:
    from lead_pipelines.common.records import Page
    from lead_pipelines.common.windows import Window
    from lead_pipelines.giosg.hook import GiosgHook


class _GiosgOperator(VendorToWarehouseOperator):
    """Build the giosg hook for ``conn_id``."""

    source = SOURCE

    def make_hook(self) -> GiosgHook:
        """Build the giosg hook for ``conn_id``."""
        from lead_pipelines.giosg.hook import GiosgHook

        return GiosgHook(giosg_conn_id=self.conn_id)


class GiosgWorkflowsOperator(_GiosgOperator):
    """Land the organisation's workflows into ``raw.giosg_workflows`` (keyed by id), each as giosg sent it."""

    stream = WORKFLOWS

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the workflow list, one page at a time."""
        return self.hook.iter_workflows(window)

    def endpoint_for(self) -> str:
        """Return the organisation's workflow list path."""
        try:
            return self.hook.workflows_path()
        except Exception:  # an unusable connection fails the landing itself, with its own message
            return super().endpoint_for()


class GiosgSidedataOperator(_GiosgOperator):
    """Land one workflow's sidedata for each day of the window into ``raw.giosg_sidedata``.

    Mapped over the workflows landed (``partition`` is the workflow's UUID): each workflow's window has
    its own lock and audit rows, and a workflow giosg refuses (403) fails only its own task.
    """

    stream = SIDEDATA

    @classmethod
    def plan_partitions(cls, window: Window, *, conn_id: str, warehouse_conn_id: str) -> list[str]:
        """Return the UUIDs of the workflows in ``raw.giosg_workflows``, one mapped landing each.

        :param window: The run's data interval.
        :param conn_id: The giosg connection (unused: the workflows are read from the warehouse).
        :param warehouse_conn_id: The warehouse's connection.
        """
        from lead_pipelines.common.warehouse import connect, statement

        with connect(warehouse_conn_id) as conn:
            return [row[0] for row in conn.execute(statement("select_giosg_workflow_ids"))]

    def pages(self, window: Window) -> Iterator[Page]:
        """Yield the workflow's sidedata, one call per day of the window."""
        return self.hook.iter_sidedata(str(self.partition), window)

    def endpoint_for(self) -> str:
        """Return the workflow's sidedata path."""
        try:
            return self.hook.sidedata_path(str(self.partition))
        except Exception:  # an unusable connection fails the landing itself, with its own message
            return super().endpoint_for()
