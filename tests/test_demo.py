"""The demo generator: deterministic, believable, and keeping every invariant of live use."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import bcrypt
import pytest
from sqlalchemy import Engine, func, insert, select

from data.db import make_engine
from data.demo import (
    DEMO_USERS,
    DatabaseNotEmpty,
    build_rows,
    catalogue,
    generate,
    last_day,
    password_hash,
)
from data.demo.seasons import season_factors
from data.schema import (
    ROLES,
    SEGMENTS,
    Allocation,
    Backorder,
    Base,
    Customer,
    DemandDaily,
    Notification,
    Order,
    OrderLine,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Shipment,
    Stock,
    Substitute,
    User,
    UserRole,
    Warehouse,
)
from tests.conftest import _fresh_engine, drop_pg_schema, pg_schema_engine
from tests.invariants import assert_invariants

TODAY = dt.date(2026, 3, 20)
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
ROOT_CAUSES = {"late_supplier", "forecast_miss", "demand_spike", "allocation"}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(request, tmp_path_factory) -> Iterator[Engine]:
    """One tiny demo database per backend, shared by the read-only tests of this module."""
    for engine in _fresh_engine(request.param, tmp_path_factory.mktemp("demo")):
        generate(engine, scale="tiny", today=TODAY)
        yield engine


def _scalar(engine: Engine, statement):
    with engine.connect() as conn:
        return conn.execute(statement).scalar_one()


def _fingerprint(engine: Engine) -> str:
    """A hash of the rows that matter most, in id order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for statement in (
            select(Product.sku, Product.name, Product.price, Product.reorder_point).order_by(
                Product.id
            ),
            select(
                OrderLine.order_id,
                OrderLine.product_id,
                OrderLine.qty_ordered,
                OrderLine.qty_allocated,
                OrderLine.qty_shipped,
            ).order_by(OrderLine.id),
            select(Backorder.order_line_id, Backorder.qty, Backorder.status).order_by(Backorder.id),
            select(Stock.product_id, Stock.on_hand, Stock.reserved).order_by(Stock.product_id),
            select(Order.placed_at, Order.status).order_by(Order.id),
        ):
            for row in conn.execute(statement):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


# --- invariants ----------------------------------------------------------------------------


def test_seeded_history_keeps_every_stock_and_order_invariant(seeded):
    assert_invariants(seeded)


def test_backorder_rate_is_between_three_and_eight_percent(seeded):
    lines = _scalar(seeded, select(func.count()).select_from(OrderLine))
    short = _scalar(seeded, select(func.count(func.distinct(Backorder.order_line_id))))
    assert 0.03 <= short / lines <= 0.08, f"{short} of {lines} lines"


def test_demand_summary_matches_the_order_lines_and_backorders(seeded):
    with seeded.connect() as conn:
        demand = conn.execute(
            select(
                func.sum(DemandDaily.lines),
                func.sum(DemandDaily.qty_ordered),
                func.sum(DemandDaily.lines_short),
                func.sum(DemandDaily.qty_short),
            )
        ).one()
        lines = conn.execute(select(func.count(), func.sum(OrderLine.qty_ordered))).one()
        backorders = conn.execute(select(func.count(), func.sum(Backorder.qty))).one()
    assert (demand[0], demand[1]) == tuple(lines)
    assert (demand[2], demand[3]) == tuple(backorders)


def test_each_filled_backorder_has_allocations_summing_to_what_was_filled(seeded):
    given = (
        select(Allocation.backorder_id, func.sum(Allocation.qty).label("qty"))
        .group_by(Allocation.backorder_id)
        .subquery()
    )
    with seeded.connect() as conn:
        mismatched = conn.execute(
            select(func.count())
            .select_from(Backorder)
            .outerjoin(given, given.c.backorder_id == Backorder.id)
            .where(func.coalesce(given.c.qty, 0) != Backorder.qty_filled)
        ).scalar_one()
        filled = conn.execute(select(func.count()).where(Backorder.status == "filled")).scalar_one()
    assert filled > 0
    assert mismatched == 0


def test_cancelled_backorders_say_why_and_every_backorder_has_a_root_cause(seeded):
    with seeded.connect() as conn:
        cancelled_without_reason = conn.execute(
            select(func.count()).where(
                Backorder.status == "cancelled",
                (Backorder.cancel_reason.is_(None)) | (Backorder.closed_at.is_(None)),
            )
        ).scalar_one()
        causes = set(conn.execute(select(Backorder.root_cause).distinct()).scalars())
    assert cancelled_without_reason == 0
    assert causes <= ROOT_CAUSES
    assert len(causes) >= 3


