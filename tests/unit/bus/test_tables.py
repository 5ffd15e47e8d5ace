"""The catalogue's faust tables (shared/bus/topics.py ``TABLES``) are the tables the services' apps define: the
topic bootstrap creates their changelogs before the apps start, so each must be named, sized and configured as
faust would make it (``<app id>-<table>-changelog``, compacted, the partitions of the topics the table follows,
the table's ``extra_topic_configs``)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import faust
import pytest

from shared.bus.partitioning import CoPartitioningError, changelog_partitions
from shared.bus.topics import TABLES, TOPICS, TableSpec
from shared.settings import Settings

FAUST_SERVICES = ("orchestrator", "saga_coordinator", "consensus", "drift_monitor")
#: Tables whose size follows the fleet, not the work (see the test of bytes-valued tables).
GROWING_WITH_THE_FLEET = {("drift_monitor", "drift_agents")}


def built_tables(package: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[Any, ...]]:
    """The tables of a service's faust app, by changelog: (app id, table, sources as ``table_partitions`` is
    asked for them or None, extra topic configs). Built without a broker: ``table_partitions`` is recorded."""
    module = importlib.import_module(f"services.{package}.service")
    sources: dict[tuple[str, str], tuple[str, ...]] = {}

    def record(settings: Settings, app_id: str, table: str, followed: tuple[str, ...], **_: Any) -> int:
        sources[(app_id, table)] = tuple(followed)
        return 3

    monkeypatch.setattr(module, "table_partitions", record)
    app: faust.App = module.build_app(Settings(data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:9"))
    return {
        table.changelog_topic_name: (
            app.conf.id,
            table.name,
            sources.get((app.conf.id, table.name)),
            dict(table.extra_topic_configs or {}),
        )
        for table in app.tables.values()
    }


def test_the_catalogue_holds_every_table_of_the_services_as_faust_names_and_configures_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: dict[str, tuple[Any, ...]] = {}
    for package in FAUST_SERVICES:
        built |= built_tables(package, tmp_path / package, monkeypatch)
    catalogued = {t.changelog: t for t in TABLES}
    assert set(catalogued) == set(built)
    for changelog, (app_id, name, sources, extra) in built.items():
        table = catalogued[changelog]
        assert (table.app_id, table.table, table.extra_config) == (app_id, name, extra), changelog
        if sources is not None:  # a global table follows the topic its agent writes it from: see TABLES
            assert table.sources == sources, changelog


def test_every_table_follows_catalogued_topics_and_its_changelog_is_compacted() -> None:
    names = {spec.name for spec in TOPICS}
    for table in TABLES:
        assert set(table.sources) <= names, table
        spec = table.changelog_spec(6)
        assert (spec.name, spec.partitions, spec.cleanup_policy) == (table.changelog, 6, "compact")
        assert spec.config(3)["cleanup.policy"] == "compact"


def test_a_changelog_takes_the_partitions_of_the_topics_its_table_follows() -> None:
    table = TableSpec("app", "state", ("a", "b"), keyed_by="k", extra_config={"segment.ms": "60000"})
    assert changelog_partitions(table, {"a": 4, "b": 4, "other": 1}) == 4
    assert table.changelog_spec(4).config(1)["segment.ms"] == "60000"
    with pytest.raises(CoPartitioningError, match="different partition counts"):
        changelog_partitions(table, {"a": 4, "b": 6})
    with pytest.raises(CoPartitioningError, match="b, which do not exist"):
        changelog_partitions(table, {"a": 4, "b": 0})


def test_every_table_that_grows_with_the_work_keeps_json_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Values kept as dicts are walked by every full garbage collection, and a table of goals, sagas or decisions
    grows with the work (``shared/bus/table_values.py``). Tables that grow with the fleet keep JSON values: the
    orchestrator's fleet (an entry per agent) and the drift monitor's records (per agent, a record and its
    baseline samples, all read for every sample: decoding them each time would cost ~2 ms per sample)."""
    for package in FAUST_SERVICES:
        module = importlib.import_module(f"services.{package}.service")
        monkeypatch.setattr(module, "table_partitions", lambda *_args, **_kw: 3)
        app: faust.App = module.build_app(Settings(data_dir=tmp_path / package, kafka_bootstrap_servers="127.0.0.1:9"))
        for table in app.tables.values():
            if isinstance(table, faust.GlobalTable) or (package, table.name) in GROWING_WITH_THE_FLEET:
                continue
            assert table.value_type is bytes, f"{package}: table {table.name} keeps decoded values"
            assert table.value_serializer == "raw", f"{package}: table {table.name}'s changelog is not its bytes"
