"""AppTest of the pick queue page: the route, scanning picks and packs, short picks, KPIs."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from sqlalchemy import func, select, text

import operations
from data.db import make_engine
from data.migrate import upgrade
from data.schema import (
    AuditLog,
    Backorder,
    Bin,
    Notification,
    PickTask,
    Product,
    Stock,
    StockLedger,
    utcnow,
)
from models.pick_route import Location, bin_code_route, floor_layout, unique_locations
from queries import picking
from tests import apptest_support, operations_world
from tests.apptest_support import app_test
from tests.operations_world import fetch_rows

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url
seeded_db_url = apptest_support.seeded_db_url

PAGE = "pages/pick_queue.py"


@pytest.fixture
def db(fresh_db_url):
    engine = make_engine(fresh_db_url)
    yield engine
    engine.dispose()


def _run(username: str = "operator", at=None):
    at = at or app_test(PAGE, username)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metric(at, label: str) -> str:
    (found,) = [m for m in at.metric if m.label == label]
    return found.value


def _button(at, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def _errors(at) -> list[str]:
    return [e.value for e in at.error]


def _next_task(at, engine) -> tuple[int, str, str, int]:
    """(task id, bin code, SKU, qty) of the task the pick form is set to."""
    task_id = at.selectbox(key="pick_task_0").value
    return fetch_rows(
        engine,
        select(PickTask.id, Bin.code, Product.sku, PickTask.qty)
        .join(Bin, Bin.id == PickTask.bin_id)
        .join(Product, Product.id == PickTask.product_id)
        .where(PickTask.id == task_id),
    )[0]


def _state(engine) -> tuple:
    """What a pick could change: tasks, stock, ledger, backorders, audit and notifications."""
    return (
        fetch_rows(
            engine, select(PickTask.id, PickTask.status, PickTask.qty_picked).order_by(PickTask.id)
        ),
        fetch_rows(engine, select(func.sum(Stock.on_hand), func.sum(Stock.reserved))),
        *(
            fetch_rows(engine, select(func.count()).select_from(table))[0][0]
            for table in (StockLedger, Backorder, AuditLog, Notification)
        ),
    )


def _scan(at, form: str, **values) -> None:
    for key, value in values.items():
        at.text_input(key=f"{form}_{key}_0").input(value)


# --- what the operator sees ------------------------------------------------------------------


def test_operator_sees_the_batch_route_against_bin_code_order(seeded_db_url):
    at = _run()
    engine = make_engine(seeded_db_url)
    queue = picking.open_pick_tasks(engine)
    assert not queue.empty, "the tiny demo should have open pick tasks"
    batch = queue[queue["warehouse_id"] == queue["warehouse_id"].iloc[0]].head(20)
    stops = unique_locations(
        [
            Location(r.bin_code, r.aisle, r.bay, float(r.x), float(r.y))
            for r in batch.itertuples(index=False)
        ]
    )
    layout = floor_layout(*picking.floor_extent(engine))
    engine.dispose()
    assert _metric(at, "In bin-code order") == f"{bin_code_route(stops, layout).length_m:,.0f} m"
    walked = float(_metric(at, "Route length").removesuffix(" m").replace(",", ""))
    assert walked <= bin_code_route(stops, layout).length_m + 0.5
    texts = [m.value for m in at.markdown]
    assert f"**Batch of {len(batch)} tasks in {len(stops)} bins** · {len(batch)} to pick" in texts
    (walk,) = [t for t in texts if t.startswith("1. **")]
    assert len(walk.splitlines()) == len(stops)
    # The queue table lists the open tasks in priority order.
    (table,) = [d.value for d in at.dataframe if d.value.columns[0] == "priority"]
    assert list(table["order_number"]) == list(queue["order_number"])
    assert list(table["bin_code"])[:5] == list(queue["bin_code"])[:5]


def test_zone_filter_and_search_narrow_the_queue(seeded_db_url):
    at = _run()
    engine = make_engine(seeded_db_url)
    zones = picking.pick_zones(engine)
    zone = zones[-1]
    expected = picking.open_pick_tasks(engine, zone=zone)
    engine.dispose()
    at.selectbox(key="pick_zone").select(zone)
    at = _run(at=at)
    (table,) = [d.value for d in at.dataframe if d.value.columns[0] == "priority"]
    assert list(table["order_number"]) == list(expected["order_number"])
    at.text_input(key="pick_search").input("no such thing anywhere")
    at = _run(at=at)
    assert "No open pick task matches these filters." in [i.value.split("\n")[0] for i in at.info]


# --- scanning a pick ---------------------------------------------------------------------------


def test_a_wrong_bin_is_refused_and_nothing_changes(db):
    at = _run()
    task_id, bin_code, sku, _ = _next_task(at, db)
    before = _state(db)
    _scan(at, "pick", bin="Z99-99-9", sku=sku)
    _button(at, "Confirm pick").click()
    at = _run(at=at)
    assert _errors(at) == [
        f"Wrong bin: you scanned Z99-99-9, but pick task {task_id} "
        f"({_next_task(at, db)[3]} x {sku}) is in bin {bin_code}. "
        f"Nothing was picked: go to {bin_code} and scan again."
    ]
    assert _state(db) == before


def test_a_wrong_sku_is_refused_and_nothing_changes(db):
    at = _run()
    _task_id, bin_code, sku, _ = _next_task(at, db)
    before = _state(db)
    _scan(at, "pick", bin=bin_code, sku="NOT-" + sku)
    _button(at, "Confirm pick").click()
    at = _run(at=at)
    (error,) = _errors(at)
    assert error.startswith(f"Wrong product: you scanned NOT-{sku}, but pick task")
    assert _state(db) == before


def test_empty_scan_is_refused(db):
    at = _run()
    before = _state(db)
    _button(at, "Confirm pick").click()
    at = _run(at=at)
    assert _errors(at) == ["Scan or type the bin code first, then the SKU."]
    assert _state(db) == before


def test_bin_then_sku_confirms_the_pick(db):
    at = _run()
    task_id, bin_code, sku, qty = _next_task(at, db)
    before = _state(db)
    _scan(at, "pick", bin=bin_code.lower())
    _button(at, "Confirm pick").click()
    at = _run(at=at)
    assert [s.value for s in at.success] == [
        f"Bin {bin_code} is right. Now scan the SKU and press Enter."
    ]
    assert _state(db) == before
    _scan(at, "pick", sku=sku)
    _button(at, "Confirm pick").click()
    at = _run(at=at)
    assert _errors(at) == []
    assert fetch_rows(
        db,
        select(PickTask.status, PickTask.qty_picked, PickTask.actor).where(PickTask.id == task_id),
    ) == [("picked", qty, "operator")]
    assert any(s.value.startswith(f"Picked {qty} × {sku} from {bin_code}") for s in at.success)
    # The batch stays the same; the picked task is struck through in the walking list.
    (walk,) = [m.value for m in at.markdown if m.value.startswith("1. ")]
    assert "~~" in walk and "✓ picked" in walk
    # The next task is another one, and its scan boxes start empty.
    assert at.selectbox(key="pick_task_1").value != task_id
    assert at.text_input(key="pick_bin_1").value == ""


# --- short picks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("found", "message"),
    [
        ("-1", "The quantity found must be at least 0, not -1."),
        ("999", "finding 999 is not short. Confirm the pick instead."),
        ("1.5", "must be a whole number, not 1.5"),
        ("two", "Type the quantity found as a whole number from 0 to"),
        ("", "Type the quantity found as a whole number from 0 to"),
    ],
)
def test_bad_short_pick_quantities_are_refused(db, found, message):
    at = _run()
    _task_id, bin_code, _sku, _ = _next_task(at, db)
    before = _state(db)
    _scan(at, "short", bin=bin_code, found=found)
    _button(at, "Report short pick").click()
    at = _run(at=at)
    (error,) = _errors(at)
    assert message in error
    assert _state(db) == before


def test_a_short_pick_at_the_wrong_bin_is_refused(db):
    at = _run()
    before = _state(db)
    _scan(at, "short", bin="Z99-99-9", found="0")
    _button(at, "Report short pick").click()
    at = _run(at=at)
    (error,) = _errors(at)
    assert error.startswith("Wrong bin: you scanned Z99-99-9")
    assert _state(db) == before


def test_a_short_pick_backorders_the_rest_and_tells_people(db):
    at = _run()
    task_id, bin_code, sku, qty = _next_task(at, db)
    notes_before = fetch_rows(db, select(func.count()).select_from(Notification))[0][0]
    _scan(at, "short", bin=bin_code, found="0", note="shelf empty")
    _button(at, "Report short pick").click()
    at = _run(at=at)
    assert _errors(at) == []
    assert fetch_rows(db, select(PickTask.status).where(PickTask.id == task_id)) == [("short",)]
    kinds = fetch_rows(db, select(Notification.kind).order_by(Notification.id).offset(notes_before))
    assert ("short_pick",) in kinds
    assert any(s.value.startswith(f"Short pick reported: 0 of {qty} × {sku}") for s in at.success)


# --- packing -----------------------------------------------------------------------------------


def _picked_task(db) -> tuple[int, str]:
    task_id, sku, qty = fetch_rows(
        db,
        select(PickTask.id, Product.sku, PickTask.qty)
        .join(Product, Product.id == PickTask.product_id)
        .where(PickTask.status == "open")
        .order_by(PickTask.id)
        .limit(1),
    )[0]
    operations.confirm_pick(db, task_id=task_id, qty_picked=qty, actor="otto")
    return task_id, sku


def test_packing_a_wrong_sku_is_refused_then_the_right_one_packs(db):
    task_id, sku = _picked_task(db)
    at = _run()
    at.selectbox(key="pack_task_0").select(task_id)
    before = _state(db)
    at.text_input(key="pack_sku_0").input("WRONG-1")
    _button(at, "Confirm pack").click()
    at = _run(at=at)
    (error,) = _errors(at)
    assert error.startswith("Wrong product: you scanned WRONG-1")
    assert _state(db) == before
    at.text_input(key="pack_sku_0").input(sku)
    _button(at, "Confirm pack").click()
    at = _run(at=at)
    assert _errors(at) == []
    assert fetch_rows(db, select(PickTask.status).where(PickTask.id == task_id)) == [("packed",)]


def test_packing_with_no_scan_is_refused(db):
    _picked_task(db)
    at = _run()
    before = _state(db)
    _button(at, "Confirm pack").click()
    at = _run(at=at)
    assert _errors(at) == ["Scan or type the SKU of the goods you pack."]
    assert _state(db) == before


# --- KPIs on a hand-made world -----------------------------------------------------------------


@pytest.fixture
def hand_made_url(tmp_path):
    """A warehouse built by hand (no demo data) with an operator account."""
    url = f"sqlite:///{tmp_path / 'hand.db'}"
    engine = make_engine(url)
    upgrade(engine)
    world = operations_world.build_world(engine)
    operations_world.add_admin(engine)
    operations.create_user(
        engine,
        username="operator",
        name="Otto",
        email="otto@example.com",
        password="a long enough password",
        roles=["warehouse_operator"],
        actor="admin",
        bcrypt_rounds=4,
    )
    now = utcnow().replace(microsecond=0)
    orders = {}
    for name, tier, sku, qty, hours in [
        ("ten_hours", "gold", "OIL-5L", 4, 10),
        ("three_hours", "silver", "FLOUR-25", 2, 3),
        ("short", "bronze", "BUTTER-10", 3, 1),
        ("waiting", "gold", "OIL-5L", 8, 1),
    ]:
        orders[name] = operations.place_order(
            engine,
            customer_id=world.customers[tier],
            lines=[(sku, qty)],
            actor="ann",
            now=now - dt.timedelta(hours=hours),
        )
    tasks = {
        name: fetch_rows(
            engine,
            text(
                "SELECT t.id, t.qty FROM pick_tasks t JOIN order_lines l ON l.id = t.order_line_id "
                "WHERE l.order_id = :o"
            ).bindparams(o=order.order_id),
        )[0]
        for name, order in orders.items()
    }
    for name in ("ten_hours", "three_hours"):
        task_id, qty = tasks[name]
        operations.confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
        operations.confirm_pack(engine, task_id=task_id, actor="otto")
    operations.report_short_pick(engine, task_id=tasks["short"][0], qty_found=2, actor="otto")
    engine.dispose()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATABASE_URL", url)
        mp.setenv("LARDER_LOGIN_SLEEP", "0")
        mp.setenv("LARDER_COOKIE_KEY", "test-cookie-key-" + "0" * 32)
        yield url


def test_kpis_match_direct_sql_on_a_hand_made_world(hand_made_url):
    at = _run()
    engine = make_engine(hand_made_url)
    start = dt.datetime.combine(utcnow().date(), dt.time())
    with engine.connect() as conn:
        lines_today = conn.execute(
            text(
                "SELECT count(*) FROM pick_tasks WHERE picked_at >= :start AND qty_picked > 0"
            ).bindparams(start=start)
        ).scalar_one()
        spans = conn.execute(
            text(
                "SELECT o.placed_at, max(t.packed_at) FROM orders o "
                "JOIN order_lines l ON l.order_id = o.id JOIN pick_tasks t ON t.order_line_id = l.id "
                "WHERE t.packed_at IS NOT NULL GROUP BY o.id, o.placed_at"
            )
        ).all()
        full, picks = conn.execute(
            text(
                "SELECT sum(CASE WHEN qty_picked = qty THEN 1 ELSE 0 END), count(*) "
                "FROM pick_tasks WHERE picked_at IS NOT NULL"
            )
        ).one()
    engine.dispose()
    hours = [
        (dt.datetime.fromisoformat(str(b)) - dt.datetime.fromisoformat(str(a))).total_seconds()
        / 3600
        for a, b in spans
    ]
    assert (lines_today, len(hours), full, picks) == (3, 2, 2, 3)
    assert _metric(at, "Lines picked today") == "3"
    assert (
        _metric(at, "Order fulfilment (median)") == f"{statistics.median(hours):.1f} h" == "6.5 h"
    )
    assert _metric(at, "Pick accuracy") == f"{full / picks * 100:.1f} %" == "66.7 %"
    # The one task left open is the one waiting order, and it heads the route.
    texts = [m.value for m in at.markdown]
    assert "**Batch of 1 tasks in 1 bins** · 1 to pick" in texts


def test_an_empty_queue_says_so(hand_made_url):
    engine = make_engine(hand_made_url)
    ((task_id, qty),) = fetch_rows(
        engine, select(PickTask.id, PickTask.qty).where(PickTask.status == "open")
    )
    operations.confirm_pick(engine, task_id=task_id, qty_picked=qty, actor="otto")
    engine.dispose()
    at = _run()
    infos = [i.value for i in at.info]
    assert any(i.startswith("No open pick task.") for i in infos), infos
