"""Leaving Larder and coming back: export a demo database, import it into an empty one, compare.

The export's suppliers, products, customers, stock and open orders and purchase orders go
through the import, in that order, into a database that holds only its warehouse and an
administrator (what a new installation has before its first import). The figures the pages
show about the present (open backorders, stock statuses, cash in open purchase orders and
waiting in backorders) then agree; the history (past orders, the ledger) stays in the export's
other files and is not imported.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sqlalchemy import func, select

from data.db import read_connection, write_session
from data.demo import generate
from data.schema import Backorder, Customer, Order, Product, PurchaseOrder, Supplier, Warehouse
from operations.imports import apply_import, preview_import
from queries.finance import cash_tied
from queries.kpis import open_backorders
from queries.stock import stock_overview
from reports.export import export_bytes
from tests.conftest import _fresh_engine
from tests.operations_world import add_admin

TODAY = dt.date(2026, 6, 17)
NOW = dt.datetime(2026, 6, 17, 18, 0)
# (file in the export, kind of the import, columns the import leaves aside)
STEPS = (
    ("suppliers.csv", "suppliers", ()),
    ("products.csv", "products", ()),
    ("customers.csv", "customers", ("sales_rep_code",)),
    ("stock.csv", "stock", ()),
    ("open_purchase_orders.csv", "purchase_orders", ()),
    ("open_orders.csv", "orders", ()),
)


@pytest.fixture
def source(engine):
    generate(engine, scale="tiny", today=TODAY)
    return engine


@pytest.fixture
def target(request, tmp_path):
    backend = "postgres" if "postgres" in request.node.callspec.id else "sqlite"
    (tmp_path / "target").mkdir()
    yield from _fresh_engine(backend, tmp_path / "target")


def _present(engine) -> dict:
    overview = stock_overview(engine, today=TODAY).sort_values("sku").reset_index(drop=True)
    with read_connection(engine) as conn:
        counts = {
            model.__tablename__: conn.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (Supplier, Product, Customer)
        }
    return {
        "open_backorders": open_backorders(engine),
        "cash": {k: round(v, 2) for k, v in cash_tied(engine).items()},
        "status": overview[["sku", "status"]].to_dict("records"),
        "on_hand": overview[["sku", "on_hand"]].to_dict("records"),
        "counts": counts,
    }


def test_an_exported_database_imports_into_an_empty_one_with_the_same_figures(source, target):
    archive = zipfile.ZipFile(io.BytesIO(export_bytes(source)))
    with write_session(target) as s:
        s.add(Warehouse(code="MAIN", name="Main warehouse"))
    add_admin(target)
    mappings = {}
    for name, kind, skip in STEPS:
        content = archive.read(name)
        # The columns matched by name, less those left aside (sales reps are not imported).
        suggested = preview_import(target, kind=kind, filename=name, content=content).mapping
        mapping = {
            field: (None if field in skip else column) for field, column in suggested.items()
        }
        mappings[name] = mapping
        result = apply_import(
            target,
            kind=kind,
            filename=name,
            content=content,
            actor="admin",
            mapping=mapping,
            now=NOW,
        )
        assert result.rows > 0 and result.created + result.updated > 0, name
    before, after = _present(source), _present(target)
    assert after == before
    # The same files again change nothing: each is known by its checksum.
    for name, kind, _ in STEPS:
        again = apply_import(
            target,
            kind=kind,
            filename=name,
            content=archive.read(name),
            actor="admin",
            mapping=mappings[name],
            now=NOW,
        )
        assert again.already_imported, name
    assert _present(target) == before
    with read_connection(target) as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() > 0
        assert conn.execute(select(func.count()).select_from(Backorder)).scalar_one() > 0
        assert conn.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() >= 0
