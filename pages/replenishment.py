"""Replenishment (purchasing manager): low stock, drafted POs, late POs and suppliers' record."""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import CHANNELS, utcnow
from operations.errors import LarderError
from queries import purchasing
from ui import kept_edits
from ui.auth import require_role
from ui.charts import conditional
from ui.components import (
    ShownTable,
    empty_state,
    error_state,
    kpi_tile,
    money,
    qty,
    remember_success,
    show_success,
    shown_table,
    standard_table,
    waiting_backorders_rows,
    waiting_backorders_table,
)
from ui.db import engine, live_read
from ui.format import count_column, date_column, datetime_column, decimal_column, money_column

user = require_role("purchasing_manager")
db = engine()

FLASH_KEY = "replen_flash"
ANY = "(any)"
CHANNEL_LABELS = {"phone": "Phone call", "email": "Mail", "sms": "Text message",
                  "in_app": "In-app message", "portal": "Supplier portal"}  # fmt: skip
STATUS_LABELS = {"draft": "Draft", "approved": "Approved", "sent": "Sent",
                 "partially_received": "Partly received"}  # fmt: skip


def chosen(value):
    return None if value == ANY else value


def days_text(x) -> str:
    """Mean days as text; under a day in hours (buyers often send within the hour)."""
    if x is None or pd.isna(x):
        return "—"
    return f"{x * 24:.1f} hours" if x < 1 else f"{x:.1f} days"


# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


@live_read("catalogue", "models", "purchasing")
def _record(engine) -> purchasing.LeadTimeRecord:
    return purchasing.lead_time_record(engine)


@live_read("models")
def _forecast(engine) -> purchasing.ForecastPerDay:
    """Forecast demand per day per product: kept until a new model run, not re-read per order."""
    return purchasing.forecast_per_day(engine)


@live_read("backorders", "catalogue", "models", "orders", "purchasing", "settings", "stock")
def _inbox(engine) -> pd.DataFrame:
    return purchasing.low_stock_inbox(engine, record=_record(engine), forecast=_forecast(engine))


@live_read("backorders", "catalogue", "models", "orders", "purchasing", "settings", "stock")
def _inbox_table(engine, supplier_id: int | None) -> ShownTable:
    """The low-stock table as the tab shows it (of one supplier when given)."""
    inbox = _inbox(engine)
    if supplier_id is not None:
        inbox = inbox[inbox["supplier_id"] == supplier_id]
    return shown_table(inbox, INBOX_COLUMNS)


@live_read("backorders", "catalogue", "models", "orders", "purchasing", "settings", "stock")
def _drafts(engine) -> pd.DataFrame:
    return purchasing.draft_purchase_orders(
        engine, record=_record(engine), forecast=_forecast(engine)
    )


@live_read("backorders", "catalogue", "customers", "models", "purchasing")
def _open_pos(engine) -> pd.DataFrame:
    return purchasing.late_and_at_risk(engine, include_all=True, record=_record(engine))


@live_read("catalogue", "models", "purchasing")
def _scorecard(engine) -> pd.DataFrame:
    return purchasing.supplier_scorecard(engine, record=_record(engine))


@live_read("purchasing")
def _lead_kpi(engine) -> purchasing.PurchasingLeadTime:
    return purchasing.purchasing_lead_time(engine)


@live_read("catalogue")
def _suppliers(engine) -> pd.DataFrame:
    return purchasing.supplier_contacts(engine)


@live_read("catalogue")
def _carriers(engine) -> pd.DataFrame:
    return purchasing.carrier_choices(engine)


@live_read("catalogue", "purchasing")
def _line_choices(engine, po_id: int) -> pd.DataFrame:
    return purchasing.purchase_order_choices(engine, po_id)


@live_read("backorders", "catalogue", "customers", "orders")
def _waiting_on(engine, po_id: int) -> ShownTable:
    return waiting_backorders_rows(purchasing.backorders_waiting_on(engine, po_id))


# --- Page ----------------------------------------------------------------------------------

suppliers = _suppliers(db)
supplier_names = dict(zip(suppliers["id"], suppliers["name"], strict=True))

