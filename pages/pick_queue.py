"""Pick queue (warehouse operator): the next batch's walking route, scan to pick and pack, KPIs."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import altair as alt
import pandas as pd
import streamlit as st

import operations
import ui.theme  # noqa: F401  registers and enables the Larder chart theme
from operations.errors import LarderError
from queries import picking
from ui.auth import require_role
from ui.charts import vega_spec
from ui.components import (
    ShownTable,
    empty_state,
    error_state,
    kpi_tile,
    pct,
    qty,
    show_success,
    shown_table,
    standard_table,
)
from ui.db import engine, live_read
from ui.format import as_dates, count_column, date_column

user = require_role("warehouse_operator")
db = engine()

# The route plan is keyed by its bins; the ttl bounds the memory it holds.
CACHE_TTL_S = 600
BATCH_SIZES = (10, 20, 40)
DEFAULT_BATCH_SIZE = 20
BATCH_KEY = "pick_batch"  # the batch being walked: its tasks, fixed until they are all done
ROUND_KEY = "pick_round"  # bumped after each booking, so the scan boxes start empty again
FLASH_KEY = "pick_flash"
TABLE_HEIGHT = 420
TABLE_ROWS_BEFORE_SCROLL = 11
FLOOR_PLAN_HEIGHT = 380
ANY = "(any)"
BATCH_FIELDS = (
    "task_id", "bin_code", "aisle", "bay", "x", "y", "sku", "product", "qty", "order_number",
    "customer",
)  # fmt: skip


def chosen(value):
    return None if value == ANY else value


# --- Cached reads (each keyed by the versions of the subjects it reads) -------------------


@live_read("backorders", "catalogue", "customers", "orders", "picking", "stock")
def _queue(engine, zone, search) -> pd.DataFrame:
    return picking.open_pick_tasks(engine, zone=zone, search=search)


@live_read("backorders", "catalogue", "customers", "orders", "picking", "stock")
def _queue_table(engine, zone, search) -> ShownTable:
    return shown_table(as_dates(_queue(engine, zone, search), ["promised_date"]), QUEUE_COLUMNS)


@live_read("catalogue", "customers", "orders", "picking")
def _to_pack(engine) -> dict[int, str]:
    """The picked tasks waiting to be packed, oldest first, as the picker names them."""
    return {
        int(r.task_id): f"{r.order_number} · {r.qty_picked} × {r.sku} · {r.customer}"
        for r in picking.tasks_to_pack(engine).itertuples(index=False)
    }


@live_read("orders", "picking")
def _kpis(engine) -> picking.PickKpis:
    return picking.pick_kpis(engine)


@live_read("catalogue", "picking")
def _zones(engine) -> list[str]:
    return picking.pick_zones(engine)


@live_read("catalogue")
def _floor(engine) -> pd.DataFrame:
    return picking.floor_plan(engine)


@live_read("catalogue")
def _extent(engine) -> tuple:
    return picking.floor_extent(engine)


@live_read("catalogue")
def _floor_spec(engine, stops: tuple, path: tuple, front_x: float) -> dict:
    """The floor plan with the batch's stops (stop, bin, sku, x, y, open) and its route: the
    chart's spec and data, made once per batch state and floor plan. Keyed by plain tuples, not
    by the floor plan's rows, which would be hashed on every run."""
    tasks = pd.DataFrame(list(stops), columns=["stop", "bin", "sku", "x", "y", "open"])
    route = pd.DataFrame(list(path), columns=["x", "y"])
    return vega_spec(_floor_chart(_floor(engine), tasks, route, front_x))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _route(bins: tuple[tuple, ...], extent: tuple[float, float]) -> picking.RoutePlan:
    """The solver's route and bin-code order through ``bins`` (code, aisle, bay, x, y)."""
    return picking.plan_route(list(bins), extent)


# --- Page ----------------------------------------------------------------------------------

zones = _zones(db)

st.title("Pick queue")
st.caption(
    "Open pick tasks, most urgent first: lines that fill backorders, then urgent customers, "
    "then the promised date. Walk the batch in route order and scan each bin, then the SKU."
)

with st.sidebar:
    st.subheader("Pick filters")
    f_zone = st.selectbox(
        "Zone",
        [ANY, *zones],
        format_func=lambda z: "All zones" if z == ANY else z.capitalize(),
        key="pick_zone",
    )
    f_size = st.selectbox(
        "Batch size (tasks)",
        BATCH_SIZES,
        index=BATCH_SIZES.index(DEFAULT_BATCH_SIZE),
        key="pick_batch_size",
    )
    f_search = st.text_input(
        "Search the queue", key="pick_search", placeholder="SKU, product, order, bin"
    ).strip()


