"""The training job and the database histories, on a small hand-made wholesaler."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from data.db import make_engine, write_session
from data.schema import (
    AuditLog,
    Base,
    Carrier,
    Customer,
    DemandDaily,
    Feedback,
    Forecast,
    ModelRun,
    Order,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Shipment,
    Stock,
    Supplier,
    Warehouse,
)
from models import registry
from models import train as train_module
from models.demand import DemandForecaster
from models.history import demand_history, lead_time_history, transit_history
from models.leadtime import (
    SUPPLIER_LEVELS,
    figures_from_levels,
    first_level_figures,
    supplier_levels,
)
from models.promise import estimate_backorder
from models.train import train_all
from queries import purchasing, shipments

START = dt.date(2025, 1, 6)  # a Monday
DAYS = 280
FAST_MODEL = {"max_iter": 40}  # enough to learn this small history, quick on a busy machine
COMMENTS = [
    "Great service, fresh and on time. Thank you!",
    "Terrible, the order was late and the cream was spoiled.",
]


def _build(engine) -> dict:
    rng = np.random.default_rng(5)
    with write_session(engine) as s:
        wh = Warehouse(code="MAIN", name="Main")
        quick = Supplier(code="QUICK", name="Quick Foods", lead_time_days=3)
        slow = Supplier(code="SLOW", name="Slow Imports", lead_time_days=10)
        carrier = Carrier(code="VAN", name="Van Co", transit_days=2)
        s.add_all([wh, quick, slow, carrier])
        s.flush()
        products = []
        for i, (supplier, category) in enumerate(
            [(quick, "Dairy"), (quick, "Dairy"), (slow, "Dry goods"), (slow, "Beverages")]
        ):
            p = Product(
                sku=f"P{i}",
                name=f"P{i}",
                category=category,
                use="x",
                unit="each",
                cost=Decimal("2"),
                price=Decimal("3"),
                supplier_id=supplier.id,
            )
            s.add(p)
            products.append(p)
        customer = Customer(code="C1", name="C1", segment="Hotel", region="North", tier="gold")
        s.add(customer)
        s.flush()
        for p in products:
            s.add(Stock(product_id=p.id, warehouse_id=wh.id, on_hand=0, reserved=0))
        demand_rows = []
        for n, p in enumerate(products):
            for d in range(DAYS):
                day = START + dt.timedelta(days=d)
                qty = int(rng.poisson(3 + n + (4 if day.weekday() < 5 else 0)))
                if qty:
                    demand_rows.append(
                        {
                            "day": day,
                            "product_id": p.id,
                            "segment": "Hotel",
                            "qty_ordered": qty,
                            "lines": 1,
                        }
                    )
        s.execute(insert(DemandDaily), demand_rows)
        for k in range(40):
            supplier, product = (quick, products[k % 2]) if k % 2 else (slow, products[2])
            sent = dt.datetime.combine(START, dt.time(9)) + dt.timedelta(days=5 * k)
            quoted = supplier.lead_time_days
            late = int(rng.integers(0, 3)) + (2 if supplier is slow else 0)
            po = PurchaseOrder(
                number=f"PO-{k}",
                supplier_id=supplier.id,
                warehouse_id=wh.id,
                status="received",
                sent_at=sent,
                expected_date=(sent + dt.timedelta(days=quoted)).date(),
                original_expected_date=(sent + dt.timedelta(days=quoted)).date(),
            )
            s.add(po)
            s.flush()
            line = PurchaseOrderLine(
                po_id=po.id,
                product_id=product.id,
                qty_ordered=10,
                qty_received=10,
                unit_cost=Decimal("2"),
            )
            s.add(line)
            s.flush()
            s.add(
                Receipt(
                    po_line_id=line.id, qty=10, received_at=sent + dt.timedelta(days=quoted + late)
                )
            )
        for k in range(40):
            shipped = dt.datetime.combine(START, dt.time(14)) + dt.timedelta(days=6 * k)
            order = Order(number=f"SO-{k}", customer_id=customer.id, placed_at=shipped)
            s.add(order)
            s.flush()
            s.add(
                Shipment(
                    number=f"SH-{k}",
                    direction="outbound",
                    order_id=order.id,
                    carrier_id=carrier.id,
                    status="delivered",
                    shipped_at=shipped,
                    delivered_at=shipped + dt.timedelta(days=int(rng.integers(1, 4))),
                    promised_date=(shipped + dt.timedelta(days=2)).date(),
                )
            )
            s.add(
                Feedback(
                    customer_id=customer.id,
                    order_id=order.id,
                    csat=5 - 3 * (k % 2),
                    comment=COMMENTS[k % 2],
                )
            )
        s.flush()
        return {"products": [p.id for p in products], "customer": customer.id}


def test_weekly_demand_is_summed_in_the_database(engine):
    ids = _build(engine)
    frame, categories = demand_history(engine, "W")
    assert frame["date"].dt.day_of_week.eq(0).all()  # every period starts on a Monday
    assert len(frame) == 4 * (DAYS // 7)
    with Session(engine) as s:
        total = s.execute(
            select(func.sum(DemandDaily.qty_ordered)).where(
                DemandDaily.product_id == ids["products"][0]
            )
        ).scalar_one()
    assert frame.loc[frame["item"] == ids["products"][0], "qty"].sum() == total
    assert categories[ids["products"][2]] == "Dry goods"


def test_lead_and_transit_histories(engine):
    _build(engine)
    lead = lead_time_history(engine)
    assert len(lead) == 40
    assert lead["days"].between(3, 15).all()
    assert set(lead["category"]) == {"Dairy", "Dry goods"}
    transit = transit_history(engine)
    assert len(transit) == 40 and set(transit["region"]) == {"North"}
    assert transit["days"].between(1, 3).all()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training run shared by the tests below (they only read what it wrote)."""
    tmp = tmp_path_factory.mktemp("train")
    engine = make_engine(f"sqlite:///{tmp / 'larder.db'}")
    Base.metadata.create_all(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "ARTIFACT_DIR", tmp / "artifacts")
        ids = _build(engine)
        runs = train_all(
            engine,
            freq="W",
            horizon=4,
            origins=1,
            thresholds=True,
            log=lambda _: None,
            model_params=FAST_MODEL,
        )
    yield engine, ids, runs
    engine.dispose()