def test_open_backorders_are_recent(seeded):
    oldest = _scalar(
        seeded, select(func.min(Backorder.created_at)).where(Backorder.status == "open")
    )
    if isinstance(oldest, str):
        oldest = dt.datetime.fromisoformat(oldest)
    assert oldest is not None
    assert (dt.datetime.combine(TODAY, dt.time()) - oldest).days <= 40


def test_receipts_follow_sending_and_some_purchase_orders_are_still_open(seeded):
    with seeded.connect() as conn:
        early = conn.execute(
            select(func.count())
            .select_from(Receipt)
            .join(PurchaseOrderLine, PurchaseOrderLine.id == Receipt.po_line_id)
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
            .where(Receipt.received_at <= PurchaseOrder.sent_at)
        ).scalar_one()
        statuses = dict(
            conn.execute(
                select(PurchaseOrder.status, func.count()).group_by(PurchaseOrder.status)
            ).all()
        )
    assert early == 0
    assert statuses["received"] > 0
    assert statuses.get("sent", 0) + statuses.get("partially_received", 0) > 0
    assert statuses["draft"] > 0


def test_some_deliveries_are_late_and_most_are_on_time(seeded):
    with seeded.connect() as conn:
        delivered = conn.execute(
            select(Shipment.promised_date, Shipment.delivered_at).where(
                Shipment.status == "delivered"
            )
        ).all()
    late = sum(1 for promised, at in delivered if at.date() > promised)
    assert 0 < late < len(delivered) / 2


def test_substitutes_share_a_use_and_some_add_an_allergen(seeded):
    with seeded.connect() as conn:
        other = Product.__table__.alias("other")
        pairs = conn.execute(
            select(Product.use, other.c.use, Substitute.note)
            .join(Product, Product.id == Substitute.product_id)
            .join(other, other.c.id == Substitute.substitute_id)
        ).all()
    assert pairs
    assert all(mine == theirs for mine, theirs, _ in pairs)
    assert any("also contains" in note for _, _, note in pairs)


def _item(name: str) -> str:
    """The catalogue item a demo product name is made of ("Brand Organic Icing sugar, 5 kg")."""
    found = [item for item in CATALOGUE_ITEMS if f"{item}," in name]
    assert found, name
    return max(found, key=len)


CATALOGUE_ITEMS = sorted(
    {
        item.partition("|")[0]
        for fams in catalogue.FAMILIES.values()
        for f in fams
        for item in f.items
    }
)


def test_icing_sugar_and_brown_sugar_serve_different_uses():
    assert catalogue.item_use("Icing sugar") != catalogue.item_use("Light brown sugar")
    assert catalogue.item_use("Caster sugar") == catalogue.item_use("Granulated sugar")
    assert catalogue.item_use("Cocoa powder") != catalogue.item_use("Baking powder")


def test_every_product_has_the_use_of_its_item_and_substitutes_share_it(seeded):
    with seeded.connect() as conn:
        products = conn.execute(select(Product.name, Product.use)).all()
        other = Product.__table__.alias("other")
        pairs = conn.execute(
            select(Product.name, other.c.name)
            .select_from(Substitute)
            .join(Product, Product.id == Substitute.product_id)
            .join(other, other.c.id == Substitute.substitute_id)
        ).all()
    assert all(use == catalogue.item_use(_item(name)) for name, use in products)
    assert pairs
    for mine, theirs in pairs:
        assert catalogue.item_use(_item(mine)) == catalogue.item_use(_item(theirs)), (mine, theirs)


def test_the_ranking_offers_only_products_of_the_same_use(seeded):
    from sqlalchemy.orm import Session

    from models.substitutes import substitutes_for
    from queries.catalogue import alternatives

    with seeded.connect() as conn:
        listed = conn.execute(
            select(Substitute.product_id, Product.use)
            .join(Product, Product.id == Substitute.product_id)
            .distinct()
            .order_by(Substitute.product_id)
        ).all()
    uses = dict(listed)
    offered = 0
    with Session(seeded) as session:
        for product_id, use in listed:
            ranked = substitutes_for(session, product_id, None, TODAY)
            assert set(ranked["use"]) <= {use}
            offered += len(ranked)
    assert offered > 0
    with seeded.connect() as conn:
        id_use = dict(conn.execute(select(Product.id, Product.use)).all())
    for product_id in uses:
        shown = alternatives(seeded, product_id, 1)
        assert {id_use[int(p)] for p in shown["product_id"]} <= {uses[product_id]}