def kpi_row() -> None:
    values = _kpis(db)
    tiles = st.columns(3)
    with tiles[0]:
        kpi_tile("Lines picked today", values.lines_picked_today, picking.LINES_PICKED_HELP)
    with tiles[1]:
        kpi_tile(
            "Order fulfilment (median)",
            values.fulfilment_hours,
            picking.FULFILMENT_HELP.format(days=values.fulfilment_days)
            + f" Orders counted: {values.fulfilment_orders}.",
            fmt=lambda h: "—" if h is None else f"{h:.1f} h",
        )
    with tiles[2]:
        kpi_tile(
            "Pick accuracy",
            values.accuracy,
            picking.ACCURACY_HELP.format(days=values.accuracy_days)
            + f" Picks counted: {values.picks_counted}.",
            fmt=pct,
        )


def current_batch(zone: str | None, size: int) -> list[dict]:
    """The batch being walked; a new one from the top of the queue once it is all picked."""
    batch = st.session_state.get(BATCH_KEY)
    if batch and batch["zone"] == zone and batch["size"] == size:
        statuses = picking.task_statuses(db, [t["task_id"] for t in batch["tasks"]])
        if any(statuses.get(t["task_id"]) == "open" for t in batch["tasks"]):
            return [dict(t, status=statuses.get(t["task_id"], "gone")) for t in batch["tasks"]]
    queue = _queue(db, zone, None)
    if queue.empty:
        st.session_state.pop(BATCH_KEY, None)
        return []
    # One batch walks one warehouse floor: the most urgent task's.
    queue = queue[queue["warehouse_id"] == queue["warehouse_id"].iloc[0]].head(size)
    tasks = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in queue[list(BATCH_FIELDS)].to_dict("records")
    ]
    st.session_state[BATCH_KEY] = {"zone": zone, "size": size, "tasks": tasks}
    return [dict(t, status="open") for t in tasks]


def in_walking_order(batch: list[dict], order: tuple[str, ...]) -> list[dict]:
    rank = {code: i for i, code in enumerate(order)}
    return sorted(batch, key=lambda t: (rank.get(t["bin_code"], len(rank)), t["task_id"]))


def route_summary(route: picking.RoutePlan) -> None:
    walked, baseline = route.length_m, route.bin_code_m
    saving = 1 - walked / baseline if baseline else 0.0
    left, right = st.columns(2)
    with left:
        kpi_tile(
            "Route length",
            walked,
            "Metres walked from the dock through every bin of the batch and back, along aisles "
            f"and cross-aisles, in the order the routing solver found ({route.solve_seconds:.1f} s).",
            fmt=lambda m: f"{m:,.0f} m",
        )
    with right:
        kpi_tile(
            "In bin-code order",
            baseline,
            "Metres walked visiting the same bins sorted by bin code, as a printed pick list "
            f"would. The route saves {pct(saving)}.",
            fmt=lambda m: f"{m:,.0f} m",
        )


def route_list(walk: list[dict]) -> None:
    """One numbered stop per bin, as on the floor plan; picked tasks struck through."""
    stops: dict[str, list[str]] = {}
    for task in walk:
        text = f"{task['qty']} × {task['sku']} {task['product']} · {task['order_number']}"
        if task["status"] != "open":
            text = f"~~{text}~~ ✓ {task['status']}"
        stops.setdefault(task["bin_code"], []).append(text)
    st.markdown(
        "\n".join(
            f"{number}. **{code}** · " + "; ".join(tasks)
            for number, (code, tasks) in enumerate(stops.items(), start=1)
        )
    )


def floor_chart(walk: list[dict], route: picking.RoutePlan) -> None:
    rank = {code: i + 1 for i, code in enumerate(route.order)}
    stops = tuple(
        (rank[t["bin_code"]], t["bin_code"], t["sku"], float(t["x"]), float(t["y"]),
         t["status"] == "open")
        for t in walk
    )  # fmt: skip
    path = tuple((float(x), float(y)) for x, y in route.path)
    st.vega_lite_chart(spec=_floor_spec(db, stops, path, route.front_x), width="stretch")


