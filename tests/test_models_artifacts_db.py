"""Model artifacts kept in the database: saved by training, loaded by a server without files."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from sqlalchemy import insert, select, update

from data.db import read_connection, write_session
from data.schema import ModelArtifact, ModelRun
from jobs.registry import JobContext
from jobs.runner import run_job
from models import registry
from models import train as train_module
from models.leadtime import ConditionalDurations
from models.train import train_all
from tests.test_models_train import FAST_MODEL, _build


@pytest.fixture
def artifact_dir(tmp_path, monkeypatch):
    folder = tmp_path / "artifacts"
    monkeypatch.setattr(registry, "ARTIFACT_DIR", folder)
    registry._blob_cache.clear()
    yield folder
    registry._blob_cache.clear()


def _run_row(engine, kind: str, artifact: str | None = None) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(ModelRun)
            .values(kind=kind, version="v1", status="ok", params={}, metrics={}, artifact=artifact)
            .returning(ModelRun.id)
        ).scalar_one()


def test_training_stores_each_runs_artifact_in_the_database(engine, artifact_dir):
    _build(engine)
    runs = train_all(engine, kinds=("lead_time", "transit"), log=lambda _: None)
    assert {k: r.status for k, r in runs.items()} == {"lead_time": "ok", "transit": "ok"}
    with read_connection(engine) as conn:
        stored = conn.execute(select(ModelArtifact).order_by(ModelArtifact.id)).all()
    assert [(row.model_run_id, row.kind) for row in stored] == [
        (runs["lead_time"].id, "lead_time"),
        (runs["transit"].id, "transit"),
    ]
    for row in stored:
        assert row.sha256 == hashlib.sha256(row.content).hexdigest()
        assert row.size_bytes == len(row.content) > 100


def test_a_server_without_artifact_files_loads_the_latest_run_from_the_database(
    engine, artifact_dir
):
    _build(engine)
    runs = train_all(engine, kinds=("lead_time",), log=lambda _: None)
    on_disk = registry.latest(engine, "lead_time").model
    shutil.rmtree(artifact_dir)  # another app server: same database, empty artifact folder
    registry._load.cache_clear()
    registry._blob_cache.clear()
    loaded = registry.latest(engine, "lead_time")
    assert loaded is not None and loaded.run_id == runs["lead_time"].id
    assert isinstance(loaded.model["lead"], ConditionalDurations)
    assert loaded.model["table"].equals(on_disk["table"])


def test_a_registry_with_an_empty_folder_loads_a_blob_written_by_hand(engine, artifact_dir):
    run_id = _run_row(engine, "sentiment", artifact="data/artifacts/sentiment-elsewhere.joblib")
    with write_session(engine) as session:
        registry.store_artifact(
            session, run_id, "sentiment", registry.artifact_bytes({"cut_off": 0.05})
        )
    assert not artifact_dir.exists()
    loaded = registry.latest(engine, "sentiment")
    assert loaded.run_id == run_id and loaded.model == {"cut_off": 0.05}
    with write_session(engine) as session:  # also inside a caller's transaction
        assert registry.latest(session, "sentiment").model == {"cut_off": 0.05}


def test_a_run_without_file_or_blob_is_not_loadable(engine, artifact_dir):
    _run_row(engine, "transit", artifact="data/artifacts/transit-lost.joblib")
    assert registry.latest(engine, "transit") is None


def test_a_blob_that_does_not_match_its_hash_is_refused(engine, artifact_dir):
    run_id = _run_row(engine, "sentiment")
    with write_session(engine) as session:
        registry.store_artifact(session, run_id, "sentiment", registry.artifact_bytes([1, 2, 3]))
    with engine.begin() as conn:
        conn.execute(update(ModelArtifact).values(content=registry.artifact_bytes([1, 2, 4])))
    with pytest.raises(ValueError, match="does not match its SHA-256"):
        registry.latest(engine, "sentiment")


def test_a_failed_run_stores_no_artifact(sqlite_engine, artifact_dir):
    runs = train_all(sqlite_engine, kinds=("lead_time",), log=lambda _: None)
    assert runs["lead_time"].status == "failed"
    with read_connection(sqlite_engine) as conn:
        assert conn.execute(select(ModelArtifact)).all() == []


def test_if_untrained_uses_the_database_copies_and_trains_nothing(
    sqlite_engine, artifact_dir, monkeypatch, capsys
):
    for kind in train_module.KINDS:
        run_id = _run_row(sqlite_engine, kind, artifact=f"data/artifacts/{kind}-gone.joblib")
        with write_session(sqlite_engine) as session:
            registry.store_artifact(session, run_id, kind, registry.artifact_bytes({"kind": kind}))
    monkeypatch.setattr(train_module, "train_all", lambda *a, **kw: pytest.fail("trained"))
    assert train_module.main(["--database", str(sqlite_engine.url), "--if-untrained"]) == 0
    assert "nothing to train" in capsys.readouterr().out


def test_retraining_job_trains_once_then_nothing_until_the_data_changes(
    sqlite_engine, artifact_dir
):
    _build(sqlite_engine)
    context = JobContext(log=lambda _: None, model_params=FAST_MODEL, threads=1)
    first = run_job(sqlite_engine, "retrain-models", context)
    second = run_job(sqlite_engine, "retrain-models", context)
    assert first.outcome == "ok"
    assert (first.counts["models_trained"], first.counts["models_failed"]) == (6, 0)
    assert (second.counts["models_trained"], second.counts["models_failed"]) == (0, 0)
    assert second.counts["data_version"] == first.counts["data_version"]
    with read_connection(sqlite_engine) as conn:
        assert len(conn.execute(select(ModelArtifact.id)).all()) == 6


class _Unpicklable:
    def __reduce__(self):
        raise TypeError("cannot be saved")


def test_an_artifact_file_appears_whole_or_not_at_all(artifact_dir):
    path = registry.save_artifact({"weights": [1, 2, 3]}, "demand", "v1-run1")
    assert registry.load_artifact(path) == {"weights": [1, 2, 3]}
    # A dump that fails half way leaves the file before it untouched and nothing beside it.
    with pytest.raises(TypeError, match="cannot be saved"):
        registry.save_artifact({"weights": _Unpicklable()}, "demand", "v1-run1")
    assert sorted(p.name for p in artifact_dir.iterdir()) == ["demand-v1-run1.joblib"]
    assert registry.load_artifact(path) == {"weights": [1, 2, 3]}
