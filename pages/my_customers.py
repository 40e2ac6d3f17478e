"""My customers (sales representative): their open backorders, risk, substitutes and updates.

Only the logged-in representative's own customers: the filter is the user's link to a sales
representative, read from the database by the guard; no widget or URL can change it, and every
read below passes it to the database.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import TIERS, utcnow
from operations.errors import ConfirmationNeeded, LarderError
from queries import customer_desks as desks
from ui.auth import require_role
from ui.charts import vega_spec
from ui.components import (
    PickableTable,
    ShownTable,
    empty_state,
    error_state,
    kpi_tile,
    money,
    pct,
    show_success,
    shown_table,
    standard_table,
)
from ui.db import engine, live_read
from ui.format import (
    count_column,
    date_column,
    datetime_column,
    decimal_column,
    money_column,
    tile_money,
)
from ui.large_quantity import LargeQuantityBox

user = require_role("sales_rep")
db = engine()

FLASH_KEY = "my_customers_flash"
LARGE = LargeQuantityBox("mc")  # the write side asked to confirm unusually large lines
ANY = "(any)"
RISK_BANDS = ("high", "medium", "low", "unknown")
SORTS = {
    "Risk of missing the promise": ("miss_risk", False),
    "Value": ("value", False),
    "Days waiting": ("days_waiting", False),
    "Customer": ("customer", True),
    "Likely date": ("likely_date", True),
}
MAX_ORDER_LINES = 20
RISK_HELP = (
    "Chance that the goods arrive after the date promised to the customer. The likely date is "
    "the estimate's median and the late case its 90th percentile; the delivery day is taken as "
    "normally distributed with that median and a spread of (late case - likely) / 1.28 days. "
    f"High from {desks.HIGH_RISK:.0%}, medium from {desks.AT_RISK:.0%}."
)


@live_read("backorders", "catalogue", "customers", "orders")
def _backorders(engine, rep_id: int) -> pd.DataFrame:
    return desks.open_backorders(engine, sales_rep_id=rep_id)


@live_read("backorders", "catalogue", "customers", "orders")
def _backorder_figures(engine, rep_id: int) -> dict:
    """The open backorder value figures, and how many open backorders there are."""
    rows = _backorders(engine, rep_id)
    return {**desks.backorder_value_figures(rows), "open_backorders": len(rows)}


@live_read("backorders", "catalogue", "customers", "orders")
def _shown(engine, rep_id: int, filters: tuple) -> PickableTable:
    """The open backorders the filters (customer, tier, risk bands, minimum value, sort) pick,
    sorted, as the table and the substitute picker show them."""
    customer, tier, risks, min_value, sort = filters
    rows = _backorders(engine, rep_id)
    if customer is not None:
        rows = rows[rows["customer_id"] == customer]
    if tier is not None:
        rows = rows[rows["tier"] == tier]
    if risks:
        rows = rows[rows["risk"].isin(risks)]
    if min_value:
        rows = rows[rows["value"] >= min_value]
    column, ascending = SORTS.get(sort, SORTS["Value"])
    rows = rows.sort_values([column, "backorder_id"], ascending=[ascending, True])
    rows = rows.reset_index(drop=True)
    labels = {
        int(r.backorder_id): f"{r.order_number} · {r.customer} · {r.qty_open} x {r.sku}"
        for r in rows.itertuples()
    }
    return PickableTable(rows, shown_table(rows), labels)


@live_read("backorders", "catalogue", "customers", "orders")
def _value_spec(engine, rep_id: int, filters: tuple) -> dict | None:
    """The chart of open backorder value per customer and risk band over the shown rows."""
    rows = _shown(engine, rep_id, filters).rows
    if rows.empty:
        return None
    by_customer = rows.groupby(["customer", "risk"], as_index=False)["value"].sum().round(2)
    return vega_spec(_value_chart(by_customer))


@live_read("backorders", "customers", "orders")
def _customers(engine, rep_id: int) -> pd.DataFrame:
    return desks.customers_in_scope(engine, sales_rep_id=rep_id)


# Averages over 90 days that one more order cannot visibly move: while orders come in they are
# re-read at most once a minute (the open backorder figures come from the cached backorders).
@live_read("customers", "orders", "shipments", settle_s=60)
def _window_kpis(engine, rep_id: int) -> dict:
    return desks.rep_window_kpis(engine, sales_rep_id=rep_id)


@live_read("customers")
def _card(engine, customer_id: int, rep_id: int) -> dict | None:
    return desks.customer_in_scope(engine, customer_id, sales_rep_id=rep_id)


@live_read("backorders", "catalogue", "customers", "orders")
def _open_lines(engine, customer_id: int, rep_id: int) -> ShownTable:
    return shown_table(desks.open_order_lines(engine, customer_id=customer_id, sales_rep_id=rep_id))


@live_read(
    "backorders", "catalogue", "customers", "models", "orders", "purchasing", "settings", "stock"
)
def _alternatives(engine, product_id: int, customer_id: int, needed):
    return desks.ranked_alternatives(
        engine, product_id=product_id, customer_id=customer_id, needed_date=needed
    )


def days(x) -> str:
    return "—" if x is None else f"{x:.1f} days"


def rating(x) -> str:
    return "—" if x is None else f"{x:.2f} / 5"


st.title("My customers")
rep_id = user.sales_rep_id
if rep_id is None:
    st.info(
        "Your account is not linked to a sales representative, so there are no customers of "
        "yours to show. An administrator can link it on the Admin page.",
        icon=":material/link_off:",
    )
    st.stop()

show_success(FLASH_KEY)

customers = _customers(db, rep_id)
names = dict(zip(customers["customer_id"], customers["name"], strict=True))
figures = {**_backorder_figures(db, rep_id), **_window_kpis(db, rep_id)}
st.caption(
    f"{len(customers)} customers of yours; {figures['open_backorders']} open backorders. "
    "Hover over a figure's title for its definition."
)

# --- KPIs ----------------------------------------------------------------------------------
cols = st.columns(5)
with cols[0]:
    kpi_tile(
        "Open backorder value",
        figures["open_backorder_value"],
        "Open backordered units of your customers at their order-line prices. "
        f"Exactly: {money(figures['open_backorder_value'])}.",
        fmt=tile_money,
    )
with cols[1]:
    kpi_tile(
        "Share at risk",
        figures["share_at_risk"],
        f"Share of the open backorder value whose chance of missing the promised date is "
        f"{desks.AT_RISK:.0%} or more. {RISK_HELP}",
        fmt=pct,
    )
with cols[2]:
    kpi_tile(
        "Customer satisfaction",
        figures["csat"],
        f"Average CSAT (1-5) your customers gave in the last {desks.KPI_WINDOW_DAYS} days "
        f"({figures['csat_responses']} ratings).",
        fmt=rating,
    )
with cols[3]:
    kpi_tile(
        "Order fulfilment time",
        figures["fulfilment_days"],
        f"Average days from placing an order to its last delivery, over orders delivered in "
        f"the last {desks.KPI_WINDOW_DAYS} days.",
        fmt=days,
    )
with cols[4]:
    kpi_tile(
        "Order conversion",
        figures["conversion"],
        "Larder records no carts or quotes, so the nearest honest measure of sales conversion "
        "is used: the share of units your customers ordered in the last "
        f"{desks.KPI_WINDOW_DAYS} days that became sales rather than being cancelled "
        "(by the customer, by cancel-short or lost while waiting).",
        fmt=pct,
    )

# --- Filters -------------------------------------------------------------------------------
with st.sidebar:
    st.subheader("Backorder filters")
    f_customer = st.selectbox(
        "Customer",
        [ANY, *customers["customer_id"].tolist()],
        format_func=lambda c: "All my customers" if c == ANY else names.get(c, "?"),
        key="mc_customer",
    )
    f_tier = st.selectbox("Tier", [ANY, *TIERS], key="mc_tier")
    f_risk = st.multiselect("Risk", RISK_BANDS, key="mc_risk", help=RISK_HELP)
    f_min_value = st.number_input(
        "Minimum value (€)", min_value=0.0, value=0.0, step=50.0, key="mc_min_value"
    )
    f_sort = st.selectbox("Sort by", list(SORTS), key="mc_sort")

filters = (
    None if f_customer == ANY else int(f_customer),
    None if f_tier == ANY else f_tier,
    tuple(f_risk),
    float(f_min_value),
    f_sort,
)
picked_rows = _shown(db, rep_id, filters)
shown = picked_rows.rows

BACKORDER_TABLE = {
    "backorder_id": None,
    "order_id": None,
    "order_line_id": None,
    "customer_id": None,
    "product_id": None,
    "created": None,
    "order_number": "Order",
    "order_status": "Order status",
    "customer_code": "Code",
    "customer": "Customer",
    "tier": "Tier",
    "sku": "SKU",
    "product": "Product",
    "qty_open": count_column("Units waiting"),
    "value": money_column("Value"),
    "days_waiting": count_column("Days waiting"),
    "promised_date": date_column("Promised"),
    "likely_date": date_column("Likely"),
    "late_date": date_column("Late case"),
    "miss_risk": st.column_config.ProgressColumn(
        "Risk", help=RISK_HELP, min_value=0.0, max_value=1.0, format="percent"
    ),
    "risk": "Band",
    "reason": st.column_config.TextColumn("Why this date", width="large"),
}


def _value_chart(by_customer: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(by_customer)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", title="Open backorder value (€)"),
            y=alt.Y("customer:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            color=alt.Color(
                "risk:N",
                title="Risk",
                scale=alt.Scale(
                    domain=list(RISK_BANDS),
                    range=[ui.theme.ALERT, "#e69f00", ui.theme.PALETTE[0], "#9e9e9e"],
                ),
            ),
            tooltip=[
                alt.Tooltip("customer:N"),
                alt.Tooltip("risk:N"),
                alt.Tooltip("value:Q", format=",.2f"),
            ],
        )
        .properties(height=alt.Step(24))
    )


def backorders_tab() -> None:
    st.markdown("**Open backorders** — select one to offer a substitute.")
    position = standard_table(
        picked_rows.table,
        "mc_backorders",
        column_config=BACKORDER_TABLE,
        file_name="my_backorders",
        empty_message="None of your customers has an open backorder matching these filters.",
        select_row=True,
    )
    if shown.empty:
        return
    st.vega_lite_chart(spec=_value_spec(db, rep_id, filters), width="stretch")
    # The same choice without the table (keyboard users, narrow screens): only rows shown above.
    labels = picked_rows.labels
    picked = st.selectbox(
        "Offer a substitute for",
        list(labels),
        index=None,
        format_func=lambda b: labels.get(b, "?"),
        placeholder="Select a backorder in the table or here",
        key="mc_offer_for",
    )
    if position is not None:
        offer_substitute(shown.iloc[position])
    elif picked in labels:
        offer_substitute(shown[shown["backorder_id"] == picked].iloc[0])


def offer_substitute(row: pd.Series) -> None:
    st.subheader(f"Alternatives for {row['sku']} on {row['order_number']}")
    st.caption(
        f"{row['customer']} waits for {row['qty_open']} x {row['product']}, likely "
        f"{row['likely_date']} (late case {row['late_date']}): {row['reason']}"
    )
    ranked = _alternatives(
        db, int(row["product_id"]), int(row["customer_id"]), row["promised_date"]
    )
    if ranked.empty:
        empty_state(
            "The substitute model lists no alternative for this product.",
            "Alternatives serve the same use and add no allergen the original does not have.",
        )
        return
    st.dataframe(
        ranked,
        hide_index=True,
        column_config={
            "product_id": None,
            "sku": "SKU",
            "name": "Product",
            "price": money_column("Price"),
            "free": count_column("Available now"),
            "available_date": date_column("Available on"),
            "score": decimal_column(
                "Score",
                2,
                help="Substitute model points: available by the needed date, price close to "
                "the original's, margin, accepted by this customer before.",
            ),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
        key="mc_alternatives",
    )
    labels = dict(zip(ranked["product_id"], ranked["sku"] + " " + ranked["name"], strict=True))
    with st.form(f"mc_offer_{int(row['backorder_id'])}"):
        cols = st.columns([3, 1, 2])
        substitute = cols[0].selectbox(
            "Substitute", list(labels), format_func=lambda p: labels.get(p, "?"), key="mc_sub"
        )
        qty = cols[1].number_input(
            "Quantity",
            min_value=1,
            max_value=int(row["qty_open"]),
            value=int(row["qty_open"]),
            step=1,
            key="mc_sub_qty",
        )
        answer = cols[2].radio(
            "Customer's answer", ["Accepted", "Declined"], horizontal=True, key="mc_sub_answer"
        )
        sent = st.form_submit_button("Record the answer", type="primary")
    if sent:
        try:
            result = operations.swap_to_substitute(
                db,
                backorder_id=int(row["backorder_id"]),
                substitute_product_id=int(substitute),
                quantity=qty,
                accepted=answer == "Accepted",
                actor=user.username,
                sales_rep_id=rep_id,
            )
        except LarderError as err:
            error_state(err)
            return
        if result.accepted:
            st.session_state[FLASH_KEY] = (
                f"{row['order_number']}: {qty} x {labels[substitute]} instead of {row['sku']}; "
                f"{result.qty_reserved} reserved, {result.qty_backordered} on backorder."
            )
        else:
            st.session_state[FLASH_KEY] = (
                f"Recorded: {row['customer']} declined {labels[substitute]}."
            )
        st.rerun()


def customer_tab() -> None:
    if customers.empty:
        empty_state("You have no customers yet.")
        return
    customer_id = st.selectbox(
        "Customer",
        customers["customer_id"].tolist(),
        format_func=lambda c: names.get(c, "?"),
        key="mc_detail_customer",
    )
    card = _card(db, int(customer_id), rep_id)
    if card is None:  # not one of this representative's customers
        empty_state("No such customer among yours.")
        return
    st.markdown(
        f"**{card['name']}** ({card['code']}) · {card['tier']} · {card['segment']} · "
        f"{card['email'] or 'no e-mail'} · {card['phone'] or 'no phone'} · "
        f"prefers: {card['backorder_preference'].replace('_', ' ')}"
    )
    lines = _open_lines(db, int(card["customer_id"]), rep_id)
    standard_table(
        lines,
        "mc_open_orders",
        column_config={
            "order_id": None,
            "order_line_id": None,
            "product_id": None,
            "backorder_id": None,
            "order_number": "Order",
            "placed_at": datetime_column("Placed"),
            "order_status": "Order status",
            "priority": "Priority",
            "line_no": "Line",
            "ordered": count_column("Ordered"),
            "allocated": count_column("Allocated"),
            "backordered": count_column("Backordered"),
            "cancelled": count_column("Cancelled"),
            "shipped": count_column("Shipped"),
            "sku": "SKU",
            "product": "Product",
            "unit_price": money_column("Price"),
            "promised_date": date_column("Promised"),
            "likely_date": date_column("Likely"),
            "late_date": date_column("Late case"),
            "reason": st.column_config.TextColumn("Why this date", width="large"),
            "line_status": "Line status",
        },
        file_name=f"open_orders_{card['code']}",
        empty_message=f"{card['name']} has no open orders.",
    )
    if st.button(
        "Send an update",
        key="mc_send_update",
        icon=":material/mail:",
        help="Mails the customer every open backorder with its current likely and late-case "
        "date, and records the mail in their communications.",
    ):
        try:
            operations.send_backorder_update(
                db, customer_id=card["customer_id"], actor=user.username, sales_rep_id=rep_id
            )
        except LarderError as err:
            error_state(err)
            return
        st.session_state[FLASH_KEY] = f"Update queued for {card['name']} ({card['email']})."
        st.rerun()
    priority_order(card)


def parse_lines(text: str) -> list[tuple[str, int]]:
    """'SKU quantity' per line; a line that does not parse is refused by the write side."""
    lines = []
    for raw in text.splitlines():
        parts = raw.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[1].isdigit():
            raise operations.ValidationError(
                f"Write each line as a SKU and a whole quantity, e.g. 'DRY-00001 12', not {raw!r}."
            )
        lines.append((parts[0].upper(), int(parts[1])))
    return lines[: MAX_ORDER_LINES + 1]


def priority_order(card: dict) -> None:
    st.subheader("Order on the customer's behalf")
    text = st.text_area(
        "Lines (one per line: SKU quantity)", key="mc_order_lines", placeholder="DRY-00001 12"
    )
    urgent = st.toggle(
        "Priority order",
        key="mc_order_urgent",
        help="Marks the order urgent: its backorders earn the urgent points in the allocation "
        "queue and its pick tasks are flagged urgent.",
    )
    if not text.strip():
        return
    try:
        wanted = parse_lines(text)
    except LarderError as err:
        error_state(err)
        return
    products = desks.products_by_sku(db, [sku for sku, _ in wanted])
    known = products.set_index("sku")
    settings = desks.desk_settings(db)
    queue = desks.allocation_queue(db, products["product_id"].tolist())
    now = utcnow()
    rows = []
    for sku, qty in wanted:
        if sku not in known.index:
            rows.append({"SKU": sku, "Quantity": qty, "Note": "unknown SKU"})
            continue
        product = known.loc[sku]
        short = max(qty - int(product["free"]), 0)
        row = {"SKU": sku, "Quantity": qty, "Available": int(product["free"]), "Short": short}
        if short:
            for label, flag in (("normal", "normal"), ("priority", "urgent")):
                score, parts = operations.priority_score(
                    tier=card["tier"],
                    priority=flag,
                    days_waiting=0,
                    days_to_promise=None,
                    weights=settings["weights"],
                )
                ahead = queue_ahead(queue, int(product["product_id"]), score, settings, now)
                row[f"Score ({label})"] = score
                row[f"Units ahead ({label})"] = ahead
                if flag == "urgent":
                    row["Score parts (priority)"] = ", ".join(
                        f"{k} {v:g}" for k, v in parts.items()
                    )
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="mc_order_preview")
    st.caption(
        "Score parts: tier (gold full, silver half), urgent (priority orders), waiting "
        "(per day waited; 0 for a new order) and slack (near or past the promised date). "
        "Units ahead: open backordered units of other orders that the allocation queue serves "
        "before this order's shortage, without and with the priority flag."
    )
    confirm_large = LARGE.value()
    if st.button(
        "Place priority order" if urgent else "Place order",
        key="mc_place_order",
        type="primary",
    ):
        try:
            placed = operations.place_order(
                db,
                customer_id=card["customer_id"],
                lines=wanted,
                actor=user.username,
                priority="urgent" if urgent else "normal",
                channel="phone",
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
        st.session_state[FLASH_KEY] = f"Placed {placed.number} for {card['name']}."
        st.rerun()


def queue_ahead(queue: pd.DataFrame, product_id: int, score: float, settings: dict, now) -> int:
    """Open backordered units of ``product_id`` whose priority score beats ``score``."""
    waiting = queue[queue["product_id"] == product_id]
    ahead = 0
    for item in waiting.itertuples():
        other, _ = operations.priority_score(
            tier=item.tier,
            priority=item.priority,
            days_waiting=(now - item.created).total_seconds() / 86400,
            days_to_promise=None
            if pd.isna(item.promised_date)
            else (item.promised_date - now.date()).days,
            weights=settings["weights"],
        )
        if other >= score:  # ties go to the older backorder, which every queued one is
            ahead += int(item.qty_open)
    return ahead


backorders_view, customer_view = st.tabs(["Backorders", "Customer"])
with backorders_view:
    backorders_tab()
with customer_view:
    customer_tab()
