"""Stock control (warehouse manager): live stock, alerts, thresholds, backorders and KPIs."""

from __future__ import annotations

import dataclasses

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import CATEGORIES, SEGMENTS
from operations.errors import ConfirmationNeeded, LarderError
from queries import backorders as backorder_queries
from queries import kpis, stock
from ui.auth import require_role
from ui.components import (
    empty_state,
    error_state,
    kpi_tile,
    money,
    paged_table,
    pct,
    qty,
    show_success,
    standard_table,
    table_page,
    table_rows,
)
from ui.db import engine, live_read
from ui.format import (
    count_column,
    date_column,
    datetime_column,
    decimal_column,
    money_column,
    plain,
)
from ui.risk_list import risk_section
from ui.weekly_report import weekly_report_download

user = require_role("warehouse_manager")
db = engine()

FLASH_KEY = "stock_control_flash"
# (product id, message) when the write side asked to confirm unusually large thresholds
THRESHOLD_ASKED_KEY = "threshold_confirm_asked"
ALERTS_SHOWN = 4  # the most urgent first; the stock table must stay near the first screen
TABLE_HEIGHT = 420
TABLE_ROWS_BEFORE_SCROLL = 11
PAGE_ROWS = 50  # rows of the live stock table sent per refresh
# The sections below the KPIs. The open one is kept across reruns (a save stays on its tab), and
# the threshold editor sits one click away instead of below a table of every product.
TAB_KEY = "stock_tab"
TABS = ["Stock", "Thresholds", "Backorder report", "Trends"]
AGE_BUCKETS: dict[str, tuple[int | None, int | None]] = {
    "Any age": (None, None),
    "Up to 7 days": (None, 7),
    "8 to 14 days": (8, 14),
    "15 to 30 days": (15, 30),
    "Over 30 days": (31, None),
}
# "No filter" option of the select boxes (a None option renders as an empty placeholder).
ANY = "(any)"
STATUS_LABELS = {
    "backorders": "Backorders",
    "out": "Out of stock",
    "low": "Low",
    "ok": "OK",
}


def units(n: int) -> str:
    return f"{qty(n)} unit" if n == 1 else f"{qty(n)} units"


def chosen(value):
    """The filter value of a select box, None for "any"."""
    return None if value == ANY else value


# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------

# The stock position of a product: levels, open POs, open backorders, demand, its thresholds
# and the low-stock ratio setting.
STOCK_SUBJECTS = ("stock", "orders", "backorders", "purchasing", "catalogue", "settings")


@live_read(*STOCK_SUBJECTS)
def _overview(engine) -> pd.DataFrame:
    """Every active product, read once per version: the threshold editor chooses from it."""
    return stock.stock_overview(engine)


@live_read(*STOCK_SUBJECTS)
def _first_page(engine) -> stock.StockPage:
    """The stock table as it opens (every product, most urgent first): one statement gives its
    rows and the count per status, which the alerts, the KPIs and the status chart share."""
    return stock.stock_page(engine, limit=PAGE_ROWS)


@live_read(*STOCK_SUBJECTS)
def _alerts(engine) -> tuple[pd.DataFrame, dict[str, int]]:
    """The most urgent alerts and the number of alerts per status (what the summary shows)."""
    first = _first_page(engine)
    counts = {s: n for s, n in first.status_counts.items() if s != "ok" and n}
    urgent = first.rows[first.rows["status"] != "ok"].head(ALERTS_SHOWN)
    return urgent.reset_index(drop=True), counts


@live_read(*STOCK_SUBJECTS)
def _status_counts(engine) -> pd.DataFrame:
    counts = _first_page(engine).status_counts
    return pd.DataFrame({"status": list(counts), "products": list(counts.values())})


@live_read(*STOCK_SUBJECTS)
def _product_labels(engine) -> dict[int, str]:
    products = _overview(engine).sort_values("sku")
    return dict(
        zip(products["product_id"], products["sku"] + " — " + products["name"], strict=True)
    )