# --- notifications -------------------------------------------------------------------------


def _user_id(conn, username: str) -> int:
    return conn.execute(select(User.id).where(User.username == username)).scalar_one()


def test_demo_inboxes_do_not_start_empty(seeded):
    from queries.notifications import inbox_messages

    with seeded.connect() as conn:
        customer1 = inbox_messages(conn, _user_id(conn, "customer1"), ["customer"], 1)
        manager = inbox_messages(conn, _user_id(conn, "manager"), ["warehouse_manager"])
        buyer = inbox_messages(conn, _user_id(conn, "buyer"), ["purchasing_manager"])
        sales1 = inbox_messages(conn, _user_id(conn, "sales1"), ["sales_rep"])
        customer2 = inbox_messages(conn, _user_id(conn, "customer2"), ["customer"], 2)
    assert {m.kind for m in customer1} >= {"backorder_created"}
    assert any(m.subject.startswith("SO-") and "expected by" in m.subject for m in customer1)
    assert {m.kind for m in manager} == {"low_stock"}
    assert {m.kind for m in buyer} == {"low_stock"}
    assert sales1
    assert not {m.notification_id for m in customer1} & {m.notification_id for m in customer2}


def test_demo_notifications_follow_the_rules(seeded):
    from data.notices import RULES

    with seeded.connect() as conn:
        rows = conn.execute(
            select(
                Notification.kind,
                Notification.role,
                Notification.user_id,
                Notification.customer_id,
                Notification.dedup_key,
                Notification.created_at,
            ).order_by(Notification.id)
        ).all()
        rep_of_user = dict(conn.execute(select(User.id, User.sales_rep_id)).all())
        rep_of_customer = dict(conn.execute(select(Customer.id, Customer.sales_rep_id)).all())
    assert rows
    seen: dict[tuple, dt.datetime] = {}
    for kind, role, user_id, customer_id, key, created in rows:
        rule = RULES[kind]
        if role == "customer":
            assert rule.to_customer and customer_id is not None
        elif role is not None:
            assert role in rule.roles
        else:
            assert rule.to_sales_rep
            assert rep_of_user[user_id] == rep_of_customer[customer_id]
        audience = (kind, key, role, user_id)
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        if audience in seen:
            assert created - seen[audience] >= dt.timedelta(hours=24), audience
        seen[audience] = created


# --- demo users ----------------------------------------------------------------------------


def test_every_role_has_a_demo_user(seeded):
    with seeded.connect() as conn:
        roles = set(conn.execute(select(UserRole.role)).scalars())
    assert roles == set(ROLES)


@pytest.mark.parametrize("user", DEMO_USERS, ids=lambda u: u.username)
def test_demo_password_verifies_against_its_hash(user):
    stored = password_hash(user.password).encode()
    assert bcrypt.checkpw(user.password.encode(), stored)
    assert not bcrypt.checkpw(b"wrong-password", stored)


def test_demo_users_are_stored_with_their_password_hashes(seeded):
    with seeded.connect() as conn:
        stored = dict(conn.execute(select(User.username, User.password_hash)).all())
    assert stored == {user.username: password_hash(user.password) for user in DEMO_USERS}


def test_demo_customers_have_different_sales_reps_and_sales1_is_the_first(seeded):
    with seeded.connect() as conn:
        links = dict(
            conn.execute(
                select(User.username, Customer.sales_rep_id).join(
                    Customer, Customer.id == User.customer_id
                )
            ).all()
        )
        sales1 = conn.execute(select(User.sales_rep_id).where(User.username == "sales1")).scalar()
    assert links["customer1"] == sales1 == 1
    assert links["customer2"] != links["customer1"]


def test_customer1_has_open_backorders_and_delivered_orders(seeded):
    with seeded.connect() as conn:
        open_backorders = conn.execute(
            select(func.count()).where(Backorder.customer_id == 1, Backorder.status == "open")
        ).scalar_one()
        delivered = conn.execute(
            select(func.count()).where(Order.customer_id == 1, Order.status == "delivered")
        ).scalar_one()
        in_stock = conn.execute(
            select(func.count()).where(Stock.on_hand - Stock.reserved > 0)
        ).scalar_one()
    assert open_backorders >= 1
    assert delivered >= 5
    assert in_stock > 0


# --- determinism and loading ---------------------------------------------------------------


