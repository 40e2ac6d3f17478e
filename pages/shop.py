"""Shop (customer): live availability, alternatives, a cart, ordering, my orders, feedback.

The customer is always the one linked to the logged-in user (``CurrentUser.customer_id`` from
the database), never a widget or URL parameter.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import operations
from data.schema import CATEGORIES
from operations.errors import ConfirmationNeeded, LarderError
from operations.validation import quantity
from queries import backorders, catalogue, orders
from ui.auth import require_role
from ui.components import (
    PickableTable,
    empty_state,
    error_state,
    money,
    qty,
    shown_table,
    standard_table,
)
from ui.db import engine, live_read
from ui.format import (
    as_dates,
    count_column,
    date_column,
    datetime_column,
    day,
    money_column,
    plain,
)
from ui.large_quantity import LargeQuantityBox

user = require_role("customer")
db = engine()

st.title("Shop")
if user.customer_id is None:
    empty_state(
        "This account is not linked to a customer, so there is no shop to show.",
        "The shop always shows the linked customer's own prices, orders and feedback. "
        "An administrator can link a user to a customer on the Admin page.",
    )
    st.stop()

customer_id = user.customer_id
CART_KEY = "shop_cart"  # {sku: qty}, in the order added
CONFIRMATION_KEY = "shop_confirmation"
NOTICE_KEY = "shop_notice"
LARGE = LargeQuantityBox("shop")  # the write side asked to confirm unusually large lines
# "No filter" option of the select boxes (a None option renders as an empty placeholder).
ANY = "(any)"
CHOICE_LABELS = {
    "accept_backorder": "Accept the backorder: send what is in stock now, the rest when it arrives",
    "ship_complete": "Wait and send everything together when it is all in stock",
    "cancel_short": "Cancel the short part: send only what is in stock now",
}


@live_read("customers")
def _profile(engine, customer_id: int) -> dict | None:
    return orders.customer_profile(engine, customer_id)


# The customer's own orders and backorders: keyed by the versions like every cached read (an
# order anywhere re-reads them), and read once per run however many tabs show them.
@live_read("backorders", "orders")
def _my_orders(engine, customer_id: int) -> pd.DataFrame:
    return as_dates(orders.customer_orders(engine, customer_id), ["next_estimate"])


@live_read("backorders", "catalogue", "customers", "orders", "purchasing", "shipments")
def _my_backorders(engine, customer_id: int) -> pd.DataFrame:
    waiting = backorders.customer_open_backorders(engine, customer_id)
    return as_dates(waiting, ["estimated_date", "late_case_date"])


@live_read("backorders", "catalogue", "orders")
def _my_order_lines(engine, customer_id: int, order_id: int) -> pd.DataFrame:
    lines = orders.order_lines(engine, customer_id, order_id)
    return as_dates(lines, ["estimated_date", "late_case_date"])


profile = _profile(db, customer_id)
if profile is None:
    empty_state("The customer linked to this account no longer exists. Ask an administrator.")
    st.stop()
cart: dict[str, int] = st.session_state.setdefault(CART_KEY, {})


# The catalogue table's columns, product and availability first: on a phone only they fit.
SHELF_COLUMNS = ["name", "availability", "price", "pack", "sku", "allergens"]


@live_read("backorders", "catalogue", "customers", "models", "purchasing", "settings", "stock")
def _shelf(engine, text: str, category: str | None, customer_id: int) -> PickableTable:
    """The products a search finds, the table that shows them and each one's label by SKU,
    made once per change of what they show rather than on every run."""
    found = catalogue.search_catalogue(
        engine, text=text or None, category=category, customer_id=customer_id
    )
    available = [availability_text(row) for row in found.itertuples(index=False)]
    shown = found.assign(
        pack=found["pack_size"].astype(str) + " " + found["unit"],
        allergens=found["allergens"].str.replace(",", ", "),
        availability=available,
    )
    labels = {
        sku: f"{name} ({sku}) — {availability}"
        for sku, name, availability in zip(found["sku"], found["name"], available, strict=True)
    }
    return PickableTable(found, shown_table(shown, SHELF_COLUMNS), labels)


st.caption(f"{plain(profile['name'])} ({plain(profile['code'])}) · live availability")

notice = st.session_state.pop(NOTICE_KEY, None)
if notice:
    st.success(notice, icon=":material/check_circle:")


def show_confirmation() -> None:
    """What the last order did, line by line: allocated, backordered, when and why."""
    placed = st.session_state.get(CONFIRMATION_KEY)
    if placed is None:
        return
    with st.container(border=True):
        st.subheader(f"Order {plain(placed.number)} placed")
        rows = [
            {
                "SKU": line.sku,
                "Ordered": line.qty_ordered,
                "Reserved for you": line.qty_allocated,
                "Backordered": line.qty_backordered,
                "Cancelled": line.qty_cancelled,
                "Expected": line.expected_date,
                "Why that date": line.estimate_reason,
            }
            for line in placed.lines
        ]
        confirmation = pd.DataFrame(rows)
        confirmation["Expected"] = pd.to_datetime(confirmation["Expected"])
        st.dataframe(
            confirmation,
            hide_index=True,
            key="confirmation_table",
            column_config={
                name: count_column(name)
                for name in ("Ordered", "Reserved for you", "Backordered", "Cancelled")
            }
            | {"Expected": date_column("Expected")},
        )
        for line in placed.lines:
            if line.qty_backordered:
                st.markdown(
                    f"**{plain(line.sku)}**: {qty(line.qty_backordered)} on backorder, expected "
                    f"**{day(line.expected_date)}** ({plain(line.estimate_reason)})."
                )
        if st.button("Done", key="confirmation_done"):
            del st.session_state[CONFIRMATION_KEY]
            st.rerun()


def add_to_cart(sku: str, raw_qty: object) -> None:
    try:
        amount = quantity(raw_qty, f"The quantity of {sku}")
    except LarderError as err:
        error_state(err)
        return
    cart[sku] = cart.get(sku, 0) + amount
    st.session_state[NOTICE_KEY] = (
        f"Added {qty(amount)} x {plain(sku)} to your cart ({len(cart)} line(s)): see the Cart tab."
    )
    st.rerun()


def browse() -> None:
    """Search the catalogue and add to the cart; alternatives for what is short."""
    text = st.text_input("Search products", key="shop_search", placeholder="e.g. flour, milk")
    category = st.selectbox(
        "Category",
        [ANY, *CATEGORIES],
        format_func=lambda c: "All categories" if c == ANY else c,
        key="shop_category",
    )
    shelf = _shelf(db, text.strip(), None if category == ANY else category, customer_id)
    found, labels = shelf.rows, shelf.labels
    if found.empty:
        empty_state("No product matches your search.", "Try a shorter word or another category.")
        return
    if len(found) >= catalogue.DEFAULT_LIMIT:
        st.caption(
            f"Showing the first {catalogue.DEFAULT_LIMIT} matches by name: search or choose a "
            "category to narrow them."
        )
    st.dataframe(
        shelf.table.arrow,
        hide_index=True,
        key="catalogue_table",
        column_config={
            "sku": st.column_config.TextColumn("SKU"),
            "name": st.column_config.TextColumn("Product", width=320),
            "pack": st.column_config.TextColumn("Pack"),
            "price": money_column("Price"),
            "availability": st.column_config.TextColumn(
                "Availability", width=250, help="Units free to order now, or when more arrive"
            ),
            "allergens": st.column_config.TextColumn("Allergens"),
        },
    )
    by_sku = found.set_index("sku")
    sku = st.selectbox(
        "Product to add",
        list(labels),
        format_func=labels.get,
        key="shop_pick",
    )
    amount = st.number_input(
        "Quantity", value=1.0, step=1.0, format="%g", key="shop_qty",
        help="Whole units (packs), 1 or more.",
    )  # fmt: skip
    if st.button(
        "Add to cart", key="shop_add", type="primary", icon=":material/add_shopping_cart:"
    ):
        add_to_cart(sku, amount)
    product = by_sku.loc[sku]
    wanted = int(amount) if float(amount).is_integer() and amount >= 1 else 1
    if product["available"] < wanted:
        offer_alternatives(int(product["product_id"]), sku, wanted, replace=False)


def availability_text(row) -> str:
    """What the customer can have now: "8 available" (", running low" near the reorder level),
    or when more is expected. ``row`` is a catalogue row (a tuple or a Series)."""
    available = int(row.available)
    if available > 0:
        low = ", running low" if row.availability == "Low" else ""
        return f"{qty(available)} available{low}"
    expected = getattr(row, "expected_date", None)
    if expected is not None and not pd.isna(expected):
        return f"None available, more expected {day(expected)}"
    return str(row.availability)


def offer_alternatives(product_id: int, sku: str, wanted: int, *, replace: bool) -> None:
    """In-stock alternatives for ``wanted`` units; a button adds one (or replaces the line)."""
    options = catalogue.alternatives(db, product_id, wanted, customer_id)
    if options.empty:
        st.caption(f"No in-stock alternative for {qty(wanted)} x {plain(sku)}.")
        return
    verb = "Take" if replace else "Add"
    st.markdown(f"In stock instead of **{plain(sku)}** ({qty(wanted)} wanted):")
    for alt in options.itertuples(index=False):
        difference = "same price" if alt.price_difference == 0 else (
            f"{money(abs(alt.price_difference))} {'more' if alt.price_difference > 0 else 'less'}"
        )  # fmt: skip
        label = (
            f"{verb} {plain(alt.name)} ({plain(alt.sku)}), {money(alt.price)}: {difference}, "
            f"{plain(alt.why)}"
        )
        if st.button(label, key=f"alt_{'cart' if replace else 'browse'}_{sku}_{alt.sku}"):
            if replace:
                cart[alt.sku] = cart.pop(sku) + cart.get(alt.sku, 0)
                st.session_state[NOTICE_KEY] = (
                    f"Replaced {plain(sku)} with {plain(alt.sku)} in your cart."
                )
                st.rerun()
            else:
                add_to_cart(alt.sku, wanted)


def show_cart() -> None:
    """The cart with live availability, what is short and the choice for it, then order."""
    if not cart:
        empty_state("Your cart is empty.", "Search the catalogue above and add products.")
        return
    check = catalogue.cart_check(db, list(cart.items()), customer_id=customer_id)
    check = check.assign(value=check["qty"] * check["price"])
    for line in check.itertuples(index=False):
        with st.container(border=True):
            st.markdown(
                f"**{plain(line.name)}** ({plain(line.sku)}) · {qty(line.qty)} x "
                f"{money(line.price)} = {money(line.value)}"
            )
            if line.short:
                st.warning(
                    f"Only {qty(line.available)} in stock: {qty(line.short)} short, "
                    f"expected {day(line.expected_date)} ({plain(line.reason)}).",
                    icon=":material/schedule:",
                )
                offer_alternatives(line.product_id, line.sku, line.qty, replace=True)
            else:
                st.caption("In stock")
            if st.button("Remove", key=f"remove_{line.sku}", icon=":material/delete:"):
                cart.pop(line.sku, None)
                st.rerun()
    st.markdown(f"**Total {money(check['value'].sum())}** (before delivery)")
    short_lines = check[check["short"] > 0]
    choice = profile["backorder_preference"]
    if not short_lines.empty:
        choices = list(CHOICE_LABELS)
        choice = st.radio(
            f"{len(short_lines)} line(s) cannot be sent in full now. What should we do?",
            choices,
            index=choices.index(profile["backorder_preference"]),
            format_func=CHOICE_LABELS.get,
            key="shop_backorder_choice",
            help="The default is your account's preference.",
        )
    confirm_large = LARGE.value()
    if st.button("Place order", key="shop_place", type="primary", icon=":material/send:"):
        try:
            placed = operations.place_order(
                db,
                customer_id=customer_id,
                lines=list(cart.items()),
                actor=user.username,
                backorder_choice=choice,
                confirm_large=confirm_large,
            )
        except ConfirmationNeeded as err:
            error_state(err)
            LARGE.ask()
            return
        except LarderError as err:
            error_state(err)
            return
        LARGE.forget()
        cart.clear()
        st.session_state[CONFIRMATION_KEY] = placed
        st.session_state["my_order_pick"] = placed.order_id  # its details under My orders
        st.rerun()


def my_orders() -> None:
    """The customer's own orders with status and the next expected date."""
    mine = _my_orders(db, customer_id)
    if mine.empty:
        empty_state("You have no orders yet.")
        return
    waiting = _my_backorders(db, customer_id)
    if not waiting.empty:
        st.markdown(f"**Waiting for {qty(len(waiting))} item(s) on backorder**")
        st.dataframe(
            waiting[
                [
                    "product",
                    "qty_open",
                    "estimated_date",
                    "late_case_date",
                    "order_number",
                    "reason",
                ]
            ],
            hide_index=True,
            key="my_backorders_table",
            column_config={
                "product": st.column_config.TextColumn("Product", width="medium"),
                "qty_open": count_column("Qty"),
                "estimated_date": date_column("Expected"),
                "late_case_date": date_column("At the latest"),
                "order_number": st.column_config.TextColumn("Order"),
                "reason": st.column_config.TextColumn("Why that date"),
            },
        )
    st.caption(f"Your latest {qty(len(mine))} orders, newest first.")
    standard_table(
        mine.drop(columns=["order_id"]),
        key="my_orders_table",
        file_name="my_orders",
        column_config={
            "order": st.column_config.TextColumn("Order"),
            "placed": datetime_column("Placed"),
            "status": st.column_config.TextColumn("Status"),
            "priority": st.column_config.TextColumn("Priority"),
            "lines": count_column("Lines"),
            "backordered_lines": count_column("On backorder"),
            "next_estimate": date_column("Next expected"),
            "value": money_column("Value"),
        },
    )
    numbers = dict(zip(mine["order_id"], mine["order"], strict=True))
    order_id = st.selectbox(
        "Order details",
        list(numbers),
        format_func=numbers.get,
        key="my_order_pick",
    )
    lines = _my_order_lines(db, customer_id, order_id)
    st.dataframe(
        lines,
        hide_index=True,
        key="my_order_lines",
        column_config={
            "line_no": st.column_config.NumberColumn("#", format="%d"),
            "sku": "SKU",
            "product": "Product",
            "qty_ordered": count_column("Ordered"),
            "qty_allocated": count_column("Reserved"),
            "qty_backordered": count_column("Backordered"),
            "qty_cancelled": count_column("Cancelled"),
            "qty_shipped": count_column("Shipped"),
            "unit_price": money_column("Price"),
            "estimated_date": date_column("Expected"),
            "late_case_date": date_column("At the latest"),
            "reason": st.column_config.TextColumn("Why that date"),
            "substitute_for": st.column_config.TextColumn("Instead of"),
        },
    )