def test_every_kind_is_recorded_as_a_successful_run(trained):
    engine, _, runs = trained
    assert {k: r.status for k, r in runs.items()} == dict.fromkeys(
        ("demand", "lead_time", "transit", "sentiment", "promise", "backorder_risk"), "ok"
    )
    with Session(engine) as s:
        assert s.scalar(select(func.count(ModelRun.id))) == 6
    demand = registry.latest(engine, "demand")
    assert isinstance(demand.model, DemandForecaster)
    assert demand.metrics["methods"]["model"]["rmsse"] > 0
    assert sum(demand.metrics["methods_in_use"].values()) == 4


def test_forecasts_are_written_per_product_and_period(trained):
    engine, ids, runs = trained
    with Session(engine) as s:
        rows = (
            s.execute(select(Forecast).where(Forecast.model_run_id == runs["demand"].id))
            .scalars()
            .all()
        )
    assert len(rows) == 4 * 4
    assert all(r.p90 >= r.p50 >= 0 for r in rows)
    # Each product's rows name the method that serves it, the same one the model recorded.
    model = registry.latest(engine, "demand").model
    served = dict(zip(model.panel_.items, model.method_, strict=True))
    assert {r.product_id: r.method for r in rows} == {int(k): v for k, v in served.items()}


def test_the_method_serving_each_product_is_read_back_per_product(trained):
    from data.db import read_connection
    from queries.model_runs import demand_methods_by_product

    engine, ids, _ = trained
    with read_connection(engine) as conn:
        table = demand_methods_by_product(conn)
    model = registry.latest(engine, "demand").model
    assert list(table["product_id"]) == sorted(ids["products"])
    expected = {int(k): v for k, v in zip(model.panel_.items, model.method_, strict=True)}
    assert dict(zip(table["product_id"], table["method"], strict=True)) == expected


def test_sentiment_is_filled_where_empty(trained):
    engine, _, runs = trained
    with Session(engine) as s:
        scores = dict(s.execute(select(Feedback.comment, Feedback.sentiment).distinct()).all())
    assert scores[COMMENTS[0]] > 0.5 and scores[COMMENTS[1]] < -0.3
    assert runs["sentiment"].metrics["scored_now"] == 40


def test_thresholds_follow_demand_with_an_audit_row(trained):
    engine, ids, _ = trained
    with Session(engine) as s:
        products = s.scalars(select(Product).order_by(Product.id)).all()
        audits = s.scalars(select(AuditLog).where(AuditLog.actor == "model")).all()
    assert all(p.reorder_point > p.safety_stock > 0 for p in products)
    assert all(p.order_up_to > p.reorder_point for p in products)
    # Slow Imports' products wait longer, so they need a higher reorder point per unit of demand.
    assert products[2].reorder_point > products[1].reorder_point
    assert len(audits) == 4 and audits[0].note.startswith("covers ")