def _second_database(engine: Engine, tmp_path) -> tuple[Engine, str | None]:
    """Another empty database on the same backend as ``engine``."""
    if engine.dialect.name == "sqlite":
        other = make_engine(f"sqlite:///{tmp_path / 'second.db'}")
        schema = None
    else:
        other, schema = pg_schema_engine()
    Base.metadata.create_all(other)
    return other, schema


def test_same_seed_and_day_give_identical_data(engine, tmp_path):
    other, schema = _second_database(engine, tmp_path)
    try:
        first = generate(engine, scale="tiny", today=TODAY)
        second = generate(other, scale="tiny", today=TODAY)
        assert first == second
        assert _fingerprint(engine) == _fingerprint(other)
    finally:
        if schema:
            drop_pg_schema(other, schema)
        else:
            other.dispose()


def test_another_seed_gives_other_data():
    first = build_rows("tiny", seed=7, today=TODAY)["order_lines"].rows
    other = build_rows("tiny", seed=8, today=TODAY)["order_lines"].rows
    assert first != other


def test_history_ends_on_the_given_day():
    rows = build_rows("tiny", today=TODAY)
    placed = [row[3] for row in rows["orders"].rows]
    assert max(placed).startswith(TODAY.isoformat())
    assert min(placed) >= (TODAY - dt.timedelta(days=119)).isoformat()


def test_nothing_in_the_history_lies_after_noon_of_its_last_day():
    noon = f"{TODAY.isoformat()} 12:00:00"
    ahead = {}
    for name, table in build_rows("tiny", today=TODAY).items():
        for k, column in enumerate(table.columns):
            stamps = [
                row[k][:19]
                for row in table.rows
                if isinstance(row[k], str) and TIMESTAMP.match(row[k])
            ]
            if any(stamp > noon for stamp in stamps):
                ahead[f"{name}.{column}"] = max(stamps)
    assert ahead == {}


@pytest.mark.parametrize(
    ("moment", "day"),
    [
        (dt.datetime(2026, 12, 4, 0, 4), dt.date(2026, 12, 3)),
        (dt.datetime(2026, 12, 4, 11, 59, 59), dt.date(2026, 12, 3)),
        (dt.datetime(2026, 12, 4, 12, 0), dt.date(2026, 12, 4)),
        (dt.datetime(2026, 12, 4, 23, 30), dt.date(2026, 12, 4)),
    ],
)
def test_a_demo_made_before_noon_ends_the_day_before(moment, day):
    # The history stops at noon of its last day: made in the morning, that day is yesterday,
    # so no order of the demo is placed after a real one placed at once.
    assert last_day(moment) == day


def test_seeding_a_database_with_products_is_refused(seeded):
    before = _scalar(seeded, select(func.count()).select_from(OrderLine))
    with pytest.raises(DatabaseNotEmpty):
        generate(seeded, scale="tiny", today=TODAY)
    assert _scalar(seeded, select(func.count()).select_from(OrderLine)) == before


def test_new_rows_get_fresh_ids_after_seeding(seeded):
    with seeded.connect() as conn, conn.begin() as transaction:
        new_id = conn.execute(
            insert(Warehouse).values(code="SPARE", name="Spare").returning(Warehouse.id)
        ).scalar_one()
        transaction.rollback()
    assert new_id == 2


def test_unknown_scale_is_refused():
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        build_rows("huge")


# --- seasons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segment", "busy", "quiet"),
    [
        ("Event caterer", dt.date(2025, 12, 15), dt.date(2025, 2, 12)),  # December parties
        ("Event caterer", dt.date(2025, 7, 16), dt.date(2025, 2, 12)),  # summer weddings
        ("Hotel", dt.date(2025, 12, 16), dt.date(2025, 1, 21)),
        ("School", dt.date(2025, 10, 8), dt.date(2025, 8, 13)),  # term time vs summer holiday
    ],
)
def test_season_factor_is_higher_in_the_busy_season(segment, busy, quiet):
    factors = season_factors((segment,), [busy, quiet])
    assert factors[0, 0] > 1.3 * factors[0, 1]


def test_event_caterers_order_more_in_december_than_in_october():
    rows = build_rows("tiny", today=dt.date(2025, 12, 31))["demand_daily"].rows
    by_month = {10: 0, 12: 0}
    for day, _, segment, _, _, qty, _, _ in rows:
        month = int(day[5:7])
        if segment == "Event caterer" and month in by_month:
            by_month[month] += qty
    assert by_month[12] > 1.3 * by_month[10]


def test_every_segment_orders_something():
    rows = build_rows("tiny", today=TODAY)["demand_daily"].rows
    assert {row[2] for row in rows} == set(SEGMENTS)