@live_read(*STOCK_SUBJECTS)
def _page(engine, category, supplier_id, status, search, sort, descending, offset):
    if (category, supplier_id, status, search, sort, descending, offset) == (
        None, None, None, None, "urgency", False, 0,
    ):  # fmt: skip
        return _first_page(engine)  # the page the alerts read anyway
    return stock.stock_page(
        engine,
        category=category,
        supplier_id=supplier_id,
        status=status,
        search=search,
        sort=sort,
        descending=descending,
        limit=PAGE_ROWS,
        offset=offset,
    )


@live_read(*STOCK_SUBJECTS)
def _table_page(engine, category, supplier_id, status, search, sort, descending, offset):
    """The page of :func:`_page` with its rows as the table sends them (labelled, in Arrow)."""
    page = _page(engine, category, supplier_id, status, search, sort, descending, offset)
    return dataclasses.replace(page, rows=table_rows(_labelled(page.rows)))


@live_read("orders")
def _rates(engine) -> dict:
    return {"backorder_rate": kpis.backorder_rate(engine), "fill_rate": kpis.fill_rate(engine)}


# A year of cost of goods over today's stock: one order cannot move it visibly, so it is
# re-read at most once a minute while orders come in.
@live_read("stock", "orders", "catalogue", settle_s=60)
def _turnover(engine):
    return kpis.inventory_turnover(engine)


@live_read("backorders")
def _open_backorders(engine):
    return kpis.open_backorders(engine)


@live_read("backorders", "orders", "customers", "catalogue")
def _report(engine, category, supplier_id, segment, min_age, max_age):
    return backorder_queries.backorder_report(
        engine,
        category=category,
        supplier_id=supplier_id,
        segment=segment,
        min_age_days=min_age,
        max_age_days=max_age,
    )


@live_read("orders", "catalogue")
def _trend(engine) -> pd.DataFrame:
    return kpis.backorder_rate_by_category_week(engine, weeks=12)


@live_read("catalogue")
def _suppliers(engine) -> dict[int, str]:
    return dict(stock.supplier_choices(engine).itertuples(index=False))


# --- Page ----------------------------------------------------------------------------------

refresh = stock.refresh_seconds(db)
suppliers = _suppliers(db)

st.title("Stock control")
st.caption(
    f"Live stock per product, refreshed every {refresh} seconds. "
    "Hover over a figure's title for its definition."
)
with st.sidebar:
    weekly_report_download(db, key="stock_weekly_report")

with st.sidebar:
    st.subheader("Stock filters")
    f_category = st.selectbox(
        "Category",
        [ANY, *CATEGORIES],
        format_func=lambda c: "All categories" if c == ANY else c,
        key="stock_category",
    )
    f_supplier = st.selectbox(
        "Supplier",
        [ANY, *suppliers],
        format_func=lambda s: "All suppliers" if s == ANY else suppliers.get(s, str(s)),
        key="stock_supplier",
    )
    f_status = st.selectbox(
        "Status",
        [ANY, *stock.STOCK_STATUSES],
        format_func=lambda s: "Any status" if s == ANY else STATUS_LABELS[s],
        key="stock_status",
    )
    f_search = st.text_input(
        "Search SKU or name", key="stock_search", placeholder="e.g. flour"
    ).strip()


def _kpi_row(alerted: int) -> None:
    values = {**_rates(db), "turnover": _turnover(db), "open_backorders": _open_backorders(db)}
    tiles = st.columns(5)
    with tiles[0]:
        k = values["backorder_rate"]
        kpi_tile(k.label, k.value, k.help, fmt=pct)
    with tiles[1]:
        k = values["fill_rate"]
        kpi_tile(k.label, k.value, k.help, fmt=pct)
    with tiles[2]:
        k = values["turnover"]
        kpi_tile(k.label, k.value, k.help, fmt=lambda x: "—" if x is None else f"{x:.1f}x")
    with tiles[3]:
        waiting = values["open_backorders"]
        kpi_tile(
            "Open backorders",
            waiting.lines,
            f"{waiting.help} Now: {units(waiting.units)}.",
        )
    with tiles[4]:
        kpi_tile(
            "Low-stock products",
            alerted,
            "Active products with status backorders, out of stock or low "
            "(available at or below the reorder point x the low-stock ratio setting).",
        )