st.title("Replenishment")
st.caption(
    "Low stock, the purchase orders Larder drafted and why, late orders and each supplier's "
    "record. Hover over a figure's title for its definition."
)
show_success(FLASH_KEY)

with st.sidebar:
    st.subheader("Replenishment filters")
    f_supplier = st.selectbox(
        "Supplier",
        [ANY, *supplier_names],
        format_func=lambda s: "All suppliers" if s == ANY else supplier_names.get(s, str(s)),
        key="replen_supplier",
    )

inbox = _inbox(db)
drafts = _drafts(db)
open_pos = _open_pos(db)
if chosen(f_supplier) is not None:
    inbox = inbox[inbox["supplier_id"] == f_supplier]
    drafts = drafts[drafts["supplier_id"] == f_supplier]
    open_pos = open_pos[open_pos["supplier_id"] == f_supplier]
at_risk = open_pos[open_pos["overdue"] | open_pos["predicted_late"]]
lead = _lead_kpi(db)

tiles = st.columns(5)
with tiles[0]:
    kpi_tile(
        "Below reorder point",
        len(inbox),
        "Active products whose available stock is below their reorder point.",
    )
with tiles[1]:
    draft_pos = drafts[drafts["status"] == "draft"]
    kpi_tile(
        "Drafts to review",
        draft_pos["po_id"].nunique(),
        f"Purchase orders drafted and not yet approved; worth {money(draft_pos['line_value'].sum())}.",
    )
with tiles[2]:
    kpi_tile(
        "Late or at risk",
        len(at_risk),
        "Open purchase orders past their expected date, or that the supplier's record "
        "(usual delay, P50) says will come late.",
    )
with tiles[3]:
    kpi_tile(
        "Need to PO sent",
        lead.need_to_sent_days,
        f"{lead.help} ({qty(lead.sent_pos)} POs sent.)",
        fmt=days_text,
    )
with tiles[4]:
    kpi_tile(
        "PO sent to received",
        lead.sent_to_received_days,
        f"{lead.help} ({qty(lead.received_pos)} POs received.)",
        fmt=days_text,
    )

# Session keys of what the buyer has not saved yet (ui.kept_edits): grid edits by PO line and
# by PO, and the POs chosen on the two tabs.
KEPT_LINES = "replen_kept_lines"
KEPT_DATES = "replen_kept_dates"
KEPT_PO = "replen_kept_po"
KEPT_LATE_PO = "replen_kept_late_po"

inbox_tab, drafts_tab, late_tab, suppliers_tab = st.tabs(
    ["Low stock", "Drafted POs", "Late & at risk", "Suppliers"],
    # A key and a rerun keep the chosen tab through the reruns of saving and approving.
    key="replen_tab",
    on_change="rerun",
)

INBOX_COLUMNS = {
    "sku": st.column_config.TextColumn("SKU"),
    "name": st.column_config.TextColumn("Product", width="medium"),
    "supplier": st.column_config.TextColumn("Supplier"),
    "available": count_column("Available"),
    "on_order": count_column("On order", help="Open PO lines"),
    "reorder_point": count_column("Reorder point"),
    "days_of_cover": decimal_column(
        "Days of cover", help="Available / demand per day (last 28 days)"
    ),
    "lead_days": count_column(
        "Lead time (days)", help="The supplier's learned P50, else the quoted time"
    ),
    "demand_over_lead": decimal_column(
        "Demand over lead time", 0, help="Forecast demand per day x lead time"
    ),
    "backorders": count_column("Backorders waiting"),
    "backordered": count_column("Units waiting"),
    "demand_basis": st.column_config.TextColumn("Demand from"),
}


def low_stock() -> None:
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.markdown(
        f"**{qty(len(inbox))}** products below their reorder point, "
        f"**{qty(inbox['backordered'].sum())}** units on backorder waiting for them."
    )
    if right.button("Redraft POs now", key="replen_redraft", icon=":material/refresh:"):
        try:
            changed = operations.draft_purchase_orders(db, actor=user.username)
        except LarderError as err:
            error_state(err)
            return
        remember_success(
            FLASH_KEY,
            f"Drafting ran: {len(changed)} purchase order(s) changed."
            if changed
            else "Drafting ran: nothing new to order (what is needed is already on order).",
        )
    standard_table(
        _inbox_table(db, None if chosen(f_supplier) is None else int(f_supplier)),
        key="replen_inbox",
        column_config=INBOX_COLUMNS,
        file_name="low_stock",
        empty_message="No product is below its reorder point.",
    )


