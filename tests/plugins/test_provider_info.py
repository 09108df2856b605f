"""The provider declares one connection type and form per registered source, the way Airflow 3.3 reads them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

import lead_pipelines
from lead_pipelines.registry import SOURCES


def hook_class(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_provider_info_matches_airflow_schema_and_lists_every_source():
    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = lead_pipelines.get_provider_info()

    jsonschema.validate(info, schema)
    assert [c["connection-type"] for c in info["connection-types"]] == [s.vendor for s in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.vendor)
def test_each_connection_type_names_its_hook_and_form(source):
    (declared,) = [c for c in lead_pipelines.get_provider_info()["connection-types"]
                   if c["connection-type"] == source.vendor]
    hook = hook_class(declared["hook-class-name"])

    assert hook.conn_type == source.vendor and hook.default_conn_name == source.conn_id
    assert declared["hook-name"] == hook.hook_name == source.display_name
    behaviour = hook.get_ui_field_behaviour()
    assert declared["ui-field-behaviour"] == {
        "hidden-fields": behaviour["hidden_fields"], "relabeling": behaviour["relabeling"],
        "placeholders": behaviour["placeholders"]}
    assert "password" in declared["ui-field-behaviour"]["relabeling"], "the secret field says what it holds"
    fields = declared["conn-fields"]
    assert set(fields) == {f.name for f in source.connection_form.extra_fields}
    for f in source.connection_form.extra_fields:
        assert fields[f.name]["label"] == f.label
        assert (fields[f.name]["schema"].get("format") == "password") is f.secret


def test_airflow_builds_the_forms_from_the_provider_info():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    behaviours = manager.field_behaviours
    widgets = manager.connection_form_widgets
    for source in SOURCES:
        assert behaviours[source.vendor]["relabeling"] == dict(source.connection_form.relabeling)
        for f in source.connection_form.extra_fields:
            widget = widgets[f"extra__{source.vendor}__{f.name}"]
            assert widget.field["schema"]["title"] == f.label
            assert widget.is_sensitive is f.secret
