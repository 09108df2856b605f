"""build_sync_dag shapes: fan-out streams run after their parent, mapped streams after their plan."""

from __future__ import annotations

from datetime import timedelta

from lead_pipelines.common.factory import build_sync_dag
from lead_pipelines.common.operators import VendorToWarehouseOperator
from lead_pipelines.common.settings import SourceSettings, StreamSettings, utc

PARENTS = StreamSettings(name="parents", endpoint="/parents")
CHILDREN = StreamSettings(name="children", endpoint="/children", after="parents")
PER_PARENT = StreamSettings(name="per_parent", endpoint="/per", partitioned_by="parents")
SOURCE = SourceSettings(vendor="fake", display_name="Fake", dag_id="fake_sync", conn_id="fake_default",
                        cron="0 0 * * *", interval=timedelta(days=1), start_date=utc(2024, 1, 1),
                        streams=(PARENTS, CHILDREN, PER_PARENT), pool="fake")


def operator_for(stream: StreamSettings) -> type[VendorToWarehouseOperator]:
    return type(f"Land{stream.name.title()}", (VendorToWarehouseOperator,), {"source": SOURCE, "stream": stream})


def test_fan_out_and_mapped_streams_hang_off_their_parent():
    dag = build_sync_dag(SOURCE, {s.name: operator_for(s) for s in SOURCE.streams}, doc_md="fake")

    assert dag.get_task("land_parents").upstream_task_ids == {"migrate_warehouse"}
    assert dag.get_task("land_children").upstream_task_ids == {"land_parents"}
    assert dag.get_task("plan_per_parent").upstream_task_ids == {"land_parents"}
    mapped = dag.get_task("land_per_parent")
    assert type(mapped).__name__ == "MappedOperator"
    assert mapped.upstream_task_ids == {"plan_per_parent"}
    assert mapped.map_index_template == "{{ task.partition }}"
    assert {dag.get_task(t).pool for t in ("land_parents", "land_children")} == {"fake"}
    assert mapped.partial_kwargs["pool"] == "fake"


def test_a_mapped_task_audits_its_partition_as_its_own_stream():
    op = operator_for(PER_PARENT)(task_id="t", partition="wf-1")

    assert op.audit_stream() == "per_parent/wf-1"
    assert operator_for(PARENTS)(task_id="u").audit_stream() == "parents"