LINE_COLUMNS = {
    "sku": st.column_config.TextColumn("SKU", disabled=True),
    "product": st.column_config.TextColumn("Product", disabled=True, width="medium"),
    "qty": count_column("Quantity", step=1, help="Whole packs, at least the minimum order"),
    "pack_size": count_column("Pack", disabled=True),
    "min_order_qty": count_column("Minimum", disabled=True),
    "unit_cost": money_column("Unit cost", disabled=True),
    "line_value": money_column("Value", disabled=True),
    "remove": st.column_config.CheckboxColumn("Remove", help="Tick to take the line off"),
    "reason": st.column_config.TextColumn("Why this quantity", disabled=True, width="large"),
}


def _po_summary(lines: pd.DataFrame) -> pd.DataFrame:
    summary = (
        lines.groupby(["supplier", "po_id", "po_number", "status"], as_index=False)
        .agg(lines=("po_line_id", "count"), value=("line_value", "sum"))
        .sort_values(["supplier", "po_number"])
    )
    return summary


def drafted_pos() -> None:
    if drafts.empty:
        empty_state(
            "No purchase order waits for review.",
            "Redraft on the Low stock tab to order what has fallen below its reorder point.",
        )
        return
    summary = _po_summary(drafts)
    st.markdown(
        f"**{qty(len(summary))}** purchase orders from **{qty(summary['supplier'].nunique())}** "
        f"suppliers, worth **{money(summary['value'].sum())}**."
    )
    standard_table(
        summary.assign(status=summary["status"].map(STATUS_LABELS)).drop(columns="po_id"),
        key="replen_po_summary",
        column_config={
            "supplier": st.column_config.TextColumn("Supplier"),
            "po_number": st.column_config.TextColumn("PO"),
            "status": st.column_config.TextColumn("Status"),
            "lines": count_column("Lines"),
            "value": money_column("Value"),
        },
        file_name="drafted_pos",
    )
    labels = {
        row.po_id: f"{row.supplier} — {row.po_number} ({STATUS_LABELS[row.status].lower()}, "
        f"{row.lines} lines, {money(row.value)})"
        for row in summary.itertuples(index=False)
    }
    po_id = st.selectbox(
        "Purchase order to work on",
        list(labels),
        index=kept_edits.kept_index(KEPT_PO, list(labels)),
        format_func=lambda p: labels.get(p, str(p)),
        key="replen_po",
    )
    if po_id is None:
        return
    st.session_state[KEPT_PO] = po_id
    lines = drafts[drafts["po_id"] == po_id].reset_index(drop=True)
    status = lines["status"].iloc[0]
    number = lines["po_number"].iloc[0]
    supplier_id = int(lines["supplier_id"].iloc[0])
    if status == "draft":
        _edit_draft(po_id, number, lines)
    else:
        st.dataframe(
            lines[[c for c in LINE_COLUMNS if c != "remove"]],
            hide_index=True,
            column_config=LINE_COLUMNS,
            key=f"replen_lines_ro_{po_id}",
        )
        _send_form(po_id, number, supplier_id)


