"""In transit (logistics manager): inbound POs and outbound shipments, events and carriers."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from data.schema import CHANNELS
from operations.errors import LarderError
from operations.shipments import EVENT_LABELS, TRACKING_EVENTS
from queries import purchasing, shipments
from ui.auth import require_role
from ui.components import (
    PickableTable,
    ShownTable,
    empty_state,
    error_state,
    kpi_tile,
    money,
    pct,
    qty,
    remember_success,
    show_success,
    shown_table,
    standard_table,
    waiting_backorders_rows,
    waiting_backorders_table,
)
from ui.db import engine, live_read
from ui.format import (
    as_dates,
    count_column,
    date_column,
    datetime_column,
    decimal_column,
    money_column,
)

user = require_role("logistics_manager")
db = engine()

FLASH_KEY = "transit_flash"
ANY = "(any)"
CHANNEL_LABELS = {"phone": "Phone call", "email": "Mail", "sms": "Text message",
                  "in_app": "In-app message", "portal": "Portal"}  # fmt: skip
STATUS_LABELS = {"planned": "Planned", "in_transit": "In transit", "delayed": "Delayed"}


def chosen(value):
    return None if value == ANY else value


INBOUND_COLUMNS = {
    "shipment": st.column_config.TextColumn("Shipment"),
    "po_number": st.column_config.TextColumn("PO"),
    "supplier": st.column_config.TextColumn("Supplier"),
    "carrier": st.column_config.TextColumn("Carrier"),
    "tracking": st.column_config.TextColumn("Tracking"),
    "status": st.column_config.TextColumn("Status"),
    "estimated_arrival": date_column("Estimated arrival"),
    "likely_arrival": date_column(
        "Likely (supplier's record)", help="Estimated arrival + the supplier's usual delay (P50)"
    ),
    "late_case_arrival": date_column("Late case", help="With the P90 delay"),
    "backorders": count_column("Backorders it fills"),
    "backordered": count_column("Units waiting"),
    "customers": st.column_config.TextColumn("Customers waiting", width="large"),
    "last_event": st.column_config.TextColumn("Last event", width="medium"),
}

OUTBOUND_COLUMNS = {
    "shipment": st.column_config.TextColumn("Shipment"),
    "order_number": st.column_config.TextColumn("Order"),
    "customer": st.column_config.TextColumn("Customer", width="medium"),
    "region": st.column_config.TextColumn("Region"),
    "carrier": st.column_config.TextColumn("Carrier"),
    "tracking": st.column_config.TextColumn("Tracking"),
    "status": st.column_config.TextColumn("Status"),
    "promised_date": date_column("Promised"),
    "estimated_arrival": date_column("Estimated arrival"),
    "predicted_late": st.column_config.CheckboxColumn(
        "Predicted late", help="The estimate is after the promised date"
    ),
    "days_late": count_column("Days late"),
    "backordered_lines": count_column("Backordered lines"),
    "value": money_column("Value"),
    "last_event": st.column_config.TextColumn("Last event", width="medium"),
}


# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


@live_read("catalogue", "models", "purchasing")
def _record(engine) -> purchasing.LeadTimeRecord:
    return purchasing.lead_time_record(engine)


@live_read("backorders", "catalogue", "customers", "models", "purchasing", "shipments")
def _inbound(engine, only_filling: bool, carrier_id: int | None) -> PickableTable:
    rows = shipments.inbound_in_transit(
        engine, only_filling_backorders=only_filling, record=_record(engine)
    )
    if carrier_id is not None:
        rows = rows[rows["carrier_id"] == carrier_id].reset_index(drop=True)
    shown = as_dates(rows, ("estimated_arrival", "likely_arrival", "late_case_arrival"))
    shown = shown.assign(status=shown["status"].map(STATUS_LABELS))
    labels = {
        int(row.shipment_id): f"{row.shipment} — {row.po_number}, {row.supplier} "
        f"(arrives {row.estimated_arrival})"
        for row in rows.itertuples(index=False)
    }
    return PickableTable(rows, shown_table(shown, INBOUND_COLUMNS), labels)


@live_read("backorders", "catalogue", "customers", "orders", "shipments")
def _outbound(
    engine, only_backordered: bool, only_late: bool, carrier_id: int | None
) -> PickableTable:
    rows = shipments.outbound_in_transit(
        engine,
        only_backordered=only_backordered,
        only_predicted_late=only_late,
        carrier_id=carrier_id,
    )
    shown = as_dates(rows, ("promised_date", "estimated_arrival"))
    shown = shown.assign(status=shown["status"].map(STATUS_LABELS))
    labels = {
        int(row.shipment_id): f"{'⚠ ' if row.predicted_late else ''}{row.shipment} — "
        f"{row.order_number}, {row.customer} (estimate {row.estimated_arrival}, "
        f"promised {row.promised_date})"
        for row in rows.itertuples(index=False)
    }
    return PickableTable(rows, shown_table(shown, OUTBOUND_COLUMNS), labels)


@live_read("catalogue", "shipments")
def _on_time(engine) -> pd.DataFrame:
    return shipments.on_time_by_carrier_region(engine)


@live_read("catalogue", "models", "shipments")
def _transit(engine) -> shipments.TransitRecord:
    return shipments.transit_times(engine)


@live_read("orders", "purchasing", "shipments")
def _value(engine) -> shipments.InTransitValue:
    return shipments.in_transit_value(engine)


@live_read("catalogue")
def _carriers(engine) -> pd.DataFrame:
    return shipments.carrier_choices(engine)


@live_read("backorders", "catalogue", "customers", "orders")
def _waiting_on(engine, po_id: int) -> ShownTable:
    return waiting_backorders_rows(purchasing.backorders_waiting_on(engine, po_id))


@live_read("shipments")
def _shipment_events(engine, shipment_id: int) -> ShownTable:
    events = shipments.shipment_events(engine, shipment_id)
    return shown_table(
        events.assign(kind=events["kind"].map(lambda k: EVENT_LABELS.get(k, k.replace("_", " "))))
    )


@live_read("catalogue", "customers")
def _shipment_messages(engine, shipment_id: int) -> ShownTable:
    return shown_table(shipments.shipment_messages(engine, shipment_id))


# --- Page ----------------------------------------------------------------------------------

carriers = _carriers(db)
carrier_names = dict(zip(carriers["id"], carriers["name"], strict=True))

st.title("In transit")
st.caption(
    "Purchase orders on their way in that will fill backorders, shipments of backordered goods "
    "on their way out, and each carrier's record. Hover over a figure's title for its definition."
)
show_success(FLASH_KEY)

with st.sidebar:
    st.subheader("In-transit filters")
    f_carrier = st.selectbox(
        "Carrier",
        [ANY, *carrier_names],
        format_func=lambda c: "All carriers" if c == ANY else carrier_names.get(c, str(c)),
        key="transit_carrier",
    )
    f_filling = st.toggle(
        "Inbound: only POs that fill backorders", value=True, key="transit_only_filling"
    )
    f_backordered = st.toggle(
        "Outbound: only shipments with backordered goods", value=True, key="transit_only_bo"
    )
    f_late = st.toggle("Outbound: only predicted late", value=False, key="transit_only_late")

carrier_id = None if chosen(f_carrier) is None else int(f_carrier)
inbound_shown = _inbound(db, f_filling, carrier_id)
outbound_shown = _outbound(db, f_backordered, f_late, carrier_id)
inbound, outbound = inbound_shown.rows, outbound_shown.rows
on_time = _on_time(db)
value = _value(db)

tiles = st.columns(5)
with tiles[0]:
    delivered = int(on_time["delivered"].sum()) if not on_time.empty else 0
    rate = float(on_time["on_time"].sum()) / delivered if delivered else None
    kpi_tile(
        "On-time delivery",
        rate,
        f"Outbound deliveries of the last {shipments.CARRIER_WINDOW_DAYS} days that arrived on "
        f"or before the promised date ({qty(delivered)} delivered).",
        fmt=pct,
    )
with tiles[1]:
    kpi_tile(
        "Predicted late",
        int(outbound["predicted_late"].sum()) if not outbound.empty else 0,
        "Outbound shipments shown whose estimated arrival is after the promised date.",
    )
with tiles[2]:
    kpi_tile(
        "Inbound for backorders",
        int((inbound["backorders"] > 0).sum()) if not inbound.empty else 0,
        "Inbound shipments of open purchase orders that open backorders wait on.",
    )
with tiles[3]:
    kpi_tile(
        "In-transit value",
        value.outbound + value.inbound,
        f"Outbound on the way at selling price ({money(value.outbound)}, "
        f"{qty(value.outbound_shipments)} shipments) plus inbound purchase orders on the way at "
        f"cost ({money(value.inbound)}, {qty(value.inbound_shipments)} shipments).",
        fmt=lambda x: f"€{x:,.0f}",
    )
with tiles[4]:
    waiting = set()
    for names in inbound["customers"]:
        waiting.update(n for n in names.split(", ") if n)
    kpi_tile(
        "Customers waiting",
        len(waiting),
        "Distinct customers with an open backorder on the inbound purchase orders shown.",
    )

inbound_tab, outbound_tab, carriers_tab = st.tabs(
    ["Inbound", "Outbound", "Carriers"], key="transit_tab", on_change="rerun"
)


def _events(shipment_id: int) -> None:
    standard_table(
        _shipment_events(db, shipment_id),
        key=f"transit_events_{shipment_id}",
        column_config={
            "at": datetime_column("When"),
            "kind": st.column_config.TextColumn("Event"),
            "note": st.column_config.TextColumn("Note", width="large"),
        },
        file_name="tracking_events",
        empty_message="No tracking event recorded yet.",
    )
    messages = _shipment_messages(db, shipment_id)
    if not messages.empty:
        st.markdown("**Messages about this shipment**")
        standard_table(
            messages,
            key=f"transit_messages_{shipment_id}",
            column_config={
                "created_at": datetime_column("When"),
                "channel": st.column_config.TextColumn("Channel"),
                "direction": st.column_config.TextColumn("Direction"),
                "customer": st.column_config.TextColumn("Customer"),
                "carrier": st.column_config.TextColumn("Carrier"),
                "subject": st.column_config.TextColumn("Subject", width="large"),
                "actor": st.column_config.TextColumn("By"),
            },
            file_name="shipment_messages",
        )


def _event_form(shipment_id: int, number: str) -> None:
    with st.form(f"transit_event_{shipment_id}"):
        st.markdown(f"**Record a tracking event on {number}**")
        cols = st.columns(3)
        kind = cols[0].selectbox(
            "Event", list(TRACKING_EVENTS), format_func=EVENT_LABELS.get,
            key=f"transit_event_kind_{shipment_id}",
        )  # fmt: skip
        new_date = cols[1].date_input(
            "New estimated arrival", value=None, key=f"transit_event_date_{shipment_id}",
            help="Needed for a delay; optional after a failed delivery.",
        )  # fmt: skip
        note = cols[2].text_input("Note", key=f"transit_event_note_{shipment_id}", max_chars=300)
        saved = st.form_submit_button("Record event", type="primary")
    if saved:
        try:
            told = operations.record_tracking_event(
                db,
                shipment_id=shipment_id,
                kind=kind,
                new_date=new_date,
                note=note,
                actor=user.username,
            )
        except LarderError as err:
            error_state(err)
        else:
            extra = f"; {told} notification(s) sent about the new date" if told else ""
            remember_success(
                FLASH_KEY, f"Recorded {EVENT_LABELS[kind].lower()} on {number}{extra}."
            )


def _message_form(shipment_id: int, number: str, carrier_id: int, customer=None) -> None:
    """Message the carrier, or the customer (``customer`` = (id, name, order id))."""
    who = {"carrier": f"Carrier: {carrier_names.get(carrier_id, carrier_id)}"}
    if customer is not None:
        who["customer"] = f"Customer: {customer[1]}"
    with st.form(f"transit_message_{shipment_id}"):
        st.markdown(f"**Message about {number}**")
        cols = st.columns(2)
        to = cols[0].selectbox(
            "To", list(who), format_func=who.get, key=f"transit_msg_to_{shipment_id}"
        )
        channel = cols[1].selectbox(
            "Channel", list(CHANNELS), index=list(CHANNELS).index("email"),
            format_func=CHANNEL_LABELS.get, key=f"transit_msg_channel_{shipment_id}",
        )  # fmt: skip
        subject = st.text_input("Subject", key=f"transit_msg_subject_{shipment_id}", max_chars=200)
        body = st.text_area("Message", key=f"transit_msg_body_{shipment_id}")
        send = st.checkbox(
            "Send it (customers get it in the app and by mail, a carrier by mail)",
            value=True,
            key=f"transit_msg_send_{shipment_id}",
        )
        saved = st.form_submit_button("Record message")
    if saved:
        target = (
            {"carrier_id": carrier_id}
            if to == "carrier"
            else {"customer_id": int(customer[0]), "order_id": int(customer[2])}
        )
        try:
            operations.record_communication(
                db,
                actor=user.username,
                channel=channel,
                subject=subject,
                body=body,
                shipment_id=shipment_id,
                send=send,
                **target,
            )
        except LarderError as err:
            error_state(err)
        else:
            remember_success(
                FLASH_KEY, f"Recorded the message to {who[to].split(': ', 1)[1]} about {number}."
            )


def inbound_view() -> None:
    if inbound.empty:
        empty_state(
            "No inbound shipment on the way matches these filters.",
            "Switch off 'only POs that fill backorders' to see every inbound shipment.",
        )
        return
    late = int(inbound["predicted_late"].sum())
    st.markdown(
        f"**{qty(len(inbound))}** inbound shipments, **{qty(late)}** predicted late from the "
        f"supplier's record; **{qty(inbound['backorders'].sum())}** backorders wait on them."
    )
    standard_table(
        inbound_shown.table,
        key="transit_inbound",
        column_config=INBOUND_COLUMNS,
        file_name="inbound_in_transit",
    )
    labels = inbound_shown.labels
    shipment_id = st.selectbox(
        "Inbound shipment", list(labels), format_func=lambda s: labels.get(s, str(s)),
        key="transit_inbound_pick",
    )  # fmt: skip
    if shipment_id is None:
        return
    row = inbound[inbound["shipment_id"] == shipment_id].iloc[0]
    st.markdown(f"**Backorders {row.po_number} will fill**")
    waiting = _waiting_on(db, int(row.po_id))
    waiting_backorders_table(
        waiting, key="transit_inbound_backorders", file_name="backorders_filled"
    )
    _events(int(shipment_id))
    left, right = st.columns(2)
    with left:
        _event_form(int(shipment_id), row.shipment)
    with right:
        _message_form(int(shipment_id), row.shipment, int(row.carrier_id))


def outbound_view() -> None:
    if outbound.empty:
        empty_state(
            "No outbound shipment on the way matches these filters.",
            "Switch off a filter in the sidebar to see more shipments.",
        )
        return
    late = int(outbound["predicted_late"].sum())
    st.markdown(
        f"**{qty(len(outbound))}** outbound shipments on the way, **{qty(late)}** predicted "
        "late (estimate after the promised date)."
    )
    standard_table(
        outbound_shown.table,
        key="transit_outbound",
        column_config=OUTBOUND_COLUMNS,
        file_name="outbound_in_transit",
    )
    labels = outbound_shown.labels
    shipment_id = st.selectbox(
        "Outbound shipment", list(labels), format_func=lambda s: labels.get(s, str(s)),
        key="transit_outbound_pick",
    )  # fmt: skip
    if shipment_id is None:
        return
    row = outbound[outbound["shipment_id"] == shipment_id].iloc[0]
    if row.predicted_late:
        st.warning(
            f"{row.shipment} is expected {row.estimated_arrival}, {row.days_late} day(s) after "
            f"the date promised to {row.customer} ({row.promised_date}).",
            icon=":material/schedule:",
        )
    _events(int(shipment_id))
    left, right = st.columns(2)
    with left:
        _event_form(int(shipment_id), row.shipment)
    with right:
        _message_form(
            int(shipment_id),
            row.shipment,
            int(row.carrier_id),
            customer=(int(row.customer_id), row.customer, int(row.order_id)),
        )


def carriers_view() -> None:
    record = _transit(db)
    left, right = st.columns(2)
    with left:
        st.markdown(
            f"**On-time delivery by carrier and region, last {shipments.CARRIER_WINDOW_DAYS} days**"
        )
        if on_time.empty:
            empty_state("No delivery recorded in this window.")
        else:
            chart = (
                alt.Chart(on_time)
                .mark_rect(stroke="white", strokeWidth=1)
                .encode(
                    x=alt.X("region:N", title=None,
                            axis=alt.Axis(labelAngle=-40, labelOverlap=False, labelLimit=160)),
                    y=alt.Y("carrier:N", title=None, axis=alt.Axis(labelLimit=200)),
                    color=alt.Color(
                        "rate:Q", title="On time", scale=alt.Scale(scheme="redyellowgreen",
                        domain=[0.5, 1]), legend=alt.Legend(format="%"),
                    ),
                    tooltip=[
                        alt.Tooltip("carrier:N", title="Carrier"),
                        alt.Tooltip("region:N", title="Region"),
                        alt.Tooltip("rate:Q", title="On time", format=".0%"),
                        alt.Tooltip("on_time:Q", title="On time"),
                        alt.Tooltip("delivered:Q", title="Delivered"),
                    ],
                )
                .properties(height=alt.Step(28))
            )  # fmt: skip
            st.altair_chart(chart, width="stretch")
    with right:
        st.markdown("**Transit time: learned P50 to P90 against the quoted time**")
        table = record.table.dropna(subset=["p50"])
        if table.empty:
            empty_state("No delivery recorded yet to learn transit times from.")
        else:
            base = alt.Chart(table).encode(
                y=alt.Y("carrier:N", title=None, axis=alt.Axis(labelLimit=200))
            )
            span = base.mark_rule(strokeWidth=3, color=ui.theme.PALETTE[2]).encode(
                x=alt.X("p50:Q", title="Days"), x2=alt.X2("p90:Q")
            )
            mid = base.mark_point(filled=True, size=70, color=ui.theme.PALETTE[2]).encode(
                x=alt.X("p50:Q"),
                tooltip=[
                    alt.Tooltip("carrier:N", title="Carrier"),
                    alt.Tooltip("p50:Q", title="P50 days", format=".1f"),
                    alt.Tooltip("p90:Q", title="P90 days", format=".1f"),
                    alt.Tooltip("quoted_days:Q", title="Quoted days"),
                    alt.Tooltip("n:Q", title="Deliveries"),
                ],
            )
            quoted = base.mark_tick(color=ui.theme.ALERT, thickness=2, size=14).encode(
                x=alt.X("quoted_days:Q")
            )
            st.altair_chart(
                alt.layer(span, mid, quoted).properties(height=alt.Step(28)), width="stretch"
            )
            st.caption(f"Blue: P50 to P90 ({record.source}). Red tick: the carrier's quoted time.")
    by_carrier = (
        on_time.groupby("carrier", as_index=False)[["delivered", "on_time"]].sum()
        if not on_time.empty
        else pd.DataFrame(columns=["carrier", "delivered", "on_time"])
    )
    by_carrier["rate"] = by_carrier["on_time"] / by_carrier["delivered"]
    summary = record.table.merge(by_carrier, on="carrier", how="left")
    standard_table(
        summary.drop(columns="carrier_id"),
        key="transit_carriers",
        column_config={
            "carrier": st.column_config.TextColumn("Carrier"),
            "quoted_days": count_column("Quoted transit (days)"),
            "p50": decimal_column("Transit P50 (days)"),
            "p90": decimal_column("Transit P90 (days)"),
            "n": count_column("Deliveries learned from"),
            "delivered": count_column("Delivered (window)"),
            "on_time": count_column("On time"),
            "rate": st.column_config.ProgressColumn(
                "On-time rate", format="percent", min_value=0, max_value=1
            ),
        },
        file_name="carriers",
    )


# Only the open tab is drawn: switching tabs reruns the page.
if inbound_tab.open:
    with inbound_tab:
        inbound_view()
if outbound_tab.open:
    with outbound_tab:
        outbound_view()
if carriers_tab.open:
    with carriers_tab:
        carriers_view()