def feedback_form() -> None:
    """CSAT 1-5, NPS 0-10 and a comment; any one of them is enough."""
    mine = _my_orders(db, customer_id)
    numbers = dict(zip(mine["order_id"], mine["order"], strict=True))
    with st.form("shop_feedback", clear_on_submit=False):
        csat = st.number_input(
            "How satisfied are you? (1 = not at all, 5 = very)", value=None, step=1,
            key="feedback_csat",
        )  # fmt: skip
        nps = st.number_input(
            "How likely are you to recommend us? (0 = not at all, 10 = certainly)",
            value=None, step=1, key="feedback_nps",
        )  # fmt: skip
        comment = st.text_area("Comment", key="feedback_comment", max_chars=4000)
        order_id = st.selectbox(
            "About an order (optional)",
            [ANY, *numbers],
            format_func=lambda o: "No particular order" if o == ANY else numbers[o],
            key="feedback_order",
        )
        sent = st.form_submit_button("Send feedback", type="primary")
    if sent:
        try:
            operations.record_feedback(
                db,
                customer_id=customer_id,
                actor=user.username,
                csat=csat,
                nps=nps,
                comment=comment,
                order_id=None if order_id == ANY else order_id,
            )
        except LarderError as err:
            error_state(err)
            return
        st.success("Thank you: your feedback is recorded.", icon=":material/thumb_up:")


show_confirmation()
shop_tab, cart_tab, orders_tab, feedback_tab = st.tabs(
    ["Catalogue", "Cart", "My orders", "Feedback"]
)
with shop_tab:
    browse()
with cart_tab:
    show_cart()
with orders_tab:
    my_orders()
with feedback_tab:
    feedback_form()