def _floor_chart(
    floor: pd.DataFrame, tasks: pd.DataFrame, path: pd.DataFrame, front_x: float
) -> alt.LayerChart:
    path = path.reset_index(names="step")
    tasks = tasks.sort_values("stop")
    # Bins on different levels of one bay share a floor position: one point, every stop number.
    stops = tasks.groupby(["x", "y"], as_index=False).agg(
        stop=("stop", lambda s: "·".join(map(str, dict.fromkeys(s)))),
        bin=("bin", lambda s: ", ".join(dict.fromkeys(s))),
        sku=("sku", lambda s: ", ".join(dict.fromkeys(s))),
        open=("open", "any"),
    )
    stops["state"] = stops["open"].map({True: "to pick", False: "picked"})
    aisles = floor.groupby("aisle", as_index=False)["y"].mean().assign(x=front_x - 1.5)
    aisles["label"] = aisles["aisle"].astype(str)
    x = alt.X("x:Q", title="Metres from the dock, along the aisles")
    y = alt.Y("y:Q", title="Metres across the aisles")
    shelves = (
        alt.Chart(floor)
        .mark_tick(orient="vertical", color=ui.theme.MUTED, opacity=0.35)
        .encode(x=x, y=y)
    )
    labels = (
        alt.Chart(aisles)
        .mark_text(color=ui.theme.MUTED, fontSize=10, align="right")
        .encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("label:N"))
    )
    line = (
        alt.Chart(path)
        .mark_line(strokeWidth=2, color=ui.theme.PALETTE[0])
        .encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), order=alt.Order("step:Q"))
    )
    points = (
        alt.Chart(stops)
        .mark_circle(size=90, opacity=1)
        .encode(
            x=alt.X("x:Q"),
            y=alt.Y("y:Q"),
            color=alt.Color(
                "state:N",
                title=None,
                scale=alt.Scale(
                    domain=["to pick", "picked"], range=[ui.theme.ALERT, ui.theme.MUTED]
                ),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("stop:N", title="Stop"),
                alt.Tooltip("bin:N", title="Bin"),
                alt.Tooltip("sku:N", title="SKU"),
            ],
        )
    )
    numbers = (
        alt.Chart(stops)
        .mark_text(dy=-10, fontSize=11, fontWeight="bold")
        .encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), text=alt.Text("stop:N"))
    )
    dock = (
        alt.Chart(path.loc[[0], ["x", "y"]])
        .mark_point(shape="square", size=120, filled=True, color="black")
        .encode(x=alt.X("x:Q"), y=alt.Y("y:Q"), tooltip=alt.TooltipValue("Dock"))
    )
    return alt.layer(shelves, labels, line, points, numbers, dock).properties(
        height=FLOOR_PLAN_HEIGHT
    )


def _bump_round() -> None:
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1


def pick_form(walk: list[dict]) -> None:
    """Scan the bin (Enter), then the SKU (Enter): the pick is booked for the task's quantity."""
    todo = [t for t in walk if t["status"] == "open"]
    if not todo:
        return
    rnd = st.session_state.get(ROUND_KEY, 0)
    labels = {
        t["task_id"]: f"{t['bin_code']} · {t['qty']} × {t['sku']} · {t['order_number']}"
        for t in todo
    }
    task_id = st.selectbox(
        "Task (next in walking order first)",
        list(labels),
        format_func=labels.get,
        key=f"pick_task_{rnd}",
    )
    task = next(t for t in todo if t["task_id"] == task_id)
    st.markdown(
        f"Go to bin **{task['bin_code']}** (aisle {task['aisle']}, bay {task['bay']}) and take "
        f"**{task['qty']} × {task['sku']}** {task['product']} for {task['order_number']}, "
        f"{task['customer']}."
    )
    with st.form(f"pick_form_{rnd}", enter_to_submit=True):
        bin_scan = st.text_input(
            "Bin", key=f"pick_bin_{rnd}", placeholder="Scan or type the bin code, press Enter"
        )
        sku_scan = st.text_input(
            "SKU", key=f"pick_sku_{rnd}", placeholder="Then scan the product, press Enter"
        )
        confirmed = st.form_submit_button("Confirm pick", type="primary", width="stretch")
    if confirmed:
        book_pick(task, bin_scan.strip(), sku_scan.strip())
    with st.expander("The bin holds less: report a short pick"):
        short_pick_form(task, rnd)


def book_pick(task: dict, bin_scan: str, sku_scan: str) -> None:
    if not bin_scan:
        st.error("Scan or type the bin code first, then the SKU.", icon=":material/error:")
        return
    try:
        if not sku_scan:
            operations.check_scan(db, task_id=task["task_id"], bin_code=bin_scan)
            st.success(
                f"Bin {bin_scan.upper()} is right. Now scan the SKU and press Enter.",
                icon=":material/check_circle:",
            )
            return
        operations.confirm_pick(
            db,
            task_id=task["task_id"],
            qty_picked=task["qty"],
            actor=user.username,
            bin_code=bin_scan,
            sku=sku_scan,
        )
    except LarderError as err:
        error_state(err)
        return
    st.session_state[FLASH_KEY] = (
        f"Picked {task['qty']} × {task['sku']} from {task['bin_code']} for {task['order_number']}."
    )
    _bump_round()
    st.rerun()


