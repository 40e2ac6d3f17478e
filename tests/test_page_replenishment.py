"""AppTest of the Replenishment page on the tiny seeded database."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

import operations
from data.db import make_engine, read_connection
from data.schema import (
    Communication,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Shipment,
    Stock,
    utcnow,
)
from queries import purchasing
from tests import apptest_support
from tests.apptest_support import app_test
from tests.operations_world import snapshot

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url

PAGE = "pages/replenishment.py"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _buyer(tab: str):
    """The page as the buyer will see it with ``tab`` open (only the open tab is drawn)."""
    at = app_test(PAGE, "buyer")
    at.session_state["replen_tab"] = tab
    return at


def _click(at, key: str):
    at.button(key=key).click()
    return _run(at)


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _first_draft(db) -> tuple[int, int, str, int, int]:
    """The draft the page offers first, and its first line: (po, line, sku, pack, minimum)."""
    operations.draft_purchase_orders(db, actor="buyer")
    drafts = purchasing.draft_purchase_orders(db)
    draft = drafts[drafts["status"] == "draft"].iloc[0]
    return (
        int(draft["po_id"]),
        int(draft["po_line_id"]),
        draft["sku"],
        int(draft["pack_size"]),
        int(draft["min_order_qty"]),
    )


def test_the_buyer_sees_kpis_that_match_the_database(db):
    at = _run(app_test(PAGE, "buyer"))
    assert [t.value for t in at.title] == ["Replenishment"]
    # Direct: active products whose available stock (on hand - reserved) is below the reorder point.
    with read_connection(db) as conn:
        stock = (
            select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved).label("free"))
            .group_by(Stock.product_id)
            .subquery()
        )
        below = conn.execute(
            select(func.count())
            .select_from(Product)
            .outerjoin(stock, stock.c.product_id == Product.id)
            .where(Product.active.is_(True), func.coalesce(stock.c.free, 0) < Product.reorder_point)
        ).scalar_one()
        drafts = conn.execute(
            select(func.count()).where(PurchaseOrder.status == "draft")
        ).scalar_one()
    assert _metric(at, "Below reorder point") == f"{below:,}"
    assert _metric(at, "Drafts to review") == f"{drafts:,}"
    assert [t.label for t in at.tabs] == ["Low stock", "Drafted POs", "Late & at risk", "Suppliers"]


def test_the_owner_may_open_it(db):
    at = _run(app_test(PAGE, "owner"))
    assert [t.value for t in at.title] == ["Replenishment"]


def test_editing_a_draft_saves_whole_packs(db):
    po_id, line_id, sku, pack, minimum = _first_draft(db)
    new_qty = max(minimum, pack) * 3 // pack * pack + pack
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    at.session_state[f"replen_lines_{po_id}"] = {
        "edited_rows": {0: {"qty": new_qty}},
        "added_rows": [],
        "deleted_rows": [],
    }
    _run(at)
    _click(at, f"replen_save_{po_id}")
    assert _errors(at) == []
    with read_connection(db) as conn:
        saved = conn.execute(
            select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == line_id)
        ).scalar_one()
    assert saved == new_qty
    assert any(f"Saved {s}" in m.value for s in ["PO-"] for m in at.success)


def test_edits_kept_from_an_earlier_visit_are_shown_and_saved(db):
    """A grid edit the buyer made before switching tab (kept by PO line in the session, the
    grid's own state gone) is what Save changes saves; afterwards nothing is kept for it."""
    po_id, line_id, _, pack, minimum = _first_draft(db)
    new_qty = max(minimum, pack) * 3 // pack * pack + pack
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    at.session_state["replen_kept_lines"] = {line_id: {"qty": new_qty}}
    _run(at)
    _click(at, f"replen_save_{po_id}")
    assert _errors(at) == []
    with read_connection(db) as conn:
        saved = conn.execute(
            select(PurchaseOrderLine.qty_ordered).where(PurchaseOrderLine.id == line_id)
        ).scalar_one()
    assert saved == new_qty
    assert line_id not in at.session_state["replen_kept_lines"]


def test_the_chosen_po_is_kept_through_another_tab(db):
    drafts = purchasing.draft_purchase_orders(db)
    drafts = drafts[drafts["status"] == "draft"]
    second = int(drafts["po_id"].drop_duplicates().iloc[-1])
    at = _buyer("Drafted POs")
    _run(at)
    at.selectbox(key="replen_po").set_value(second)
    _run(at)
    at.session_state["replen_tab"] = "Low stock"
    _run(at)
    assert not [s for s in at.selectbox if s.key == "replen_po"]  # the closed tab is not drawn
    at.session_state["replen_tab"] = "Drafted POs"
    _run(at)
    assert at.selectbox(key="replen_po").value == second


def test_a_quantity_off_the_pack_is_refused_with_the_line_named(db):
    po_id, line_id, sku, pack, minimum = _first_draft(db)
    if pack == 1:
        bad, fragment = -4, f"{sku}: the quantity to order must be at least 1, not -4."
    else:
        bad = max(minimum, pack) + 1
        fragment = f"{sku}: {bad} is not a whole number of packs of {pack}"
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    at.session_state[f"replen_lines_{po_id}"] = {
        "edited_rows": {0: {"qty": bad}},
        "added_rows": [],
        "deleted_rows": [],
    }
    _run(at)
    before = snapshot(db)
    _click(at, f"replen_save_{po_id}")
    assert any(fragment in e for e in _errors(at)), _errors(at)
    assert snapshot(db) == before


def test_a_negative_quantity_is_refused(db):
    po_id, line_id, sku, _, _ = _first_draft(db)
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    at.session_state[f"replen_lines_{po_id}"] = {
        "edited_rows": {0: {"qty": -10}},
        "added_rows": [],
        "deleted_rows": [],
    }
    _run(at)
    before = snapshot(db)
    _click(at, f"replen_save_{po_id}")
    assert any(f"{sku}: the quantity to order must be at least 1, not -10." in e
               for e in _errors(at)), _errors(at)  # fmt: skip
    assert snapshot(db) == before


def test_removing_a_line_and_adding_without_a_quantity(db):
    po_id, line_id, _, _, _ = _first_draft(db)
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    _run(at)
    before = snapshot(db)
    _click(at, f"FormSubmitter:replen_add_{po_id}-Add line")
    assert "Give the quantity to order." in _errors(at)
    assert snapshot(db) == before
    at.session_state[f"replen_lines_{po_id}"] = {
        "edited_rows": {0: {"remove": True}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.session_state["replen_po"] = po_id
    _run(at)
    _click(at, f"replen_save_{po_id}")
    with read_connection(db) as conn:
        gone = conn.execute(
            select(func.count()).where(PurchaseOrderLine.id == line_id)
        ).scalar_one()
    assert gone == 0


def test_approve_then_send_opens_the_inbound_shipment(db):
    po_id, _, _, _, _ = _first_draft(db)
    at = _buyer("Drafted POs")
    at.session_state["replen_po"] = po_id
    _run(at)
    _click(at, f"replen_approve_{po_id}")
    assert _errors(at) == []
    at.session_state["replen_po"] = po_id
    _run(at)
    # A date in the past is refused and nothing changes.
    at.date_input(key=f"replen_send_date_{po_id}").set_value(utcnow().date() - dt.timedelta(days=2))
    before = snapshot(db)
    _click(at, f"FormSubmitter:replen_send_{po_id}-Send to supplier")
    assert any("is in the past" in e for e in _errors(at)), _errors(at)
    assert snapshot(db) == before
    when = utcnow().date() + dt.timedelta(days=9)
    at.date_input(key=f"replen_send_date_{po_id}").set_value(when)
    at.text_input(key=f"replen_send_tracking_{po_id}").input("TRK-1")
    _click(at, f"FormSubmitter:replen_send_{po_id}-Send to supplier")
    with read_connection(db) as conn:
        po = conn.execute(
            select(PurchaseOrder.status, PurchaseOrder.expected_date).where(
                PurchaseOrder.id == po_id
            )
        ).one()
        shipment = conn.execute(
            select(Shipment.direction, Shipment.tracking, Shipment.estimated_arrival).where(
                Shipment.po_id == po_id
            )
        ).one()
    assert tuple(po) == ("sent", when)
    assert tuple(shipment) == ("inbound", "TRK-1", when)


def test_re_dating_and_recording_a_supplier_call(db):
    late = purchasing.late_and_at_risk(db)
    if late.empty:
        pytest.fail("the tiny demo should have a late or at-risk purchase order")
    at = _run(_buyer("Late & at risk"))
    po_id = at.selectbox(key="replen_late_po").value
    row = late[late["po_id"] == po_id].iloc[0]
    # The call first, while the order is late: a new date can take it off the list.
    # An empty subject is refused; a filled one recorded against the supplier and the PO.
    sid = int(row["supplier_id"])
    form = f"replen_message_{sid}_{po_id}"
    before = snapshot(db)
    _click(at, f"FormSubmitter:{form}-Record")
    assert "The subject is required." in _errors(at)
    assert snapshot(db) == before
    at.text_input(key=f"replen_msg_subject_{sid}_{po_id}").input("Asked for a new date")
    _click(at, f"FormSubmitter:{form}-Record")
    with read_connection(db) as conn:
        recorded = conn.execute(
            select(Communication.supplier_id, Communication.po_id, Communication.subject).where(
                Communication.supplier_id.is_not(None)
            )
        ).all()
    assert [tuple(r) for r in recorded] == [(sid, po_id, "Asked for a new date")]
    # A past date is refused, nothing changes.
    at.date_input(key=f"replen_redate_date_{po_id}").set_value(
        utcnow().date() - dt.timedelta(days=3)
    )
    before = snapshot(db)
    _click(at, f"FormSubmitter:replen_redate_{po_id}-Save new date")
    assert any("is in the past" in e for e in _errors(at)), _errors(at)
    assert snapshot(db) == before
    new = utcnow().date() + dt.timedelta(days=20)
    at.date_input(key=f"replen_redate_date_{po_id}").set_value(new)
    _click(at, f"FormSubmitter:replen_redate_{po_id}-Save new date")
    assert _errors(at) == []
    with read_connection(db) as conn:
        assert (
            conn.execute(
                select(PurchaseOrder.expected_date).where(PurchaseOrder.id == po_id)
            ).scalar_one()
            == new
        )


@pytest.mark.parametrize("username", ["manager", "logistics", "customer1", None])
def test_others_are_refused(db, username):
    at = _run(app_test(PAGE, username))
    assert at.title == [] or [t.value for t in at.title] != ["Replenishment"]
    assert at.metric == []


def _grid_redate(db, day: dt.date):
    first = purchasing.late_and_at_risk(db).iloc[0]
    at = _buyer("Late & at risk")
    at.session_state["replen_at_risk"] = {
        "edited_rows": {0: {"new_date": day.isoformat()}},
        "added_rows": [],
        "deleted_rows": [],
    }
    _run(at)
    return at, int(first["po_id"]), first["po_number"]


def test_re_dating_in_the_grid(db):
    new = utcnow().date() + dt.timedelta(days=30)
    at, po_id, _ = _grid_redate(db, new)
    _click(at, "replen_save_dates")
    assert _errors(at) == []
    with read_connection(db) as conn:
        po_date = conn.execute(
            select(PurchaseOrder.expected_date).where(PurchaseOrder.id == po_id)
        ).scalar_one()
        shipment_dates = conn.execute(
            select(Shipment.estimated_arrival).where(
                Shipment.po_id == po_id, Shipment.direction == "inbound"
            )
        ).all()
    assert po_date == new
    assert all(d == new for (d,) in shipment_dates)


def test_a_past_date_in_the_grid_is_refused(db):
    at, _, number = _grid_redate(db, utcnow().date() - dt.timedelta(days=5))
    before = snapshot(db)
    _click(at, "replen_save_dates")
    assert any(f"of {number} is in the past" in e for e in _errors(at)), _errors(at)
    assert snapshot(db) == before


def test_only_the_open_tab_is_drawn(db):
    _first_draft(db)
    at = _run(app_test(PAGE, "buyer"))
    assert not [d for d in at.dataframe if "quoted_days" in d.value.columns]
    assert "replen_po" not in [b.key for b in at.selectbox]
    assert "replen_late_po" not in [b.key for b in at.selectbox]
    at.session_state["replen_tab"] = "Drafted POs"
    _run(at)
    assert "replen_po" in [b.key for b in at.selectbox]
    at.session_state["replen_tab"] = "Suppliers"
    _run(at)
    (card,) = [d.value for d in at.dataframe if "quoted_days" in d.value.columns]
    assert len(card) > 0 and card["supplier"].notna().all()


def test_the_supplier_filter_narrows_the_low_stock_table_to_that_supplier(db):
    inbox = purchasing.low_stock_inbox(db)
    supplier_id = int(inbox["supplier_id"].mode()[0])
    mine = inbox[inbox["supplier_id"] == supplier_id]
    assert 0 < len(mine) < len(inbox)
    at = _run(app_test(PAGE, "buyer"))
    (table,) = [d.value for d in at.dataframe if "demand_over_lead" in d.value.columns]
    assert list(table["sku"]) == list(inbox["sku"])
    at.session_state["replen_supplier"] = supplier_id
    _run(at)
    (table,) = [d.value for d in at.dataframe if "demand_over_lead" in d.value.columns]
    assert list(table["sku"]) == list(mine["sku"])
    (tile,) = [m for m in at.metric if m.label == "Below reorder point"]
    assert tile.value == str(len(mine))
