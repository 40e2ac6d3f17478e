"""AppTest of the shop on the tiny seeded database: always the logged-in customer's own data."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import operations
from data.db import make_engine
from data.schema import Feedback, Order, Product, User
from queries.catalogue import alternatives
from queries.stock import stock_overview
from tests import apptest_support
from tests.apptest_support import app_test

# Fixtures shared by the AppTest modules (assigned, not imported, so they are found by name).
fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_template = apptest_support.seeded_template

PAGE = "pages/shop.py"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _customer_id(engine, username: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(User.customer_id).where(User.username == username)).scalar_one()


def _run(username: str = "customer1"):
    at = app_test(PAGE, username)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _after(at):
    assert not at.exception, [e.value for e in at.exception]
    return at


def _button(at, label_start: str):
    return next(b for b in at.button if b.label.startswith(label_start))


def _stocked_product(engine) -> tuple[str, int]:
    """Some product with stock available now: (sku, available)."""
    overview = stock_overview(engine)
    row = overview[overview["available"] > 0].sort_values("sku").iloc[0]
    return row["sku"], int(row["available"])


def _add(at, sku: str, qty) -> None:
    at.text_input(key="shop_search").set_value(sku).run()
    at.selectbox(key="shop_pick").set_value(sku)
    at.number_input(key="shop_qty").set_value(qty)
    at.button(key="shop_add").click().run()
    _after(at)


def test_customer_orders_more_than_stock_and_gets_a_dated_backorder(db):
    sku, available = _stocked_product(db)
    last_order = _max_id(db, Order)
    at = _run()
    _add(at, sku, available + 4)
    assert at.session_state["shop_cart"] == {sku: available + 4}
    assert any(f"{4} short" in w.value for w in at.warning), [w.value for w in at.warning]
    at.radio(key="shop_backorder_choice").set_value("accept_backorder")
    at.button(key="shop_place").click().run()
    _after(at)

    confirmation = next(d.value for d in at.dataframe if "Backordered" in d.value.columns)
    line = confirmation.iloc[0]
    assert (line["SKU"], line["Reserved for you"], line["Backordered"]) == (sku, available, 4)
    assert line["Expected"] is not None
    assert any("on backorder, expected" in m.value for m in at.markdown)
    assert at.session_state["shop_cart"] == {}
    with db.connect() as conn:
        placed = conn.execute(
            select(Order.customer_id, Order.placed_by).where(Order.id > last_order)
        ).all()
    assert placed == [(_customer_id(db, "customer1"), "customer1")]


@pytest.mark.parametrize(
    ("qty", "message"),
    [
        (0, "must be at least 1, not 0"),
        (-1, "must be at least 1, not -1"),
        (1.5, "whole number"),
    ],
)
def test_bad_quantity_is_refused_with_a_message(db, qty, message):
    sku, _ = _stocked_product(db)
    at = _run()
    _add(at, sku, qty)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert at.session_state["shop_cart"] == {}


def test_short_line_can_be_replaced_by_a_substitute(db):
    overview = stock_overview(db)
    for row in overview[overview["available"] > 0].sort_values("sku").itertuples():
        wanted = int(row.available) + 2
        options = alternatives(db, int(row.product_id), wanted)
        if not options.empty:
            break
    else:
        pytest.fail("the seeded data has no product with an in-stock alternative")
    at = _run()
    _add(at, row.sku, wanted)
    substitute = options.iloc[0]["sku"]
    next(
        b for b in at.button if b.label.startswith("Take") and f"({substitute})" in b.label
    ).click()
    at.run()
    _after(at)
    assert at.session_state["shop_cart"] == {substitute: wanted}
    assert any(f"Replaced {row.sku} with {substitute}" in s.value for s in at.success)


def test_remove_a_cart_line(db):
    sku, _ = _stocked_product(db)
    at = _run()
    _add(at, sku, 1)
    at.button(key=f"remove_{sku}").click().run()
    _after(at)
    assert at.session_state["shop_cart"] == {}


def test_customer_never_sees_another_customers_orders(db):
    sku, available = _stocked_product(db)

    def short_order(username: str):
        # Both orders go short, so each customer has an open backorder on the same product.
        return operations.place_order(
            db,
            customer_id=_customer_id(db, username),
            lines=[(sku, available + 1)],
            actor="test",
            backorder_choice="accept_backorder",
        )

    mine, theirs = short_order("customer1"), short_order("customer2")
    at = _run("customer1")
    orders_table = next(d.value for d in at.dataframe if d.value.columns[0] == "order")
    assert mine.number in set(orders_table["order"])
    assert theirs.number not in set(orders_table["order"])
    assert theirs.number not in at.selectbox(key="my_order_pick").options
    waiting = next(d.value for d in at.dataframe if "qty_open" in d.value.columns)
    assert mine.number in set(waiting["order_number"])
    assert set(waiting["order_number"]) <= set(orders_table["order"])
    other = _run("customer2")
    other_table = next(d.value for d in other.dataframe if d.value.columns[0] == "order")
    assert theirs.number in set(other_table["order"])
    assert mine.number not in set(other_table["order"])


def _max_id(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(table.id), 0))).scalar_one()


def _feedback_rows(engine, after_id: int) -> list[tuple]:
    """Feedback stored since ``after_id`` (the seeded data has feedback of its own)."""
    with engine.connect() as conn:
        return conn.execute(
            select(Feedback.customer_id, Feedback.csat, Feedback.nps).where(Feedback.id > after_id)
        ).all()


def _send_feedback(at, csat, nps, comment=""):
    at.number_input(key="feedback_csat").set_value(csat)
    at.number_input(key="feedback_nps").set_value(nps)
    at.text_area(key="feedback_comment").set_value(comment)
    _button(at, "Send feedback").click().run()
    return _after(at)


def test_feedback_with_nps_11_is_refused_clearly(db):
    last = _max_id(db, Feedback)
    at = _send_feedback(_run(), 4, 11)
    assert any("NPS must be between 0 and 10, not 11" in e.value for e in at.error)
    assert _feedback_rows(db, last) == []


def test_valid_feedback_is_stored_for_the_logged_in_customer(db):
    last = _max_id(db, Feedback)
    at = _send_feedback(_run(), 4, 9, "Quick delivery, thank you")
    assert any("feedback is recorded" in s.value for s in at.success)
    assert _feedback_rows(db, last) == [(_customer_id(db, "customer1"), 4, 9)]


def test_owner_without_a_linked_customer_sees_an_explanation_and_no_data(db):
    at = _run("owner")
    assert any("not linked to a customer" in i.value for i in at.info)
    assert not at.dataframe and not at.button


def test_wrong_role_is_refused(db):
    at = _run("manager")
    assert at.error and "This page is for" in at.error[0].value
    assert not at.dataframe


def test_an_unusually_large_order_is_placed_only_after_confirming(db):
    sku, _ = _stocked_product(db)
    with db.connect() as conn:
        usual = conn.execute(
            select(Product.order_up_to, Product.reorder_point).where(Product.sku == sku)
        ).one()
    huge = 50 * max(*usual, 100)  # far beyond the product's levels and any line of the demo
    last_order = _max_id(db, Order)
    at = _run()
    _add(at, sku, huge)
    at.radio(key="shop_backorder_choice").set_value("accept_backorder")
    at.button(key="shop_place").click().run()
    _after(at)
    assert any("confirm the large quantity" in e.value for e in at.error), at.error
    assert _max_id(db, Order) == last_order
    at.checkbox(key="shop_confirm_large").check()
    at.button(key="shop_place").click().run()
    _after(at)
    assert _max_id(db, Order) > last_order
    assert at.session_state["shop_cart"] == {}


def test_an_order_above_the_ceiling_is_refused_even_when_confirmed(db):
    sku, _ = _stocked_product(db)
    last_order = _max_id(db, Order)
    at = _run()
    _add(at, sku, 4_000_000)
    at.radio(key="shop_backorder_choice").set_value("accept_backorder")
    at.button(key="shop_place").click().run()
    _after(at)
    assert any("at most 100,000" in e.value for e in at.error), [e.value for e in at.error]
    assert _max_id(db, Order) == last_order


def test_catalogue_shows_how_many_are_free_in_the_table(db):
    sku, available = _stocked_product(db)
    at = _run()
    at.text_input(key="shop_search").set_value(sku).run()
    (table,) = [d.value for d in at.dataframe if "availability" in d.value.columns]
    row = table[table["sku"] == sku].iloc[0]
    assert row["availability"].startswith(f"{available:,} available")
    assert "In stock" not in set(table["availability"])


def test_a_product_name_with_markdown_is_shown_as_text_in_the_cart(db):
    from data.schema import Product

    sku, _available = _stocked_product(db)
    with db.begin() as conn:
        conn.execute(
            Product.__table__.update()
            .where(Product.sku == sku)
            .values(name="**Bold** [link](http://e.vil) <b>x</b>")
        )
    at = _run()
    _add(at, sku, 1)
    shown = [m.value for m in at.markdown if "Bold" in m.value]
    assert len(shown) == 1
    assert shown[0].startswith("**\\*\\*Bold\\*\\* \\[link\\](http\\://e.vil) \\<b\\>x\\</b\\>** (")


def test_each_product_to_add_is_labelled_with_its_name_and_availability(db):
    from queries.catalogue import search_catalogue
    from ui.components import qty

    sku, available = _stocked_product(db)
    at = _run()
    at.text_input(key="shop_search").set_value(sku).run()
    _after(at)
    found = search_catalogue(db, text=sku, customer_id=_customer_id(db, "customer1"))
    picker = at.selectbox(key="shop_pick")
    assert len(picker.options) == len(found)
    name = found.set_index("sku").loc[sku, "name"]
    assert picker.options[list(found["sku"]).index(sku)].startswith(
        f"{name} ({sku}) — {qty(available)} available"
    )