def test_promises_use_the_learned_lead_times_from_the_latest_run(trained):
    engine, ids, _ = trained
    with Session(engine) as s:
        est = estimate_backorder(s, ids["products"][2], 5, ids["customer"], dt.date(2025, 10, 1))
    assert "Slow Imports's lead time" in est.reason
    assert "quoted" not in est.reason
    assert est.late >= est.likely > dt.date(2025, 10, 1)


def test_supplier_and_carrier_records_read_the_trained_duration_models(trained):
    """The pages' supplier scorecard and carrier table take their figures from the latest
    lead-time and transit runs, whatever kind of duration model those runs hold."""
    engine, _, runs = trained
    record = purchasing.lead_time_record(engine)
    assert record.source == f"model run {runs['lead_time'].id}"
    table = record.table.set_index("supplier")
    # Slow Imports: quoted 10 days, 2-4 days late; Quick Foods: quoted 3, 0-2 days late.
    assert 12 <= table.loc["Slow Imports", "lead_p50"] <= 14
    assert 3 <= table.loc["Quick Foods", "lead_p50"] <= 5
    assert table.loc["Slow Imports", "lead_p90"] >= table.loc["Slow Imports", "lead_p50"]
    assert list(table["lead_n"]) == [20, 20]
    assert 2 <= table.loc["Slow Imports", "delay_p50"] <= 4
    carriers = shipments.transit_times(engine, today=START + dt.timedelta(days=DAYS))
    van = carriers.table.set_index("carrier").loc["Van Co"]
    assert carriers.source == f"model run {runs['transit'].id}"
    assert 1 <= van["p50"] <= 3  # delivered 1 to 3 days after shipping
    assert van["n"] == 40


def test_the_lead_time_run_keeps_each_suppliers_own_figures(trained):
    """The run keeps what the model says of each supplier it learned, so the pages read a row;
    the record read from it is the one the model gives, figure for figure."""
    engine, _, runs = trained
    kept = runs["lead_time"].metrics[SUPPLIER_LEVELS]
    model = registry.latest(engine, "lead_time").model
    with engine.connect() as conn:
        suppliers = conn.execute(select(Supplier.id).order_by(Supplier.id)).scalars().all()
    assert len(suppliers) == 2
    for name in ("lead", "delay"):
        own = first_level_figures(model[name], suppliers)
        assert kept[name] == {
            str(sid): [float(p50), float(p90), int(n)]
            for sid, p50, p90, n in zip(suppliers, own["p50"], own["p90"], own["n"], strict=True)
        }
        assert [entry[2] for entry in kept[name].values()] == [20, 20]


def test_the_record_from_the_kept_figures_equals_the_one_from_the_model(trained, monkeypatch):
    engine, _, runs = trained

    def no_model(conn):
        raise AssertionError("the record loaded the model although the run keeps its figures")

    with monkeypatch.context() as patch:
        patch.setattr(purchasing, "_models", no_model)
        kept = purchasing.lead_time_record(engine)
    monkeypatch.setattr(purchasing, "_stored_levels", lambda conn: None)
    from_model = purchasing.lead_time_record(engine)
    assert kept.source == from_model.source == f"model run {runs['lead_time'].id}"
    pd.testing.assert_frame_equal(kept.table, from_model.table)


def test_a_supplier_the_model_never_saw_has_no_figures_of_its_own(trained):
    engine, _, _ = trained
    model = registry.latest(engine, "lead_time").model["lead"]
    with engine.connect() as conn:
        known = conn.execute(select(Supplier.id).order_by(Supplier.id)).scalars().first()
    own = first_level_figures(model, [known, 999_999])
    assert own.loc[0, "n"] == 20 and np.isfinite(own.loc[0, "p50"])
    assert np.isnan(own.loc[1, "p50"]) and np.isnan(own.loc[1, "p90"]) and own.loc[1, "n"] == 0
    assert set(supplier_levels(model, [known, 999_999])) == {str(known)}
    figures = figures_from_levels(supplier_levels(model, [known]), [known, 999_999])
    assert figures.loc[0, "n"] == 20 and figures.loc[1, "n"] == 0
    assert np.isnan(figures.loc[1, "p50"])


