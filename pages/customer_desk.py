"""Customer desk (customer service): find a customer or order, its timeline, calls and answers."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import CHANNELS
from operations.errors import LarderError
from queries import customer_desks as desks
from ui.auth import require_role
from ui.charts import vega_spec
from ui.components import empty_state, error_state, kpi_tile, pct, show_success, standard_table
from ui.db import engine, live_read
from ui.format import count_column, date_column, datetime_column, decimal_column, money_column

user = require_role("customer_service")
db = engine()

FLASH_KEY = "customer_desk_flash"
# Customer service sees every customer: no representative's filter.
EVERY_CUSTOMER = None
RISK_HELP = (
    "Likely is the estimate's median delivery date, late case its 90th percentile; the reason "
    "says what the date waits on."
)
LINE_TABLE = {
    "order_id": None,
    "order_number": None,
    "placed_at": None,
    "order_status": None,
    "priority": None,
    "order_line_id": None,
    "product_id": None,
    "backorder_id": None,
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
    "likely_date": date_column("Likely", help=RISK_HELP),
    "late_date": date_column("Late case", help=RISK_HELP),
    "reason": st.column_config.TextColumn("Why this date", width="large"),
    "line_status": "Status",
}


@live_read("customers", "orders")
def _kpis(engine, target: float) -> dict:
    return desks.service_kpis(engine, target_hours=target)


@live_read("customers", "orders")
def _trend_spec(engine, target: float) -> dict | None:
    """The service trend chart's spec with its rows (None when there is nothing to draw),
    made once per change of what it reads rather than hashed from its rows on every run."""
    weekly = desks.service_trend(engine, target_hours=target)
    return None if weekly.empty else vega_spec(_trend_chart(weekly))


@live_read("backorders", "customers", "orders")
def _find_customers(engine, text: str) -> pd.DataFrame:
    return desks.find_customers(engine, text, sales_rep_id=EVERY_CUSTOMER)


@live_read("backorders", "catalogue", "customers", "orders")
def _search(engine, text: str) -> pd.DataFrame:
    return desks.find_orders(engine, text, sales_rep_id=EVERY_CUSTOMER)


def hours(x) -> str:
    return "—" if x is None else f"{x:.1f} h"


def rating(x) -> str:
    return "—" if x is None else f"{x:.2f} / 5"


st.title("Customer desk")
show_success(FLASH_KEY)

target = desks.desk_settings(db)["response_target_hours"]
figures = _kpis(db, target)
window = f"the last {desks.KPI_WINDOW_DAYS} days"
cols = st.columns(5)
with cols[0]:
    kpi_tile(
        "Average response time",
        figures["avg_response_hours"],
        f"Mean time from an inbound question to its being marked answered, over questions that "
        f"came in during {window} and are answered ({figures['unanswered']} still open).",
        fmt=hours,
    )
with cols[1]:
    kpi_tile(
        "P90 response time",
        figures["p90_response_hours"],
        f"Nine in ten answered questions of {window} were answered within this time.",
        fmt=hours,
    )
with cols[2]:
    kpi_tile(
        "Answered within target",
        figures["within_target"],
        f"Share of answered questions of {window} answered within {target:g} hours (the "
        "setting response_target_hours).",
        fmt=pct,
    )
with cols[3]:
    kpi_tile(
        "Order cancellation rate",
        figures["cancellation_rate"],
        f"Orders placed in {window} that ended cancelled, as a share of all placed then.",
        fmt=pct,
    )
with cols[4]:
    kpi_tile(
        "Customer satisfaction",
        figures["csat"],
        f"Average CSAT (1-5) of every rating given in {window}.",
        fmt=rating,
    )

search = st.text_input(
    "Find a customer or order",
    key="cd_search",
    placeholder="Name, customer code, order number, SKU, phone or e-mail",
    help="Case does not matter and part of a word is enough; spaces and dashes in phone "
    "numbers are ignored.",
)


def order_view(order: dict) -> None:
    st.subheader(f"{order['number']} · {order['customer']} ({order['customer_code']})")
    st.caption(
        f"Placed {order['placed_at']:%Y-%m-%d %H:%M} · status {order['status']} · priority "
        f"{order['priority']} · {order['phone'] or 'no phone'} · {order['email'] or 'no e-mail'}"
    )
    lines = desks.open_order_lines(db, order_id=order["order_id"], sales_rep_id=EVERY_CUSTOMER)
    standard_table(lines, "cd_lines", column_config=LINE_TABLE, file_name=order["number"])
    lines_tab, timeline_tab, messages_tab, cancel_tab = st.tabs(
        ["Alternatives", "Timeline", "Calls and messages", "Cancel"]
    )
    with lines_tab:
        alternatives(order, lines)
    with timeline_tab:
        timeline = desks.order_timeline(db, order["order_id"], sales_rep_id=EVERY_CUSTOMER)
        standard_table(
            timeline,
            "cd_timeline",
            column_config={
                "at": datetime_column("When"),
                "event": "What",
                "detail": st.column_config.TextColumn("Detail", width="large"),
            },
            file_name=f"{order['number']}_timeline",
        )
    with messages_tab:
        messages(int(order["customer_id"]), int(order["order_id"]))
    with cancel_tab:
        cancel(order, lines)


def alternatives(order: dict, lines: pd.DataFrame) -> None:
    waiting = lines[lines["backorder_id"].notna() & (lines["backordered"] > 0)]
    if waiting.empty:
        empty_state("No line of this order is waiting on a backorder.")
        return
    labels = {
        int(r.order_line_id): f"Line {r.line_no}: {r.backordered} x {r.sku} {r.product}"
        for r in waiting.itertuples()
    }
    line_id = st.selectbox("Backordered line", list(labels), format_func=labels.get, key="cd_alt")
    row = waiting[waiting["order_line_id"] == line_id].iloc[0]
    ranked = desks.ranked_alternatives(
        db,
        product_id=int(row["product_id"]),
        customer_id=int(order["customer_id"]),
        needed_date=row["promised_date"],
    )
    standard_table(
        ranked,
        "cd_alternatives",
        column_config={
            "product_id": None,
            "sku": "SKU",
            "name": "Product",
            "price": money_column("Price"),
            "free": count_column("Available now"),
            "available_date": date_column("Available on"),
            "score": decimal_column("Score", 2),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
        file_name="alternatives",
        empty_message="The substitute model lists no alternative for this product.",
    )


def messages(customer_id: int, order_id: int | None) -> None:
    with st.form("cd_record", clear_on_submit=True):
        cols = st.columns([1, 1, 3])
        channel = cols[0].selectbox("Channel", CHANNELS, key="cd_channel")
        direction = cols[1].radio("Direction", ["inbound", "outbound"], key="cd_direction")
        subject = cols[2].text_input("Subject", key="cd_subject", max_chars=200)
        body = st.text_area("Notes", key="cd_body")
        recorded = st.form_submit_button("Record", type="primary")
    if recorded:
        try:
            operations.record_communication(
                db,
                actor=user.username,
                channel=channel,
                direction=direction,
                subject=subject,
                body=body,
                customer_id=customer_id,
                order_id=order_id,
            )
        except LarderError as err:
            error_state(err)
            return
        st.session_state[FLASH_KEY] = f"Recorded the {direction} {channel}: {subject}."
        st.rerun()
    history = desks.customer_messages(db, customer_id, sales_rep_id=EVERY_CUSTOMER)
    open_questions = history[(history["direction"] == "inbound") & history["answered_at"].isna()]
    for question in open_questions.itertuples():
        cols = st.columns([4, 1])
        cols[0].markdown(
            f"Open question, {question.created_at:%Y-%m-%d %H:%M} ({question.channel}): "
            f"**{question.subject}**"
        )
        if cols[1].button("Mark answered", key=f"cd_answer_{question.communication_id}"):
            try:
                operations.mark_answered(
                    db, communication_id=int(question.communication_id), actor=user.username
                )
            except LarderError as err:
                error_state(err)
                return
            st.session_state[FLASH_KEY] = f"Answered: {question.subject}."
            st.rerun()
    standard_table(
        history,
        "cd_messages",
        column_config={
            "communication_id": None,
            "created_at": datetime_column("When"),
            "answered_at": datetime_column("Answered"),
            "response_hours": decimal_column("Response (h)"),
            "order_number": "Order",
        },
        file_name="messages",
        empty_message="No calls or messages recorded with this customer yet.",
    )


def cancel(order: dict, lines: pd.DataFrame) -> None:
    open_lines = lines[lines["line_status"] != "cancelled"]
    labels = {0: "The whole order"} | {
        int(r.order_line_id): f"Line {r.line_no}: {r.sku} {r.product}"
        for r in open_lines.itertuples()
    }
    with st.form("cd_cancel"):
        what = st.selectbox("Cancel", list(labels), format_func=labels.get, key="cd_cancel_what")
        reason = st.text_input("Reason", key="cd_cancel_reason", max_chars=200)
        confirmed = st.form_submit_button("Cancel it")
    if confirmed:
        try:
            if what == 0:
                operations.cancel_order(
                    db, order_id=int(order["order_id"]), actor=user.username, reason=reason
                )
            else:
                operations.cancel_line(
                    db, order_line_id=int(what), actor=user.username, reason=reason
                )
        except LarderError as err:
            error_state(err)
            return
        st.session_state[FLASH_KEY] = f"Cancelled {labels[what].lower()} of {order['number']}."
        st.rerun()


def customer_view(customer_id: int) -> None:
    card = desks.customer_in_scope(db, customer_id, sales_rep_id=EVERY_CUSTOMER)
    if card is None:
        empty_state("No such customer.")
        return
    st.subheader(f"{card['name']} ({card['code']})")
    st.caption(
        f"{card['tier']} · {card['segment']} · {card['phone'] or 'no phone'} · "
        f"{card['email'] or 'no e-mail'} · prefers {card['backorder_preference'].replace('_', ' ')}"
    )
    lines = desks.open_order_lines(db, customer_id=customer_id, sales_rep_id=EVERY_CUSTOMER)
    shown = LINE_TABLE | {"order_number": "Order"}
    standard_table(
        lines,
        "cd_customer_lines",
        column_config=shown,
        file_name=f"open_orders_{card['code']}",
        empty_message=f"{card['name']} has no open orders.",
    )
    st.markdown("**Calls and messages**")
    messages(customer_id, None)


def trend() -> None:
    spec = _trend_spec(db, target)
    if spec is None:
        empty_state("No questions, orders or ratings in the last weeks.")
        return
    st.vega_lite_chart(spec=spec)


def _trend_chart(weekly: pd.DataFrame) -> alt.FacetChart:
    return (
        alt.Chart(weekly)
        .mark_line(point=True)
        .encode(
            x=alt.X("week_ending:T", title="Week ending"),
            # Trailing zeros trimmed: a week of no cancellations reads 0, not 0.000000.
            y=alt.Y("value:Q", title=None, axis=alt.Axis(format="~r")),
            tooltip=[
                alt.Tooltip("week_ending:T", title="Week ending"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("value:Q", format=".2f"),
            ],
        )
        .properties(height=110, width=640)
        .facet(
            row=alt.Row(
                "measure:N",
                title=None,
                header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top"),
            ),
            spacing=28,
        )
        .resolve_scale(y="independent")
    )


if search.strip():
    customers = _find_customers(db, search.strip())
    customer_position = None
    if not customers.empty:
        st.markdown(f"**Customers matching “{search.strip()}”** — select one to open it.")
        customer_position = standard_table(
            customers,
            "cd_customers",
            column_config={
                "customer_id": None,
                "code": "Code",
                "name": "Customer",
                "tier": "Tier",
                "phone": "Phone",
                "email": "E-mail",
            },
            file_name="customers",
            select_row=True,
        )
    found = _search(db, search.strip())
    st.markdown(f"**Orders matching “{search.strip()}”** — select one to open it.")
    position = standard_table(
        found,
        "cd_results",
        column_config={
            "order_id": None,
            "customer_id": None,
            "order_number": "Order",
            "placed_at": datetime_column("Placed"),
            "status": "Status",
            "customer_code": "Code",
            "customer": "Customer",
            "phone": "Phone",
            "email": "E-mail",
        },
        file_name="search",
        empty_message="No order matches."
        if not customers.empty
        else "No customer or order matches.",
        empty_hint="Try part of the name, the order number (SO-…), a SKU, phone or e-mail.",
        select_row=True,
    )
    if position is None and len(found) == 1:
        position = 0
    chosen = None
    if position is not None:
        chosen = int(found.iloc[position]["order_id"])
    elif not found.empty:
        labels = {
            int(r.order_id): f"{r.order_number} · {r.customer} · {r.status}"
            for r in found.itertuples()
        }
        chosen = st.selectbox(
            "Open order",
            list(labels),
            index=None,
            format_func=lambda o: labels.get(o, "?"),
            placeholder="Select an order in the table or here",
            key="cd_open_order",
        )
        chosen = chosen if chosen in labels else None
    if chosen is not None:
        order = desks.order_in_scope(db, chosen, sales_rep_id=EVERY_CUSTOMER)
        if order is not None:
            st.divider()
            order_view(order)
    elif customer_position is not None:
        st.divider()
        customer_view(int(customers.iloc[customer_position]["customer_id"]))

st.divider()
st.markdown("**Weekly trend**")
trend()