def parse_quantity(typed: str):
    """The typed quantity as a number for the write side to judge; None when it is not one."""
    try:
        number = Decimal(typed.replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def short_pick_form(task: dict, rnd: int) -> None:
    with st.form(f"short_form_{rnd}", enter_to_submit=True):
        bin_scan = st.text_input("Bin", key=f"short_bin_{rnd}", placeholder="Scan the bin code")
        found_text = st.text_input(
            f"Quantity found (the task asks for {task['qty']})",
            key=f"short_found_{rnd}",
            placeholder="e.g. 0",
        )
        note = st.text_input("Note (optional)", key=f"short_note_{rnd}", max_chars=200)
        reported = st.form_submit_button("Report short pick", width="stretch")
    if not reported:
        return
    if not bin_scan.strip():
        st.error("Scan or type the bin code first.", icon=":material/error:")
        return
    found = parse_quantity(found_text.strip())
    if found is None:
        st.error(
            f"Type the quantity found as a whole number from 0 to {task['qty'] - 1}, "
            f"not {found_text.strip()!r}.",
            icon=":material/error:",
        )
        return
    try:
        operations.report_short_pick(
            db,
            task_id=task["task_id"],
            qty_found=found,
            actor=user.username,
            note=note,
            bin_code=bin_scan.strip(),
        )
    except LarderError as err:
        error_state(err)
        return
    st.session_state[FLASH_KEY] = (
        f"Short pick reported: {found} of {task['qty']} × {task['sku']} found in "
        f"{task['bin_code']}. The rest is back on backorder; the warehouse manager, the "
        "customer and their sales rep are told."
    )
    _bump_round()
    st.rerun()


def pick_tab() -> None:
    batch = current_batch(chosen(f_zone), f_size)
    if not batch:
        empty_state(
            "No open pick task" + (f" in the {f_zone} zone." if chosen(f_zone) else "."),
            "New tasks appear here as orders are placed and backorders filled.",
        )
        return
    bins = tuple((t["bin_code"], t["aisle"], t["bay"], float(t["x"]), float(t["y"])) for t in batch)
    route = _route(bins, _extent(db))
    walk = in_walking_order(batch, route.order)
    open_count = sum(t["status"] == "open" for t in walk)
    st.markdown(f"**Batch of {len(walk)} tasks in {len(route.order)} bins** · {open_count} to pick")
    route_summary(route)
    pick_form(walk)
    with st.expander("Route in walking order", expanded=True):
        route_list(walk)
    floor_chart(walk, route)


def pack_tab() -> None:
    labels = _to_pack(db)
    if not labels:
        empty_state("Nothing picked is waiting to be packed.")
        return
    rnd = st.session_state.get(ROUND_KEY, 0)
    task_id = st.selectbox(
        "Picked goods (oldest first)", list(labels), format_func=labels.get, key=f"pack_task_{rnd}"
    )
    with st.form(f"pack_form_{rnd}", enter_to_submit=True):
        sku_scan = st.text_input(
            "SKU", key=f"pack_sku_{rnd}", placeholder="Scan the product you pack, press Enter"
        )
        packed = st.form_submit_button("Confirm pack", type="primary", width="stretch")
    if packed:
        if not sku_scan.strip():
            st.error("Scan or type the SKU of the goods you pack.", icon=":material/error:")
        else:
            try:
                operations.confirm_pack(
                    db, task_id=task_id, actor=user.username, sku=sku_scan.strip()
                )
            except LarderError as err:
                error_state(err)
            else:
                st.session_state[FLASH_KEY] = f"Packed {labels[task_id]}."
                _bump_round()
                st.rerun()
    st.caption(f"{qty(len(labels))} picked tasks wait to be packed.")


QUEUE_COLUMNS = {
    "priority": st.column_config.TextColumn("Priority"),
    "bin_code": st.column_config.TextColumn("Bin"),
    "sku": st.column_config.TextColumn("SKU"),
    "qty": count_column("Qty"),
    "order_number": st.column_config.TextColumn("Order"),
    "customer": st.column_config.TextColumn("Customer"),
    "backorder_status": st.column_config.TextColumn(
        "Backorder", help="Fills a backorder; or the line still waits for more on backorder"
    ),
    "promised_date": date_column(
        "Promised", help="The backorder's promised date, else the date the customer asked for"
    ),
    "available": count_column("Available", help="Live: on hand - reserved"),
    "product": st.column_config.TextColumn("Product"),
}


def queue_tab() -> None:
    queue = _queue_table(db, chosen(f_zone), f_search or None)
    standard_table(
        queue,
        key="pick_queue_table",
        column_config=QUEUE_COLUMNS,
        file_name="pick_queue",
        empty_message="No open pick task matches these filters.",
        empty_hint="Clear the search or choose all zones in the sidebar.",
        height=TABLE_HEIGHT if len(queue) > TABLE_ROWS_BEFORE_SCROLL else "auto",
    )


kpi_row()
show_success(FLASH_KEY)
route_tab, pack, queue_view = st.tabs(["Route and pick", "Pack", "Queue"])
with route_tab:
    pick_tab()
with pack:
    pack_tab()
with queue_view:
    queue_tab()
