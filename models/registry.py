"""Versioned model artifacts on disk and their ModelRun rows: save one, load the newest."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.db import read_connection
from data.schema import ModelRun

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACT_DIR = REPO_ROOT / "data" / "artifacts"  # git-ignored


def artifact_path(stored: str | Path) -> Path:
    """A stored artifact path made absolute (stored paths are relative to the repository)."""
    path = Path(stored)
    return path if path.is_absolute() else REPO_ROOT / path


def stored_path(path: Path) -> str:
    """How an artifact path is recorded: relative to the repository when inside it."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class LoadedModel:
    """The newest successful run of a kind and the object it saved."""

    run_id: int
    kind: str
    version: str
    finished_at: dt.datetime | None
    metrics: dict
    params: dict
    model: Any


def save_artifact(obj: Any, kind: str, version: str, directory: Path | None = None) -> Path:
    """Write ``obj`` with joblib as ``<kind>-<version>.joblib``; returns the path."""
    directory = Path(directory or ARTIFACT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{version}.joblib"
    joblib.dump(obj, path, compress=3)
    return path


@lru_cache(maxsize=16)
def _load(path: str, mtime: float) -> Any:
    # Keyed by modification time too, so a rewritten file is read again.
    return joblib.load(path)


def load_artifact(path: str | Path) -> Any:
    """The object in an artifact file (cached per file version)."""
    path = artifact_path(path)
    return _load(str(path), path.stat().st_mtime)


def newest_run_query(kind: str):
    """SELECT of the newest successful ModelRun of ``kind``."""
    return (
        select(ModelRun)
        .where(ModelRun.kind == kind, ModelRun.status == "ok")
        .order_by(ModelRun.finished_at.desc(), ModelRun.id.desc())
        .limit(1)
    )


def latest_run(engine: Engine, kind: str) -> ModelRun | None:
    """The newest successful ModelRun of ``kind`` (detached), or None."""
    with read_connection(engine) as conn, Session(bind=conn) as session:
        run = session.scalars(newest_run_query(kind)).first()
        if run is not None:
            session.expunge(run)
        return run


def latest(engine: Engine | Session, kind: str) -> LoadedModel | None:
    """The newest successful run of ``kind`` with its model loaded; None if none can be loaded.

    Given a session, the lookup runs inside it (no second connection during a write).
    """
    if isinstance(engine, Session):
        run = engine.scalars(newest_run_query(kind)).first()
    else:
        run = latest_run(engine, kind)
    if run is None or not run.artifact or not artifact_path(run.artifact).exists():
        return None
    return LoadedModel(
        run_id=run.id,
        kind=run.kind,
        version=run.version,
        finished_at=run.finished_at,
        metrics=dict(run.metrics or {}),
        params=dict(run.params or {}),
        model=load_artifact(run.artifact),
    )
