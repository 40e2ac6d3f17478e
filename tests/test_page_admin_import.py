"""The Admin page's Import tab, through AppTest: admin imports, owner reads, others refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from data.db import make_engine
from data.schema import AuditLog, ImportBatch, ImportMapping, Supplier
from operations import save_import_mapping
from tests import apptest_support
from tests.apptest_support import app_test, user_for_role

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url

SUPPLIERS = (
    "\ufeffSupplier code;Supplier name;Lead time\r\n"
    "IMP01;Imported Mill;9\r\n"
    "IMP02;Imported Dairy;4\r\n"
).encode()
BAD_SUPPLIERS = b"code,name,lead_time_days\nIMP03,Third,x\nIMP03,Again,2\n"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _suppliers(engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Supplier.code, Supplier.name, Supplier.lead_time_days))
        return {code: (name, days) for code, name, days in rows if code.startswith("IMP")}


def admin_with_file(name: str, content: bytes, kind: str = "suppliers"):
    at = app_test("pages/admin.py", "admin")
    at.session_state["admin_tab"] = "Import"  # only the open tab is drawn
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="import_kind").set_value(kind)
    at.file_uploader(key="import_file").upload(name, content, "text/csv")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_admin_previews_maps_and_applies_a_semicolon_file(db):
    at = admin_with_file("suppliers.csv", SUPPLIERS)
    assert "Import" in [tab.label for tab in at.tabs]
    assert _suppliers(db) == {}, "the preview writes nothing"
    assert any(s.value == "Every row passes the checks." for s in at.success)
    code_box = next(s for s in at.selectbox if s.key.startswith("import_map_suppliers_code_"))
    assert code_box.value == "Supplier code"
    at.button(key="import_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _suppliers(db) == {"IMP01": ("Imported Mill", 9), "IMP02": ("Imported Dairy", 4)}
    assert any("2 created, 0 updated, 0 unchanged" in s.value for s in at.success)
    with db.connect() as conn:
        batch = conn.execute(select(ImportBatch.filename, ImportBatch.rows)).one()
        audited = conn.execute(
            select(AuditLog.note).where(AuditLog.action == "import_suppliers")
        ).scalar_one()
    assert tuple(batch) == ("suppliers.csv", 2)
    assert audited.startswith("suppliers.csv (SHA-256 ")


def test_refused_rows_are_listed_and_apply_is_disabled(db):
    at = admin_with_file("bad.csv", BAD_SUPPLIERS)
    problems = next(df.value for df in at.dataframe if "reason" in df.value.columns)
    assert problems["line"].tolist() == [2]
    assert "is not a number" in problems["reason"].iloc[0]
    assert at.button(key="import_apply").disabled
    assert _suppliers(db) == {}


def test_a_file_that_is_not_csv_or_excel_is_refused_with_a_message(db):
    at = admin_with_file("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00binary")
    assert any("not a CSV or Excel file" in e.value for e in at.error)


def test_a_mapping_is_saved_for_the_next_file(db):
    at = admin_with_file("suppliers.csv", SUPPLIERS)
    at.text_input(key="import_mapping_name").input("Old ERP suppliers")
    at.button(key="FormSubmitter:import_save_mapping-Save mapping").click().run()
    assert not at.exception, [e.value for e in at.exception]
    with db.connect() as conn:
        saved = conn.execute(select(ImportMapping.name, ImportMapping.columns)).one()
    assert saved.name == "Old ERP suppliers"
    assert saved.columns["code"] == "Supplier code"
    assert saved.columns["lead_time_days"] == "Lead time"


def test_a_saved_mapping_reads_a_file_whose_columns_match_no_name(db):
    save_import_mapping(
        db,
        kind="suppliers",
        name="Old ERP",
        columns={"code": "Lev-nr", "name": "Naam", "lead_time_days": "Levertijd"},
        actor="admin",
    )
    at = admin_with_file("leveranciers.csv", b"Lev-nr;Naam;Levertijd\nIMP07;Molen;5\n")
    assert at.button(key="import_apply").disabled, "unmatched columns: code and name missing"
    at.selectbox(key="import_saved").set_value("Old ERP").run()
    assert not at.button(key="import_apply").disabled
    at.button(key="import_apply").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert _suppliers(db) == {"IMP07": ("Molen", 5)}


def test_the_owner_sees_the_history_but_cannot_import(db):
    at = app_test("pages/admin.py", "owner")
    at.session_state["admin_tab"] = "Import"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Import" in [tab.label for tab in at.tabs]
    assert not at.file_uploader, "the owner gets no upload"
    assert not [b for b in at.button if b.key == "import_apply"]
    assert any(
        info.value.startswith("No file has been imported into this database yet.")
        for info in at.info
    )


@pytest.mark.parametrize("role", ["warehouse_manager", "customer", "purchasing_manager"])
def test_other_roles_are_refused_the_admin_page(db, role):
    at = app_test("pages/admin.py", user_for_role(role))
    at.run()
    assert at.error, "the page says why it is refused"
    assert not at.file_uploader
    assert not [tab for tab in at.tabs if tab.label == "Import"]
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportBatch)).scalar_one() == 0