def _edit_draft(po_id: int, number: str, lines: pd.DataFrame) -> None:
    st.markdown(f"**{number}**: change quantities or tick lines to remove, then save.")
    editor_key = f"replen_lines_{po_id}"
    line_ids = [int(i) for i in lines["po_line_id"]]
    shown = kept_edits.with_kept(
        lines.assign(remove=False)[list(LINE_COLUMNS)], KEPT_LINES, line_ids
    )
    st.data_editor(
        shown,
        hide_index=True,
        column_config=LINE_COLUMNS,
        key=editor_key,
        num_rows="fixed",
        on_change=kept_edits.keep,
        args=(editor_key, KEPT_LINES, line_ids),
    )
    with st.expander("Why these quantities", expanded=True):
        st.markdown(
            "\n".join(f"- **{row.sku}** ({qty(row.qty)}): {row.reason}"
                      for row in lines.itertuples(index=False))
        )  # fmt: skip
    cols = st.columns([1, 1, 3])
    if cols[0].button("Save changes", key=f"replen_save_{po_id}", type="primary"):
        kept_edits.keep(editor_key, KEPT_LINES, line_ids)
        quantities, removals = {}, []
        for line_id, change in kept_edits.kept_for(KEPT_LINES, line_ids).items():
            if change.get("remove"):
                removals.append(line_id)
            elif "qty" in change:
                quantities[line_id] = change["qty"]
        if not quantities and not removals:
            st.info("Nothing changed: edit a quantity or tick a line first.")
        else:
            try:
                if quantities:
                    operations.update_po_lines(
                        db, po_id=po_id, quantities=quantities, actor=user.username
                    )
                for line_id in removals:
                    operations.remove_po_line(db, po_line_id=line_id, actor=user.username)
            except LarderError as err:
                error_state(err)
            else:
                kept_edits.forget(KEPT_LINES, line_ids)
                remember_success(
                    FLASH_KEY,
                    f"Saved {number}: {len(quantities)} quantity change(s), "
                    f"{len(removals)} line(s) removed.",
                )
    if cols[1].button("Approve", key=f"replen_approve_{po_id}", icon=":material/verified:"):
        try:
            operations.approve_po(db, po_id=po_id, actor=user.username)
        except LarderError as err:
            error_state(err)
        else:
            remember_success(
                FLASH_KEY,
                f"Approved {number}: it now counts as supply. Send it to the supplier next.",
            )
    _add_line_form(po_id, number)


def _add_line_form(po_id: int, number: str) -> None:
    choices = _line_choices(db, int(po_id))
    with st.expander(f"Add a line to {number}"):
        if choices.empty:
            st.caption("Every product of this supplier is already on the order.")
            return
        labels = dict(
            zip(
                choices["product_id"],
                choices["sku"]
                + " — "
                + choices["name"]
                + " (packs of "
                + choices["pack_size"].astype(str)
                + ", minimum "
                + choices["min_order_qty"].astype(str)
                + ")",
                strict=True,
            )
        )
        with st.form(f"replen_add_{po_id}"):
            product_id = st.selectbox(
                "Product", list(labels), format_func=lambda p: labels.get(p, str(p)),
                key=f"replen_add_product_{po_id}",
            )  # fmt: skip
            amount = st.number_input(
                "Quantity", min_value=None, value=None, step=1, key=f"replen_add_qty_{po_id}"
            )
            added = st.form_submit_button("Add line")
        if added:
            try:
                if amount is None:
                    raise operations.ValidationError("Give the quantity to order.")
                operations.add_po_line(
                    db, po_id=po_id, product_id=int(product_id), qty=amount, actor=user.username
                )
            except LarderError as err:
                error_state(err)
            else:
                remember_success(
                    FLASH_KEY, f"Added {labels[product_id].split(' — ')[0]} to {number}."
                )


def _send_form(po_id: int, number: str, supplier_id: int) -> None:
    carriers = _carriers(db)
    carrier_names = dict(zip(carriers["id"], carriers["name"], strict=True))
    quoted = suppliers.loc[suppliers["id"] == supplier_id, "lead_time_days"]
    default = utcnow().date() + dt.timedelta(days=int(quoted.iloc[0]) if len(quoted) else 7)
    with st.form(f"replen_send_{po_id}"):
        st.markdown(f"**Send {number}** to {supplier_names.get(supplier_id, 'the supplier')}")
        cols = st.columns(3)
        expected = cols[0].date_input(
            "Expected date", value=default, key=f"replen_send_date_{po_id}",
            help="The date the supplier promised (default: today + the quoted lead time).",
        )  # fmt: skip
        carrier = cols[1].selectbox(
            "Carrier bringing it",
            list(carrier_names),
            format_func=lambda c: carrier_names.get(c, str(c)),
            key=f"replen_send_carrier_{po_id}",
        )
        tracking = cols[2].text_input("Tracking number", key=f"replen_send_tracking_{po_id}")
        sent = st.form_submit_button("Send to supplier", type="primary", icon=":material/send:")
    if sent:
        try:
            when = operations.send_po(
                db,
                po_id=po_id,
                actor=user.username,
                expected_date=expected,
                carrier_id=None if carrier is None else int(carrier),
                tracking=tracking,
            )
        except LarderError as err:
            error_state(err)
        else:
            remember_success(
                FLASH_KEY,
                f"Sent {number}: expected {when.isoformat()}; its inbound shipment is open.",
            )


