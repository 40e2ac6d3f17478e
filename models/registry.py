"""Versioned model artifacts and their ModelRun rows: save one, load the newest.

The database holds every successful run's artifact (``model_artifacts``: joblib bytes and their
SHA-256), so several app servers sharing one PostgreSQL all load the same model and a server
that never trained needs no files. The joblib file under ``data/artifacts`` is the training
server's local copy, read first when present; otherwise the blob is read once per process and
kept in memory by its hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import joblib
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from data.db import read_connection
from data.schema import ModelArtifact, ModelRun, utcnow

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACT_DIR = REPO_ROOT / "data" / "artifacts"  # git-ignored
JOBLIB_COMPRESSION = 3
# Objects loaded from database blobs, kept by content hash (a few models of a few MB each).
BLOB_CACHE_SIZE = 16
_blob_cache: OrderedDict[str, Any] = OrderedDict()
_blob_cache_lock = threading.Lock()  # app sessions run in threads of one process


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
    """Write ``obj`` with joblib as ``<kind>-<version>.joblib``; returns the path.

    The file is written under a name of its own and then renamed into place, so a process that
    loads the artifact (a server, a job, another test worker that trained a run of the same
    name) never reads it half written.
    """
    directory = Path(directory or ARTIFACT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{kind}-{version}.joblib"
    partial = directory / f".{path.name}.{uuid.uuid4().hex}.partial"
    try:
        joblib.dump(obj, partial, compress=JOBLIB_COMPRESSION)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def artifact_bytes(obj: Any) -> bytes:
    """``obj`` serialised exactly as an artifact file holds it."""
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, compress=JOBLIB_COMPRESSION)
    return buffer.getvalue()


def store_artifact(session: Session, run_id: int, kind: str, content: bytes) -> ModelArtifact:
    """Add the artifact of run ``run_id`` to the database (inside the caller's transaction)."""
    row = ModelArtifact(
        model_run_id=run_id,
        kind=kind,
        sha256=hashlib.sha256(content).hexdigest(),
        size_bytes=len(content),
        content=content,
        created_at=utcnow(),
    )
    session.add(row)
    return row


def _from_database(session: Session, run_id: int) -> Any | None:
    """The object stored with run ``run_id``, or None when the database has no blob for it."""
    sha = session.execute(
        select(ModelArtifact.sha256).where(ModelArtifact.model_run_id == run_id)
    ).scalar_one_or_none()
    if sha is None:
        return None
    with _blob_cache_lock:
        if sha in _blob_cache:
            _blob_cache.move_to_end(sha)
            return _blob_cache[sha]
    content = session.execute(
        select(ModelArtifact.content).where(ModelArtifact.model_run_id == run_id)
    ).scalar_one()
    if hashlib.sha256(content).hexdigest() != sha:
        raise ValueError(f"model run {run_id}: stored artifact does not match its SHA-256")
    obj = joblib.load(io.BytesIO(content))
    with _blob_cache_lock:
        _blob_cache[sha] = obj
        while len(_blob_cache) > BLOB_CACHE_SIZE:
            _blob_cache.popitem(last=False)
    return obj


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

    The local artifact file is used when present, else the copy in the database. Given a
    session, the lookups run inside it (no second connection during a write).
    """
    if isinstance(engine, Session):
        return _latest_in(engine, kind)
    with read_connection(engine) as conn, Session(bind=conn) as session:
        return _latest_in(session, kind)


def _latest_in(session: Session, kind: str) -> LoadedModel | None:
    run = session.scalars(newest_run_query(kind)).first()
    if run is None:
        return None
    if run.artifact and artifact_path(run.artifact).exists():
        model = load_artifact(run.artifact)
    else:
        model = _from_database(session, run.id)
        if model is None:
            return None
    return LoadedModel(
        run_id=run.id,
        kind=run.kind,
        version=run.version,
        finished_at=run.finished_at,
        metrics=dict(run.metrics or {}),
        params=dict(run.params or {}),
        model=model,
    )