def _alert_list(urgent: pd.DataFrame, counts: dict[str, int]) -> None:
    alerted = sum(counts.values())
    if not alerted:
        st.success("No product is below its threshold.", icon=":material/check_circle:")
        return
    summary = ", ".join(
        f"{qty(counts[s])} {STATUS_LABELS[s].lower()}" for s in stock.STOCK_STATUSES if s in counts
    )
    with st.expander(f"Low-stock alerts: {qty(alerted)} products ({summary})", expanded=True):
        for row in urgent.itertuples(index=False):
            waiting = f", {units(row.backordered)} on backorder" if row.backordered else ""
            st.markdown(
                f"**{plain(row.sku)}** {plain(row.name)} — {STATUS_LABELS[row.status]}: "
                f"{qty(row.available)} available (reorder point {qty(row.reorder_point)}), "
                f"{qty(row.on_order)} on order{waiting}"
            )
        if alerted > ALERTS_SHOWN:
            st.caption(
                f"and {qty(alerted - ALERTS_SHOWN)} more: filter the table by status to see them."
            )


# What the warehouse manager looks at first comes first; the SKU stays pinned while scrolling.
STOCK_COLUMNS = {
    "sku": st.column_config.TextColumn("SKU", pinned=True),
    "name": st.column_config.TextColumn("Product", width="medium"),
    "available": count_column("Available"),
    "backordered": count_column("Backordered"),
    "days_of_cover": decimal_column(
        "Days of cover", help="Available / demand per day; blank without demand"
    ),
    "status": st.column_config.TextColumn("Status", help="; ".join(
        f"{STATUS_LABELS[s]}: {h}" for s, h in stock.STATUS_HELP.items()
    )),
    "reorder_point": count_column("Reorder point"),
    "safety_stock": count_column("Safety stock"),
    "order_up_to": count_column("Order-up-to"),
    "on_order": count_column("On order", help="Open PO lines"),
    "on_hand": count_column("On hand"),
    "reserved": count_column("Reserved"),
    "avg_daily_demand": decimal_column(
        "Demand/day", help="Average units asked per day, last 28 days"
    ),
    "category": st.column_config.TextColumn("Category"),
    "supplier": st.column_config.TextColumn("Supplier"),
}  # fmt: skip


@st.fragment(run_every=refresh)
def live_summary() -> None:
    """KPIs and alerts; re-read only when stock, orders, backorders or POs change."""
    urgent, counts = _alerts(db)
    _kpi_row(sum(counts.values()))
    _alert_list(urgent, counts)