AT_RISK_COLUMNS = {
    "po_number": st.column_config.TextColumn("PO"),
    "supplier": st.column_config.TextColumn("Supplier"),
    "status": st.column_config.TextColumn("Status"),
    "expected_date": date_column("Expected"),
    "likely_arrival": date_column(
        "Likely arrival", help="Expected date + the supplier's usual delay (P50)"
    ),
    "late_case_arrival": date_column("Late case", help="With the P90 delay"),
    "days_overdue": count_column("Days overdue"),
    "backorders": count_column("Backorders waiting"),
    "backordered": count_column("Units waiting"),
    "customers": st.column_config.TextColumn("Customers affected", width="large"),
    "open_value": money_column("Open value"),
}


def _as_day(column: str, value: object) -> dt.date | None:
    """A kept "New date" (the grid hands edits back as text) as a day."""
    return None if value is None else pd.Timestamp(value).date()


def _redate_table() -> None:
    """The late POs in a grid whose "New date" column re-dates them (all saved or none)."""
    shown = at_risk.assign(status=at_risk["status"].map(STATUS_LABELS))
    shown = shown.assign(
        **{c: pd.to_datetime(shown[c]) for c in ("likely_arrival", "late_case_arrival")},
        new_date=shown["expected_date"],
    )
    columns = {k: v for k, v in AT_RISK_COLUMNS.items()}
    columns = {
        "po_number": columns.pop("po_number"),
        "supplier": columns.pop("supplier"),
        "expected_date": columns.pop("expected_date"),
        "new_date": date_column(
            "New date", help="Type the supplier's new date, then save the new dates"
        ),
        **columns,
    }
    po_ids = [int(i) for i in at_risk["po_id"]]
    edited = st.data_editor(
        kept_edits.with_kept(shown[list(columns)], KEPT_DATES, po_ids, convert=_as_day),
        key="replen_at_risk",
        column_config=columns,
        disabled=[c for c in columns if c != "new_date"],
        hide_index=True,
        num_rows="fixed",
        on_change=kept_edits.keep,
        args=("replen_at_risk", KEPT_DATES, po_ids),
    )
    changes = {
        int(po_id): new
        for po_id, old, new in zip(
            at_risk["po_id"], at_risk["expected_date"], edited["new_date"], strict=True
        )
        if new is not None and not pd.isna(new) and pd.Timestamp(new).date() != old
    }
    if st.button("Save new dates", key="replen_save_dates", disabled=not changes):
        dates = {po_id: pd.Timestamp(new).date() for po_id, new in changes.items()}
        try:
            told = operations.set_po_expected_dates(db, dates=dates, actor=user.username)
        except LarderError as err:
            error_state(err)
        else:
            kept_edits.forget(KEPT_DATES, po_ids)
            remember_success(
                FLASH_KEY,
                f"Re-dated {len(dates)} purchase order(s); backorders re-promised, "
                f"{told} notification(s) sent.",
            )


