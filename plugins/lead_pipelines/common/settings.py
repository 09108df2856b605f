"""Frozen settings that describe one source: what a DAG factory needs, nothing read at parse time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

#: The warehouse's Airflow connection id (postgres), a public contract.
WAREHOUSE_CONN_ID = "leads_warehouse"

#: The logical host in raw-table Asset URIs: assets name data, not a deployment's address.
ASSET_HOST = "leads-warehouse:5432/leads"


@dataclass(frozen=True)
class StreamSettings:
    """One endpoint of a vendor landed into one raw table.

    :param name: Stream name; the raw table is ``raw.<vendor>_<name>``.
    :param record_id_field: Top-level field that identifies a record across runs.
    :param endpoint: The vendor endpoint read, named in errors (e.g. ``/events``).
    :param time_field: Top-level field with the record's own time; every record must lie in its window.
    :param time_unit: ``ms``, ``s`` (epoch numbers) or ``iso`` (text) for ``time_field``.
    :param updated_field: Top-level field with the record's update time: never replace newer by older.
    :param updated_unit: Unit of ``updated_field``.
    :param max_pages: Pages one window may take before the run fails as a runaway cursor.
    :param lookback: How far before its window a run re-reads (records that change after they are
        first seen): records may lie in ``[start - lookback, end)``.
    :param after: The stream whose landing this one reads from (fan-out): its task runs after that one.
    :param partitioned_by: The stream whose landing lists this one's partitions (e.g. workflows): one
        mapped task per partition lands it, each failing or succeeding on its own.
    """

    name: str
    record_id_field: str = "id"
    endpoint: str = ""
    time_field: str | None = None
    time_unit: str = "ms"
    updated_field: str | None = None
    updated_unit: str = "iso"
    max_pages: int = 10_000
    lookback: timedelta = timedelta(0)
    after: str | None = None
    partitioned_by: str | None = None


@dataclass(frozen=True)
class ExtraField:
    """One field of a connection's extras, shown as its own labelled input in Airflow's form.

    :param name: The key in the connection's extra JSON.
    :param label: The form's label.
    :param description: Help text under the field.
    :param kind: JSON-schema type: ``string``, ``integer``, ``number`` or ``boolean``.
    :param default: The value the hook uses when the field is empty.
    :param secret: Masked in the form and the logs (a client secret, a refresh token).
    """

    name: str
    label: str
    description: str = ""
    kind: str = "string"
    default: str | int | float | bool | None = None
    secret: bool = False


@dataclass(frozen=True)
class ConnectionForm:
    """How Airflow's connection form shows a vendor's connection type.

    :param relabeling: Standard field -> label (``host``, ``login``, ``password``).
    :param placeholders: Field -> placeholder text.
    :param hidden_fields: Standard fields the vendor does not use.
    :param extra_fields: The vendor's own settings, kept in the connection's extras.
    """

    relabeling: tuple[tuple[str, str], ...] = ()
    placeholders: tuple[tuple[str, str], ...] = ()
    hidden_fields: tuple[str, ...] = ("schema", "port")
    extra_fields: tuple[ExtraField, ...] = ()

    def ui_field_behaviour(self) -> dict:
        """Return the form's behaviour in the shape of a hook's ``get_ui_field_behaviour``."""
        return {"hidden_fields": list(self.hidden_fields), "relabeling": dict(self.relabeling),
                "placeholders": dict(self.placeholders)}

    def conn_fields(self) -> dict:
        """Return the extra fields in the shape of a provider's ``conn-fields``."""
        fields = {}
        for f in self.extra_fields:
            schema: dict = {"type": [f.kind, "null"]}
            if f.default is not None:
                schema["default"] = f.default
            if f.secret:
                schema["format"] = "password"
            fields[f.name] = {"label": f.label, "schema": schema, **({"description": f.description} if f.description else {})}
        return fields


@dataclass(frozen=True)
class SourceSettings:
    """Everything the DAG factory needs to build one vendor's sync DAG.

    :param vendor: Lower-case vendor key, used in table names and ``ops`` rows.
    :param display_name: The vendor's name as people write it, used in messages.
    :param dag_id: Public DAG id.
    :param conn_id: Default Airflow connection id.
    :param cron: Schedule; windows are the intervals between two ticks.
    :param interval: Length of one window (matches ``cron``).
    :param start_date: First window a catch-up or backfill may ask for.
    :param streams: The streams this DAG lands.
    :param lock_wait_seconds: How long a run waits for another run of the same window.
    :param hook_class: Dotted path of the vendor's hook (the provider registers its connection type).
    :param connection_form: How Airflow's form shows the connection type (``conn_type`` = ``vendor``).
    :param pool: The Airflow pool every call of this vendor runs in (scheduled and backfill runs
        alike), or None for the default pool.
    :param pool_slots: The pool's size: how many of this vendor's landing tasks may run at once
        within its limits (``make airflow`` creates the pools; see the README for a deployment).
    :param freshness: How late this source's data may be: a run whose window ends more than this
        before now, or a source whose last landed window is older, is reported late.
    """

    vendor: str
    display_name: str
    dag_id: str
    conn_id: str
    cron: str
    interval: timedelta
    start_date: datetime
    streams: tuple[StreamSettings, ...]
    owner: str = "lead-pipelines"
    retries: int = 3
    retry_delay: timedelta = timedelta(minutes=5)
    tags: tuple[str, ...] = field(default=())
    lock_wait_seconds: float = 600.0
    hook_class: str = ""
    connection_form: ConnectionForm = field(default_factory=ConnectionForm)
    pool: str | None = None
    pool_slots: int = 1
    freshness: timedelta = timedelta(hours=3)

    def raw_table(self, stream: StreamSettings) -> str:
        """Return the raw table's name (without schema) for ``stream``."""
        return f"{self.vendor}_{stream.name}"

    def asset_uri(self, stream: StreamSettings) -> str:
        """Return the Asset URI of ``stream``'s raw table, in the postgres provider's shape."""
        return f"postgres://{ASSET_HOST}/raw/{self.raw_table(stream)}"


def utc(year: int, month: int, day: int) -> datetime:
    """Return midnight UTC of a date, for settings' start dates."""
    return datetime(year, month, day, tzinfo=timezone.utc)