def _labelled(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(status=table["status"].map(STATUS_LABELS))[list(STOCK_COLUMNS)]


@st.fragment(run_every=refresh)
def live_stock() -> None:
    """One page of the stock table, filtered, sorted and cut in the database."""
    filters = (chosen(f_category), chosen(f_supplier), chosen(f_status), f_search or None)
    sort, descending, offset = table_page("stock_table", stock.STOCK_SORTS, filters, rows=PAGE_ROWS)
    page = _table_page(db, *filters, sort, descending, offset)

    def export() -> pd.DataFrame:  # every row the filters match, read when a download is asked
        category, supplier_id, status, search = filters
        return _labelled(
            stock.stock_overview(
                db, category=category, supplier_id=supplier_id, status=status, search=search
            )
        )

    paged_table(
        page.rows,
        key="stock_table",
        total=page.total,
        offset=page.offset,
        export=export,
        column_config=STOCK_COLUMNS,
        file_name="stock",
        empty_message="No product matches these filters.",
        empty_hint="Clear a filter in the sidebar to see more products.",
        rows=PAGE_ROWS,
        # A fixed height only when there are many rows; a short list stays compact.
        height=TABLE_HEIGHT if len(page.rows) > TABLE_ROWS_BEFORE_SCROLL else "auto",
    )


# The dates and the reason come right after what is waiting; the order and SKU stay pinned.
REPORT_COLUMNS = {
    "order_number": st.column_config.TextColumn("Order", pinned=True),
    "sku": st.column_config.TextColumn("SKU", pinned=True),
    "product": st.column_config.TextColumn("Product"),
    "qty_open": count_column("Open qty"),
    "estimated_date": date_column("Expected"),
    "late_case_date": date_column("Late case"),
    "reason": st.column_config.TextColumn("Waits on", width="medium"),
    "value_at_risk": money_column("Value at risk"),
    "customer": st.column_config.TextColumn("Customer"),
    "age_days": count_column("Age (days)"),
    "promised_date": date_column("Promised"),
    "created": datetime_column("Created"),
    "segment": st.column_config.TextColumn("Segment"),
    "category": st.column_config.TextColumn("Category"),
    "supplier": st.column_config.TextColumn("Supplier"),
}


@st.fragment(run_every=refresh)
def backorder_report() -> None:
    """The backorder report with its own filters, live like the stock table."""
    left, mid, right, far = st.columns(4)
    category = left.selectbox(
        "Category",
        [ANY, *CATEGORIES],
        format_func=lambda c: "All categories" if c == ANY else c,
        key="report_category",
    )
    supplier = mid.selectbox(
        "Supplier",
        [ANY, *suppliers],
        format_func=lambda s: "All suppliers" if s == ANY else suppliers.get(s, str(s)),
        key="report_supplier",
    )
    segment = right.selectbox(
        "Customer segment",
        [ANY, *SEGMENTS],
        format_func=lambda s: "All segments" if s == ANY else s,
        key="report_segment",
    )
    age = far.selectbox("Age", list(AGE_BUCKETS), key="report_age")
    min_age, max_age = AGE_BUCKETS[age]
    report = _report(
        db,
        chosen(category),
        chosen(supplier),
        chosen(segment),
        min_age,
        max_age,
    )
    if not report.empty:
        st.markdown(
            f"**{qty(len(report))}** open backorders, **{qty(report['qty_open'].sum())}** units, "
            f"**{money(report['value_at_risk'].sum())}** of orders waiting."
        )
    # Dates as datetimes, so a missing estimate shows blank instead of "None".
    dates = {
        c: pd.to_datetime(report[c]) for c in ("promised_date", "estimated_date", "late_case_date")
    }
    standard_table(
        report.assign(**dates)[list(REPORT_COLUMNS)],
        key="backorder_table",
        column_config=REPORT_COLUMNS,
        file_name="backorders",
        empty_message="No open backorder matches these filters.",
        empty_hint="That is good news, or a filter is too narrow.",
    )


def threshold_editor() -> None:
    """Pick a product, change its reorder point, safety stock and order-up-to level."""
    show_success(FLASH_KEY)
    labels = _product_labels(db)
    product_id = st.selectbox(
        "Product",
        list(labels),
        index=None,
        format_func=lambda p: labels.get(p, str(p)),
        placeholder="Choose a product",
        key="threshold_product",
    )
    if product_id is None:
        st.caption("Choose a product to see and change its thresholds.")
        return
    current = stock.product_thresholds(db, product_id)
    if current is None:
        empty_state("That product no longer exists.")
        return
    with st.form(f"thresholds_{product_id}", border=True):
        st.markdown(f"**{plain(labels[product_id])}**")
        cols = st.columns(3)
        # Float inputs: the widget must not round 1.5 to 1 unseen; the write side refuses it.
        reorder_point = cols[0].number_input(
            "Reorder point", value=float(current["reorder_point"]), step=1.0, format="%g",
            key=f"threshold_rp_{product_id}",
            help="Order more when available stock falls to this level.",
        )  # fmt: skip
        safety_stock = cols[1].number_input(
            "Safety stock", value=float(current["safety_stock"]), step=1.0, format="%g",
            key=f"threshold_ss_{product_id}",
            help="Buffer against demand and lead-time surprises (part of the reorder point).",
        )  # fmt: skip
        order_up_to = cols[2].number_input(
            "Order-up-to level", value=float(current["order_up_to"]), step=1.0, format="%g",
            key=f"threshold_out_{product_id}",
            help="Purchase orders top stock up to this level.",
        )  # fmt: skip
        asked = st.session_state.get(THRESHOLD_ASKED_KEY)
        confirm_large = False
        if asked and asked[0] == product_id:
            st.warning(asked[1], icon=":material/warning:")
            confirm_large = st.checkbox(
                "Yes, these levels are right: save them",
                key=f"threshold_confirm_{product_id}",
            )
        saved = st.form_submit_button("Save thresholds", type="primary")
    if saved:
        try:
            operations.set_thresholds(
                db,
                product_id=product_id,
                reorder_point=reorder_point,
                safety_stock=safety_stock,
                order_up_to=order_up_to,
                actor=user.username,
                confirm_large=confirm_large,
            )
        except ConfirmationNeeded as err:
            if not (asked and asked[0] == product_id):
                # The form shows the question with a confirmation box from the next run on.
                st.session_state[THRESHOLD_ASKED_KEY] = (product_id, err.message)
                st.rerun()
            error_state(err)
            return
        except LarderError as err:
            error_state(err)
            return
        st.session_state.pop(THRESHOLD_ASKED_KEY, None)
        st.session_state[FLASH_KEY] = (
            f"Saved thresholds of {current['sku']}: reorder point {qty(reorder_point)}, "
            f"safety stock {qty(safety_stock)}, order-up-to {qty(order_up_to)}."
        )
        st.rerun()


def trends() -> None:
    weekly = _trend(db)
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Backorder rate by category and week, last 12 weeks**")
        if weekly.empty:
            empty_state("No orders in the last 12 weeks.")
        else:
            # A heatmap, not eight crossing lines: one row per category stays readable.
            weekly = weekly.assign(week=weekly["week_ending"].dt.strftime("%d %b"))
            weeks = list(dict.fromkeys(weekly.sort_values("week_ending")["week"]))
            chart = (
                alt.Chart(weekly)
                .mark_rect(stroke="white", strokeWidth=1)
                .encode(
                    # Every week labelled: slanted labels never overlap, so none is dropped.
                    x=alt.X(
                        "week:O",
                        title="Week ending",
                        sort=weeks,
                        axis=alt.Axis(labelAngle=-45, labelOverlap=False),
                    ),
                    y=alt.Y("category:N", title=None, axis=alt.Axis(labelLimit=220)),
                    color=alt.Color(
                        "rate:Q",
                        title="Backorder rate",
                        scale=alt.Scale(scheme="orangered", domainMin=0),
                        legend=alt.Legend(format="%"),
                    ),
                    tooltip=[
                        alt.Tooltip("category:N", title="Category"),
                        alt.Tooltip("week_ending:T", title="Week ending"),
                        alt.Tooltip("rate:Q", title="Backorder rate", format=".1%"),
                        alt.Tooltip("lines_short:Q", title="Short lines"),
                        alt.Tooltip("lines:Q", title="Lines"),
                    ],
                )
                .properties(height=alt.Step(30))
            )
            st.altair_chart(chart, width="stretch")
    with right:
        st.markdown("**Products by stock status**")
        counts = _status_counts(db)
        counts = counts.assign(label=counts["status"].map(STATUS_LABELS))
        chart = (
            alt.Chart(counts)
            .mark_bar()
            .encode(
                x=alt.X("products:Q", title="Products"),
                y=alt.Y(
                    "label:N",
                    title=None,
                    sort=list(STATUS_LABELS.values()),
                    axis=alt.Axis(labelOverlap=False),
                ),
                color=alt.Color(
                    "status:N",
                    legend=None,
                    scale=alt.Scale(
                        domain=list(STATUS_LABELS),
                        range=[ui.theme.ALERT, "#e69f00", "#f0c419", ui.theme.PALETTE[0]],
                    ),
                ),
                tooltip=[alt.Tooltip("label:N", title="Status"), alt.Tooltip("products:Q")],
            )
            .properties(height=alt.Step(40))
        )
        st.altair_chart(chart, width="stretch")


live_summary()
risk_section(db)

# Only the open tab is drawn: switching tabs reruns the page, so the others' reads and their
# live fragments cost nothing until the manager opens them.
stock_tab, thresholds_tab, report_tab, trends_tab = st.tabs(TABS, key=TAB_KEY, on_change="rerun")
if stock_tab.open:
    with stock_tab:
        live_stock()
if thresholds_tab.open:
    with thresholds_tab:
        threshold_editor()
if report_tab.open:
    with report_tab:
        backorder_report()
if trends_tab.open:
    with trends_tab:
        trends()