def late_and_at_risk() -> None:
    if at_risk.empty:
        empty_state("No open purchase order is late or predicted late.")
        return
    overdue = int(at_risk["overdue"].sum())
    st.markdown(
        f"**{qty(overdue)}** overdue, **{qty(len(at_risk) - overdue)}** predicted late from the "
        f"supplier's record; **{qty(at_risk['backorders'].sum())}** backorders wait on them."
    )
    _redate_table()
    labels = {
        row.po_id: f"{row.po_number} — {row.supplier} (expected {row.expected_date})"
        for row in at_risk.itertuples(index=False)
    }
    po_id = st.selectbox(
        "Purchase order", list(labels), index=kept_edits.kept_index(KEPT_LATE_PO, list(labels)),
        format_func=lambda p: labels.get(p, str(p)), key="replen_late_po",
    )  # fmt: skip
    if po_id is None:
        return
    st.session_state[KEPT_LATE_PO] = po_id
    row = at_risk[at_risk["po_id"] == po_id].iloc[0]
    waiting = _waiting_on(db, int(po_id))
    st.markdown(f"**Backorders waiting on {row.po_number}**")
    waiting_backorders_table(waiting, key="replen_waiting", file_name="backorders_waiting")
    left, right = st.columns(2)
    with left, st.form(f"replen_redate_{po_id}"):
        st.markdown(f"**Re-date {row.po_number}**")
        new_date = st.date_input(
            "New expected date", value=row.expected_date, key=f"replen_redate_date_{po_id}"
        )
        redate = st.form_submit_button("Save new date")
    if redate:
        try:
            told = operations.set_po_expected_date(
                db, po_id=int(po_id), expected_date=new_date, actor=user.username
            )
        except LarderError as err:
            error_state(err)
        else:
            remember_success(
                FLASH_KEY,
                f"{row.po_number} now expected {new_date.isoformat()}; backorders re-promised, "
                f"{told} notification(s) sent.",
            )
    with right:
        _supplier_message_form(int(row.supplier_id), int(po_id), row.po_number)


def _supplier_message_form(supplier_id: int, po_id: int | None, number: str | None) -> None:
    about = f" about {number}" if number else ""
    with st.form(f"replen_message_{supplier_id}_{po_id}"):
        st.markdown(f"**Record a call or mail with {supplier_names.get(supplier_id)}{about}**")
        cols = st.columns(2)
        channel = cols[0].selectbox(
            "Channel", list(CHANNELS), format_func=CHANNEL_LABELS.get,
            key=f"replen_msg_channel_{supplier_id}_{po_id}",
        )  # fmt: skip
        direction = cols[1].selectbox(
            "Direction", ["outbound", "inbound"],
            format_func=lambda d: "We contacted them" if d == "outbound" else "They contacted us",
            key=f"replen_msg_direction_{supplier_id}_{po_id}",
        )  # fmt: skip
        subject = st.text_input(
            "Subject", key=f"replen_msg_subject_{supplier_id}_{po_id}", max_chars=200
        )
        body = st.text_area("What was said", key=f"replen_msg_body_{supplier_id}_{po_id}")
        send = st.checkbox(
            "Also send it to the supplier by mail",
            key=f"replen_msg_send_{supplier_id}_{po_id}",
            help="Queued for the supplier's address on file.",
        )
        saved = st.form_submit_button("Record")
    if saved:
        try:
            operations.record_communication(
                db,
                actor=user.username,
                channel=channel,
                direction=direction,
                subject=subject,
                body=body,
                supplier_id=supplier_id,
                po_id=po_id,
                send=send,
            )
        except LarderError as err:
            error_state(err)
        else:
            remember_success(FLASH_KEY, f"Recorded the {CHANNEL_LABELS[channel].lower()} with "
                  f"{supplier_names.get(supplier_id)}.")  # fmt: skip


SCORE_COLUMNS = {
    "supplier": st.column_config.TextColumn("Supplier"),
    "quoted_days": count_column("Quoted lead time (days)"),
    "lead_p50": decimal_column("Lead time P50 (days)"),
    "lead_p90": decimal_column("Lead time P90 (days)"),
    "received_pos": count_column("POs received (year)"),
    "on_time_rate": st.column_config.ProgressColumn(
        "On time", format="percent", min_value=0, max_value=1,
        help="Received on or before the date given when sent, last 365 days",
    ),
    "fill_rate": st.column_config.ProgressColumn(
        "Fill rate", format="percent", min_value=0, max_value=1,
        help="Units received / ordered on POs due in the last 365 days",
    ),
    "open_pos": count_column("Open POs"),
    "open_value": money_column("Open value"),
}  # fmt: skip


