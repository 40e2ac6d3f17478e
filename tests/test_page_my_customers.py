"""AppTest of My customers: the representative's own customers only, and the desk's actions."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import func, select, update

import operations
from data.db import make_engine
from data.schema import (
    AuditLog,
    Backorder,
    Communication,
    Customer,
    Notification,
    Order,
    OrderLine,
    Product,
    User,
)
from queries import customer_desks as desks
from tests import apptest_support
from tests.apptest_support import app_test, data_elements
from ui.components import money
from ui.format import tile_money

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url

PAGE = "pages/my_customers.py"
REP_USER = "sales1"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def read_db(seeded_db_url):
    engine = make_engine(seeded_db_url)
    yield engine
    engine.dispose()


def _rep_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(User.sales_rep_id).where(User.username == REP_USER)).scalar_one()


def _customers(engine, *, mine: bool) -> list[tuple[int, str, str]]:
    rep = _rep_id(engine)
    condition = Customer.sales_rep_id == rep if mine else (
        (Customer.sales_rep_id != rep) | Customer.sales_rep_id.is_(None)
    )  # fmt: skip
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(Customer.id, Customer.name, Customer.code).where(condition)
            )
        ]


def _run(at):
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _everything_shown(at) -> tuple[set[str], str]:
    """Every table cell and option the page drew (exact values), and all its text as one string."""
    cells: set[str] = set()
    parts = []
    for df in at.dataframe:
        cells.update(str(v) for v in df.value.to_numpy().ravel())
        parts.append(df.value.to_csv())
    for box in [*at.selectbox, *at.multiselect]:
        cells.update(str(o) for o in box.options)
    for kind in ("markdown", "caption", "info", "success", "error", "warning", "subheader"):
        parts.extend(str(e.value) for e in at.get(kind))
    return cells, "\n".join(parts)


def _assert_no_other_customer(at, engine) -> None:
    cells, text = _everything_shown(at)
    others = _customers(engine, mine=False)
    assert others, "the demo should have customers of other representatives"
    # Names are compared whole (one may be the start of another); codes and order numbers have
    # a fixed length, so finding one anywhere in the text is a leak.
    assert [name for _, name, _ in others if name in cells] == []
    assert [code for _, _, code in others if code in text or code in cells] == []
    with engine.connect() as conn:
        numbers = (
            conn.execute(
                select(Order.number)
                .join(Customer, Customer.id == Order.customer_id)
                .where((Customer.sales_rep_id != _rep_id(engine)) | Customer.sales_rep_id.is_(None))
            )
            .scalars()
            .all()
        )
    assert [n for n in numbers if n in text or n in cells] == []


def test_rep_sees_only_their_customers_and_kpis_match_the_database(read_db):
    at = _run(app_test(PAGE, REP_USER))
    mine = {cid for cid, _, _ in _customers(read_db, mine=True)}
    options = [o for o in at.selectbox(key="mc_customer").options if o != "All my customers"]
    assert sorted(options) == sorted(name for _, name, _ in _customers(read_db, mine=True))
    (table,) = [
        d.value for d in at.dataframe if {"backorder_id", "qty_open"} <= set(d.value.columns)
    ]
    assert set(table["customer_id"]) <= mine and len(table) > 0
    with read_db.connect() as conn:
        value = conn.execute(
            select(
                func.sum(
                    (Backorder.qty - Backorder.qty_filled - Backorder.qty_cancelled)
                    * OrderLine.unit_price
                )
            )
            .select_from(Backorder)
            .join(OrderLine, OrderLine.id == Backorder.order_line_id)
            .join(Customer, Customer.id == Backorder.customer_id)
            .where(Backorder.status == "open", Customer.sales_rep_id == _rep_id(read_db))
        ).scalar_one()
    (tile,) = [m for m in at.metric if m.label == "Open backorder value"]
    assert tile.value == tile_money(value)
    assert tile.help.endswith(f"Exactly: {money(value)}.")
    _assert_no_other_customer(at, read_db)


def test_no_widget_selection_or_url_reaches_another_reps_customer(read_db):
    stranger, _, _ = _customers(read_db, mine=False)[0]
    with read_db.connect() as conn:
        foreign_order = (
            conn.execute(select(Order.id).where(Order.customer_id == stranger)).scalars().first()
        )
    at = app_test(PAGE, REP_USER)
    at.query_params["customer_id"] = str(stranger)
    at.query_params["order_id"] = str(foreign_order)
    at.session_state["mc_customer"] = stranger
    at.session_state["mc_detail_customer"] = stranger
    at.session_state["mc_backorders"] = {"selection": {"rows": [10_000], "columns": []}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _assert_no_other_customer(at, read_db)
    # Every selectable row is one of the rep's own backorders.
    at = _run(app_test(PAGE, REP_USER))
    rows = len([d.value for d in at.dataframe if "backorder_id" in d.value.columns][0])
    for position in (0, rows - 1):
        at.session_state["mc_backorders"] = {"selection": {"rows": [position], "columns": []}}
        _run(at)
        _assert_no_other_customer(at, read_db)


@pytest.mark.parametrize("text", ["Hotel", "%", "SO-", "_"])
def test_search_like_filters_show_no_other_customer(read_db, text):
    # The page has no free-text search; customer choices come from the representative's list only.
    at = _run(app_test(PAGE, REP_USER))
    at.session_state["mc_order_lines"] = f"{text} 1"
    _run(at)
    _assert_no_other_customer(at, read_db)


def test_an_unlinked_representative_sees_no_customers(db):
    with db.begin() as conn:
        conn.execute(update(User).where(User.username == REP_USER).values(sales_rep_id=None))
    at = _run(app_test(PAGE, REP_USER))
    assert [i.value for i in at.info][0].startswith("Your account is not linked")
    assert data_elements(at) == []


def _shown_with_alternatives(engine):
    """(position in the page's table, backorder row, ranked alternatives) of the first open
    backorder of the rep whose product the substitute model has an alternative for, or None."""
    backorders = desks.open_backorders(engine, sales_rep_id=_rep_id(engine))
    shown = backorders.sort_values(
        ["miss_risk", "backorder_id"], ascending=[False, True]
    ).reset_index(drop=True)
    for position, row in shown.iterrows():
        if row["order_status"] not in ("open", "picking"):
            continue
        ranked = desks.ranked_alternatives(
            engine, product_id=int(row["product_id"]), customer_id=int(row["customer_id"]),
            needed_date=row["promised_date"],
        )  # fmt: skip
        if not ranked.empty:
            return position, row, ranked
    return None


def _backorder_with_alternatives(engine):
    """As above; where the day's demo has none, one is made: an order of a product that has an
    alternative, far beyond its stock, for one of the rep's customers."""
    found = _shown_with_alternatives(engine)
    if found is not None:
        return found
    customer, _, _ = _customers(engine, mine=True)[0]
    with engine.connect() as conn:
        products = conn.execute(select(Product.id, Product.sku).order_by(Product.id)).all()
    for product_id, sku in products:
        ranked = desks.ranked_alternatives(
            engine, product_id=product_id, customer_id=customer, needed_date=None
        )
        if not ranked.empty:
            operations.place_order(
                engine,
                customer_id=customer,
                lines=[(sku, 20_000)],
                actor="test",
                backorder_choice="accept_backorder",
                confirm_large=True,
            )
            break
    found = _shown_with_alternatives(engine)
    assert found is not None, "no product of the demo has an alternative"
    return found


def test_rep_offers_a_substitute_and_the_swap_is_written(db):
    position, row, ranked = _backorder_with_alternatives(db)
    at = _run(app_test(PAGE, REP_USER))
    at.session_state["mc_backorders"] = {"selection": {"rows": [position], "columns": []}}
    _run(at)
    assert any(row["sku"] in s.value for s in at.subheader)
    substitute = int(ranked.iloc[0]["product_id"])
    at.selectbox(key="mc_sub").set_value(substitute)
    at.number_input(key="mc_sub_qty").set_value(1)
    at.radio(key="mc_sub_answer").set_value("Accepted")
    next(b for b in at.button if b.label == "Record the answer").click()
    _run(at)
    assert [e.value for e in at.error] == []
    assert [s.value for s in at.success][0].startswith(f"{row['order_number']}: 1 x ")
    with db.connect() as conn:
        line = conn.execute(
            select(OrderLine.qty_ordered, OrderLine.substitute_for_id).where(
                OrderLine.order_id == int(row["order_id"]), OrderLine.product_id == substitute
            )
        ).one()
        actor = conn.execute(
            select(AuditLog.actor).where(AuditLog.action == "swap_to_substitute")
        ).scalar_one()
    assert tuple(line) == (1, int(row["product_id"])) and actor == REP_USER


def test_send_update_refuses_a_customer_without_backorders_then_mails_one_with_them(db):
    rep = _rep_id(db)
    customers = desks.customers_in_scope(db, sales_rep_id=rep)
    with_backorders = set(desks.open_backorders(db, sales_rep_id=rep)["customer_id"])
    quiet = next(c for c in customers["customer_id"] if c not in with_backorders)
    waiting = next(iter(sorted(with_backorders)))
    at = _run(app_test(PAGE, REP_USER))
    at.selectbox(key="mc_detail_customer").set_value(quiet)
    _run(at)
    at.button(key="mc_send_update").click()
    _run(at)
    assert "no open backorders" in at.error[0].value
    with db.connect() as conn:
        assert (
            conn.execute(
                select(func.count())
                .select_from(Communication)
                .where(Communication.actor == REP_USER)
            ).scalar_one()
            == 0
        )
    at.selectbox(key="mc_detail_customer").set_value(waiting)
    _run(at)
    at.button(key="mc_send_update").click()
    _run(at)
    assert at.success[0].value.startswith("Update queued for")
    with db.connect() as conn:
        mail = conn.execute(
            select(Notification.email_to, Notification.status).where(
                Notification.kind == "backorder_update"
            )
        ).one()
        email = conn.execute(select(Customer.email).where(Customer.id == waiting)).scalar_one()
    assert tuple(mail) == (email, "pending")


def test_priority_order_shows_the_score_parts_and_places_an_urgent_order(db):
    rep = _rep_id(db)
    row = desks.open_backorders(db, sales_rep_id=rep).iloc[0]
    customer = int(row["customer_id"])
    at = _run(app_test(PAGE, REP_USER))
    at.selectbox(key="mc_detail_customer").set_value(customer)
    _run(at)
    at.text_area(key="mc_order_lines").input("not a line")
    _run(at)
    assert "Write each line as a SKU" in at.error[0].value
    # Far above the usual order size: the write side asks for a confirmation first.
    at.text_area(key="mc_order_lines").input(f"{row['sku']} 50000")
    at.toggle(key="mc_order_urgent").set_value(True)
    _run(at)
    (preview,) = [
        d.value for d in at.dataframe if "SKU" in d.value.columns and "Short" in d.value.columns
    ]
    assert preview["Score (priority)"].iloc[0] > preview["Score (normal)"].iloc[0]
    assert preview["Units ahead (priority)"].iloc[0] <= preview["Units ahead (normal)"].iloc[0]
    assert "urgent" in preview["Score parts (priority)"].iloc[0]
    assert not [c for c in at.checkbox if c.key == "mc_confirm_large"]
    at.button(key="mc_place_order").click()
    _run(at)
    assert any("confirm the large quantity" in e.value for e in at.error), at.error
    with db.connect() as conn:
        placed = select(Order.priority, Order.customer_id, OrderLine.qty_ordered).join(
            OrderLine, OrderLine.order_id == Order.id
        )
        assert conn.execute(placed.where(Order.placed_by == REP_USER)).all() == []
    at.checkbox(key="mc_confirm_large").check()
    at.button(key="mc_place_order").click()
    _run(at)
    with db.connect() as conn:
        order = conn.execute(placed.where(Order.placed_by == REP_USER)).one()
    assert tuple(order) == ("urgent", customer, 50000)
    assert at.success[0].value.startswith("Placed SO-")
    assert not [c for c in at.checkbox if c.key == "mc_confirm_large"]


def test_the_filters_and_sort_show_the_rows_a_direct_filter_gives(read_db):
    everything = desks.open_backorders(read_db, sales_rep_id=_rep_id(read_db))
    first = everything.sort_values("value").iloc[len(everything) // 2]
    at = app_test(PAGE, REP_USER)
    at.session_state["mc_tier"] = first["tier"]
    at.session_state["mc_risk"] = [first["risk"]]
    at.session_state["mc_min_value"] = float(first["value"])
    at.session_state["mc_sort"] = "Days waiting"
    _run(at)
    expected = everything[
        (everything["tier"] == first["tier"])
        & (everything["risk"] == first["risk"])
        & (everything["value"] >= first["value"])
    ].sort_values(["days_waiting", "backorder_id"], ascending=[False, True])
    assert 0 < len(expected) < len(everything)  # the filters pick some rows and leave others
    (table,) = [
        d.value for d in at.dataframe if {"backorder_id", "qty_open"} <= set(d.value.columns)
    ]
    assert list(table["backorder_id"]) == list(expected["backorder_id"])
    assert list(at.selectbox(key="mc_offer_for").options) == [
        f"{r.order_number} · {r.customer} · {r.qty_open} x {r.sku}" for r in expected.itertuples()
    ]
    # The value chart sums the rows shown, per customer.
    (chart,) = at.get("vega_lite_chart")
    charted = pd.concat(
        pa.ipc.open_stream(io.BytesIO(d.data.data)).read_all().to_pandas()
        for d in chart.proto.datasets
    )
    assert charted["value"].sum() == pytest.approx(expected["value"].sum(), abs=0.01)
    assert set(charted["customer"]) == set(expected["customer"])