def test_a_kind_without_data_is_recorded_as_failed(sqlite_engine, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path / "artifacts")
    runs = train_all(sqlite_engine, kinds=("lead_time",), log=lambda _: None)
    assert runs["lead_time"].status == "failed"
    assert "no received purchase orders" in runs["lead_time"].metrics["error"]
    assert registry.latest(sqlite_engine, "lead_time") is None


@pytest.mark.parametrize(
    ("last_day", "freq", "expected"),
    [
        (
            dt.date(2026, 11, 24),
            "W",
            dt.date(2026, 11, 22),
        ),  # a Tuesday: last full week ended Sunday
        (dt.date(2026, 11, 29), "W", dt.date(2026, 11, 29)),  # a Sunday ends its week
        (dt.date(2026, 11, 24), "M", dt.date(2026, 10, 31)),
        (dt.date(2026, 11, 30), "M", dt.date(2026, 11, 30)),
        (dt.date(2026, 11, 24), "D", dt.date(2026, 11, 24)),
    ],
)
def test_a_period_still_running_is_left_out(last_day, freq, expected):
    from models.history import last_complete_day

    assert last_complete_day(last_day, freq) == expected


def test_if_untrained_trains_nothing_when_every_kind_has_a_run(trained, monkeypatch, capsys):
    engine, _, _ = trained
    called = []
    monkeypatch.setattr(train_module, "train_all", lambda *args, **kw: called.append(args))
    assert train_module.main(["--database", str(engine.url), "--if-untrained"]) == 0
    assert called == []
    assert "nothing to train" in capsys.readouterr().out


def test_if_untrained_trains_only_the_missing_kinds(sqlite_engine, tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path / "artifacts")
    with sqlite_engine.begin() as conn:
        # sentiment has a loadable model; lead_time's artifact is gone (another machine's disk)
        for kind, artifact in (
            ("sentiment", str(registry.save_artifact({"cut_off": 0.05}, "sentiment", "v1"))),
            ("lead_time", "data/artifacts/lead_time-lost.joblib"),
        ):
            conn.execute(
                ModelRun.__table__.insert().values(
                    kind=kind, version="v1", status="ok", params={}, metrics={}, artifact=artifact
                )
            )
    asked = []

    def fake_train_all(engine, freq, horizon, origins, thresholds, kinds):
        asked.append(kinds)
        return {}

    monkeypatch.setattr(train_module, "train_all", fake_train_all)
    assert train_module.main(["--database", str(sqlite_engine.url), "--if-untrained"]) == 0
    assert asked == [("demand", "lead_time", "transit", "promise", "backorder_risk")]


def test_a_history_without_backorders_gives_every_product_no_risk(trained):
    from models.risk import score

    engine, _, _ = trained
    risk = registry.latest(engine, "backorder_risk")
    assert "same label" in risk.metrics["note"]
    state = pd.DataFrame(
        {
            "supplier_id": [1],
            "quoted_days": [3.0],
            "on_hand": [0],
            "reserved": [0],
            "on_order": [0],
            "backordered_units": [0],
            "demand_28d": [50],
            "demand_56d": [100],
            "demand_84d": [150],
            "reorder_point": [10],
        }
    )
    scored = score(risk.model, state)
    assert scored["risk"].tolist() == [0.0]
    assert scored["rule"].tolist() == [1]


def test_a_large_demand_panel_is_backtested_from_one_origin(sqlite_engine, monkeypatch):
    from models import train

    _build(sqlite_engine)
    asked = train.train_demand(sqlite_engine, "W", 4, 2, FAST_MODEL)
    assert asked.params["origins"] == 2 and "origins_asked" not in asked.params
    assert len(asked.metrics["origins"]) == 2
    # The four products' weeks count as a large panel once the bar is below them.
    cells = len(asked.model.panel_.items) * len(asked.model.panel_.periods)
    monkeypatch.setattr(train, "LARGE_PANEL_CELLS", cells)
    large = train.train_demand(sqlite_engine, "W", 4, 2, FAST_MODEL)
    assert large.params["origins"] == 1 and large.params["origins_asked"] == 2
    assert str(cells) in large.params["origins_why"].replace(",", "")
    # The one origin is the later of the two.
    assert large.metrics["origins"] == asked.metrics["origins"][-1:]
    assert (
        large.metrics["global_model_rows"]["fitted"]
        <= large.metrics["global_model_rows"]["available"]
    )