def supplier_record() -> None:
    card = _scorecard(db)
    record = _record(db)
    if chosen(f_supplier) is not None:
        card = card[card["supplier_id"] == f_supplier]
    st.caption(f"Lead times from the lead-time model: {record.source}.")
    standard_table(
        card[list(SCORE_COLUMNS)],
        key="replen_scorecard",
        column_config=SCORE_COLUMNS,
        file_name="supplier_scorecard",
        empty_message="No supplier to show.",
    )
    shown = card.dropna(subset=["lead_p50"])
    if shown.empty:
        return
    left, right = st.columns(2)
    with left:
        st.markdown("**Lead time: learned P50 to P90 against the quoted time**")
        base = alt.Chart(shown).encode(
            y=alt.Y("supplier:N", title=None, sort="-x", axis=alt.Axis(labelLimit=200))
        )
        span = base.mark_rule(strokeWidth=3, color=ui.theme.PALETTE[0]).encode(
            x=alt.X("lead_p50:Q", title="Days"), x2=alt.X2("lead_p90:Q")
        )
        p50 = base.mark_point(filled=True, size=70, color=ui.theme.PALETTE[0]).encode(
            x=alt.X("lead_p50:Q"),
            tooltip=[
                alt.Tooltip("supplier:N", title="Supplier"),
                alt.Tooltip("lead_p50:Q", title="P50 days", format=".1f"),
                alt.Tooltip("lead_p90:Q", title="P90 days", format=".1f"),
                alt.Tooltip("quoted_days:Q", title="Quoted days"),
            ],
        )
        quoted = base.mark_tick(color=ui.theme.ALERT, thickness=2, size=14).encode(
            x=alt.X("quoted_days:Q")
        )
        st.altair_chart(
            alt.layer(span, p50, quoted).properties(height=alt.Step(18)), width="stretch"
        )
        st.caption("Green: P50 to P90 of the learned lead time. Red tick: the quoted time.")
    with right:
        st.markdown("**On-time rate by supplier (last 365 days)**")
        rated = card.dropna(subset=["on_time_rate"])
        chart = (
            alt.Chart(rated)
            .mark_bar()
            .encode(
                x=alt.X("on_time_rate:Q", title="On time", axis=alt.Axis(format="%"),
                        scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("supplier:N", title=None, sort="x", axis=alt.Axis(labelLimit=200)),
                color=conditional(
                    alt.ColorValue, alt.datum.on_time_rate < 0.8, ui.theme.ALERT,
                    ui.theme.PALETTE[0],
                ),
                tooltip=[
                    alt.Tooltip("supplier:N", title="Supplier"),
                    alt.Tooltip("on_time_rate:Q", title="On time", format=".0%"),
                    alt.Tooltip("received_pos:Q", title="POs received"),
                ],
            )
            .properties(height=alt.Step(18))
        )  # fmt: skip
        st.altair_chart(chart, width="stretch")
    st.markdown("**Communications with suppliers**")
    log = purchasing.supplier_communications(db, supplier_id=chosen(f_supplier))
    standard_table(
        log,
        key="replen_comms",
        column_config={
            "created_at": datetime_column("When"),
            "supplier": st.column_config.TextColumn("Supplier"),
            "po_number": st.column_config.TextColumn("PO"),
            "channel": st.column_config.TextColumn("Channel"),
            "direction": st.column_config.TextColumn("Direction"),
            "subject": st.column_config.TextColumn("Subject"),
            "body": st.column_config.TextColumn("Note", width="large"),
            "actor": st.column_config.TextColumn("By"),
        },
        file_name="supplier_communications",
        empty_message="No call or mail with a supplier recorded yet.",
    )
    if chosen(f_supplier) is not None:
        _supplier_message_form(int(f_supplier), None, None)


# Only the open tab is drawn. Unsaved grid edits and the chosen POs are kept in the session
# (ui.kept_edits), so they are there again when the buyer comes back to a tab.
if inbox_tab.open:
    with inbox_tab:
        low_stock()
if drafts_tab.open:
    with drafts_tab:
        drafted_pos()
if late_tab.open:
    with late_tab:
        late_and_at_risk()
if suppliers_tab.open:
    with suppliers_tab:
        supplier_record()
