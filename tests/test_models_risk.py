"""Backorder risk: point-in-time snapshots without look-ahead, and a classifier vs the rule."""

import contextlib
import datetime as dt
import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from models.risk import RiskHistory, backtest_table, build_snapshots, train_risk

DAYS = 120


def _history(**events) -> RiskHistory:
    """Two products of supplier 7 over 120 days; ``events`` fill (product row, day) cells."""
    empty = {
        name: np.zeros((2, DAYS))
        for name in (
            "on_hand",
            "reserved",
            "demand",
            "sent",
            "received",
            "bo_created",
            "bo_count",
            "bo_closed",
        )
    }
    for name, cells in events.items():
        if name == "receipts":
            continue
        for (row, day), value in cells.items():
            empty[name][row, day] += value
    return RiskHistory(
        start=dt.date(2025, 1, 6),
        days=DAYS,
        products=pd.DataFrame(
            {"product_id": [11, 12], "supplier_id": [7, 7], "reorder_point": [5, 5]}
        ),
        quoted=pd.Series({7: 10.0}),
        receipts=events.get(
            "receipts", pd.DataFrame(columns=["supplier_id", "day", "days", "late"])
        ),
        **empty,
    )


def _row(snaps: pd.DataFrame, product_id: int, day: int) -> pd.Series:
    when = pd.Timestamp(dt.date(2025, 1, 6)) + pd.Timedelta(days=day)
    (found,) = snaps.index[(snaps["product_id"] == product_id) & (snaps["date"] == when)]
    return snaps.loc[found]


def test_a_snapshot_sees_only_the_days_before_it_and_labels_the_weeks_after():
    history = _history(
        on_hand={(0, 0): 50, (0, 56): -40},  # stock falls on day 56 itself
        demand={(0, 50): 7, (0, 56): 100},  # a rush on day 56 itself
        sent={(0, 40): 30},
        received={(0, 56): 30},  # the PO arrives on day 56 itself
        bo_created={(0, 83): 3},
        bo_count={(0, 83): 1},  # product 11 goes on backorder on day 83
        receipts=pd.DataFrame(
            {"supplier_id": [7, 7], "day": [30, 56], "days": [10.0, 40.0], "late": [0.0, 1.0]}
        ),
    )
    snaps = build_snapshots(history, horizon_weeks=4, every_days=7, warm_up_days=28)
    at56 = _row(snaps, 11, 56)
    # Nothing of day 56 itself: the stock, the demand and the PO are as they were on day 55.
    assert at56["available"] == 50
    assert at56["demand_28d"] == 7
    assert at56["on_order"] == 30
    # The supplier record holds the receipt of day 30 only, shrunk to the 10-day quote.
    assert at56["lead_days"] == pytest.approx((10 + 5 * 10) / 6)
    # Its late receipt of day 56 is not known yet: no lateness at all.
    assert at56["supplier_late_rate"] == 0.0
    assert _row(snaps, 11, 63)["supplier_late_rate"] == pytest.approx((1 + 5 * 0.5) / 7)
    # The backorder of day 83 lies in [56, 84): labelled; from day 63 on the window still holds
    # it, at day 84 it is in the past and the label is 0.
    assert at56["label"] == 1
    assert _row(snaps, 11, 49)["label"] == 0  # [49, 77) misses day 83
    assert _row(snaps, 11, 63)["label"] == 1
    at63 = _row(snaps, 11, 63)
    assert at63["available"] == 10 and at63["demand_28d"] == 107 and at63["on_order"] == 0
    # The other product saw nothing at all.
    assert snaps.loc[snaps["product_id"] == 12, "label"].sum() == 0
    # No snapshot's label window runs past the end of the history.
    last = snaps["date"].max() - pd.Timestamp(dt.date(2025, 1, 6))
    assert last.days + 28 <= DAYS


def test_the_rule_is_available_below_the_reorder_point():
    history = _history(on_hand={(0, 0): 4, (1, 0): 5})
    snaps = build_snapshots(history, horizon_weeks=4, every_days=7, warm_up_days=28)
    assert set(snaps.loc[snaps["product_id"] == 11, "rule"]) == {1}
    assert set(snaps.loc[snaps["product_id"] == 12, "rule"]) == {0}


def _weak_rule_world(n_products: int = 150, weeks: int = 40, seed: int = 0) -> pd.DataFrame:
    """Snapshots where backorders follow demand against supply, not the reorder point."""
    rng = np.random.default_rng(seed)
    rows = []
    for week in range(weeks):
        demand = rng.gamma(2.0, 10.0, n_products)
        on_order = rng.gamma(2.0, 10.0, n_products)
        available = rng.gamma(2.0, 10.0, n_products)
        late = rng.uniform(0, 0.6, n_products)
        reorder = rng.gamma(2.0, 10.0, n_products)  # set with no regard to demand
        gap = demand * (1 + late) - available - 0.5 * on_order
        p = 1 / (1 + np.exp(-(gap / 8.0)))
        rows.append(
            pd.DataFrame(
                {
                    "week": (pd.Timestamp("2025-01-06") + pd.Timedelta(weeks=week)).date(),
                    "available": available.round(),
                    "reorder_point": reorder.round(),
                    "on_order": on_order.round(),
                    "demand_28d": demand.round(),
                    "supplier_late_rate": late.round(3),
                    "went_on_backorder": (rng.random(n_products) < p).astype(int),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_the_classifier_beats_a_weak_rule_on_the_latest_weeks():
    frame = _weak_rule_world().astype(str)
    result, notes = backtest_table(
        frame,
        "went_on_backorder",
        time_col="week",
        available_col="available",
        reorder_col="reorder_point",
        max_iter=100,
    )
    assert result["model"]["roc_auc"] > result["rule"]["roc_auc"] + 0.2
    assert result["model"]["pr_auc"] > result["rule"]["pr_auc"] + 0.2
    assert result["test_from"] == "2025-07-21"  # weeks 29 to 40: the latest 30 % of dates
    assert result["test_rows"] == 12 * 150
    assert result["train_rows"] + result["test_rows"] == 6000
    assert sorted(result["features"]["numeric"]) == [
        "available",
        "demand_28d",
        "on_order",
        "reorder_point",
        "supplier_late_rate",
    ]


def _hand_made_csv(path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2025-03-01", periods=40, freq="D").strftime("%d/%m/%Y"),
            "stock": [3, 9, 1, 7, 2, 8, 5, 4, 6, 0] * 4,
            "reorder": [5] * 40,
            "score": [0.9, 0.1, 0.8, 0.3, 0.7, 0.2, 0.4, 0.6, 0.5, 0.95] * 4,
            "segment": ["hotel", "school", "cafe", "hotel"] * 10,
            "label": ["yes", "no", "yes", "no", "no", "no", "yes", "yes", "no", "yes"] * 4,
        }
    )
    frame.to_csv(path, index=False)
    return frame


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m models.backtest ARGS`` run in this process (a new interpreter per call spent
    most of these tests' time importing pandas and scikit-learn)."""
    from models.backtest import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([*args, "--threads", "1"])
        except SystemExit as exc:  # argparse refusing the arguments
            code = exc.code
    return subprocess.CompletedProcess(
        ["models.backtest", *args], code, out.getvalue(), err.getvalue()
    )


def test_auc_figures_match_sklearn_on_a_hand_made_csv(tmp_path):
    frame = _hand_made_csv(tmp_path / "risk.csv")
    test = frame.iloc[28:]  # 40 days, the latest 30 %: from day 29 (index 28) on
    truth = (test["label"] == "yes").astype(int).to_numpy()
    args = ["risk", "--history", str(tmp_path / "risk.csv"), "--label-col", "label"]
    args += ["--time-col", "day", "--max-iter", "20", "--json"]
    by_score = _cli(*args, "--rule-col", "score", "--feature-cols", "stock,segment")
    assert by_score.returncode == 0, by_score.stderr
    result = json.loads(by_score.stdout)
    assert result["test_rows"] == 12
    assert result["rule"]["roc_auc"] == pytest.approx(roc_auc_score(truth, test["score"]))
    assert result["rule"]["pr_auc"] == pytest.approx(average_precision_score(truth, test["score"]))
    assert result["features"] == {"numeric": ["stock"], "categorical": ["segment"]}

    by_stock = _cli(*args, "--available-col", "stock", "--reorder-col", "reorder")
    assert by_stock.returncode == 0, by_stock.stderr
    result = json.loads(by_stock.stdout)
    below = (test["stock"] < test["reorder"]).astype(int)
    # By hand: of the 6 positive and 6 negative test rows, the rule ranks ties as halves.
    assert result["rule"]["roc_auc"] == pytest.approx(roc_auc_score(truth, below))
    assert result["rule"]["pr_auc"] == pytest.approx(average_precision_score(truth, below))
    # Every column but the label and the time is a feature by default.
    assert set(result["features"]["numeric"]) == {"stock", "reorder", "score"}


def test_the_text_report_and_a_bad_label_column(tmp_path):
    _hand_made_csv(tmp_path / "risk.csv")
    shown = _cli(
        "risk", "--history", str(tmp_path / "risk.csv"), "--label-col", "label",
        "--time-col", "day", "--available-col", "stock", "--reorder-col", "reorder",
        "--max-iter", "20",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "rule: stock below reorder" in shown.stdout
    assert "roc_auc" in shown.stdout and "classifier" in shown.stdout
    missing = _cli("risk", "--history", str(tmp_path / "risk.csv"), "--label-col", "nope")
    assert missing.returncode == 2
    assert "column 'nope' not found" in missing.stderr
    half = _cli(
        "risk", "--history", str(tmp_path / "risk.csv"), "--label-col", "label",
        "--available-col", "stock",
    )  # fmt: skip
    assert half.returncode == 2
    assert "--reorder-col" in half.stderr


def _thin_and_healthy() -> tuple[RiskHistory, int]:
    """60 products over 400 days: the first half runs thin and goes short now and then."""
    rng = np.random.default_rng(3)
    n, days = 60, 400
    zeros = np.zeros((n, days))
    on_hand = zeros.copy()
    on_hand[:, 0] = np.where(np.arange(n) < 30, 10, 500)  # the first half runs thin
    bo = zeros.copy()
    for row in range(30):  # ... and goes on backorder now and then
        bo[row, rng.choice(days, 25, replace=False)] = 1
    history = RiskHistory(
        start=dt.date(2025, 1, 6),
        days=days,
        products=pd.DataFrame(
            {"product_id": np.arange(n) + 1, "supplier_id": 7, "reorder_point": 5}
        ),
        quoted=pd.Series({7: 10.0}),
        on_hand=on_hand,
        reserved=zeros.copy(),
        demand=rng.poisson(3.0, (n, days)).astype(float),
        sent=zeros.copy(),
        received=zeros.copy(),
        bo_created=bo.copy(),
        bo_count=bo,
        bo_closed=zeros.copy(),
        receipts=pd.DataFrame(columns=["supplier_id", "day", "days", "late"]),
    )
    return history, n


def test_train_risk_tests_on_later_snapshots_with_a_gap():
    history, n = _thin_and_healthy()
    model, metrics = train_risk(history, horizon_weeks=2, max_iter=20)
    # Two weeks of snapshot dates between the training and the test set are left out.
    assert metrics["train_rows"] + metrics["test_rows"] == metrics["snapshots"] - 2 * n
    # Only the thin half ever goes short: every healthy product ranks below every positive, and
    # the thin half's own quiet fortnights tie with its busy ones (about 0.86 at best).
    assert metrics["model"]["roc_auc"] > 0.8
    assert metrics["rule"]["roc_auc"] == pytest.approx(0.5)  # no product is below 5
    assert model.horizon_weeks == 2
    assert set(model.features) <= set(model.reference.index)
    assert metrics["scored_test_rows"] == metrics["test_rows"]  # fewer than the cap: all


def test_the_held_out_score_reads_a_seeded_sample_of_a_large_test_set(monkeypatch):
    import models.risk as risk

    history, _ = _thin_and_healthy()
    _, full = train_risk(history, horizon_weeks=2, max_iter=10)
    monkeypatch.setattr(risk, "MAX_TEST_ROWS", 300)
    _, capped = train_risk(history, horizon_weeks=2, max_iter=10)
    assert full["scored_test_rows"] == full["test_rows"] > 300
    assert capped["scored_test_rows"] == 300 and capped["test_rows"] == full["test_rows"]
    assert capped["model"] != full["model"]  # scored on fewer rows
    _, again = train_risk(history, horizon_weeks=2, max_iter=10)
    assert again["model"] == capped["model"]  # the same seeded sample each time


def _risk_world(engine) -> dict:
    """Two products of one supplier: ledger, demand, backorders and purchase orders on known
    days, some late in the evening, and a cancelled PO that must not count."""
    from decimal import Decimal

    from data.db import write_session
    from data.schema import (
        Backorder,
        Customer,
        DemandDaily,
        Order,
        OrderLine,
        Product,
        PurchaseOrder,
        PurchaseOrderLine,
        Receipt,
        StockLedger,
        Supplier,
        Warehouse,
    )

    start = dt.datetime(2025, 3, 3)

    def at(day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
        return start + dt.timedelta(days=day, hours=hour, minutes=minute)

    with write_session(engine) as s:
        wh = Warehouse(code="MAIN", name="Main")
        supplier = Supplier(code="SUP", name="Supplier", lead_time_days=6)
        customer = Customer(code="C1", name="C1", segment="Hotel", region="North", tier="gold")
        s.add_all([wh, supplier, customer])
        s.flush()
        products = [
            Product(
                sku=f"R{i}",
                name=f"R{i}",
                category="Dairy",
                use="x",
                unit="each",
                cost=Decimal("1"),
                price=Decimal("2"),
                supplier_id=supplier.id,
                reorder_point=4,
                order_up_to=10,
            )  # fmt: skip
            for i in range(2)
        ]
        s.add_all(products)
        s.flush()
        a, b = products
        s.add_all(
            [
                StockLedger(at=at(0, 8), product_id=a.id, warehouse_id=wh.id, on_hand_delta=20,
                            reason="adjust"),
                # Two moves on day 2, the second a minute before midnight: one day's sum.
                StockLedger(at=at(2, 10), product_id=a.id, warehouse_id=wh.id, on_hand_delta=-5,
                            reserved_delta=3, reason="pick"),
                StockLedger(at=at(2, 23, 59), product_id=a.id, warehouse_id=wh.id,
                            on_hand_delta=-2, reason="pick"),
                StockLedger(at=at(9, 0, 1), product_id=b.id, warehouse_id=wh.id,
                            on_hand_delta=7, reason="adjust"),
            ]
        )  # fmt: skip
        s.add_all(
            [
                DemandDaily(day=(start + dt.timedelta(days=d)).date(), product_id=a.id,
                            segment=seg, qty_ordered=q, lines=1)
                for d, seg, q in [(1, "Hotel", 4), (1, "School", 3), (5, "Hotel", 6)]
            ]
        )  # fmt: skip
        order = Order(number="SO-1", customer_id=customer.id, placed_at=at(3))
        s.add(order)
        s.flush()
        lines = [
            OrderLine(order_id=order.id, line_no=n, product_id=p.id, qty_ordered=9, qty_backordered=9,
                      unit_price=Decimal("2"))
            for n, p in enumerate([a, a, b])
        ]  # fmt: skip
        s.add_all(lines)
        s.flush()
        s.add_all(
            [
                Backorder(order_line_id=lines[0].id, product_id=a.id, customer_id=customer.id,
                          qty=4, created_at=at(3, 22), status="filled", qty_filled=4,
                          closed_at=at(8, 23, 30)),
                Backorder(order_line_id=lines[1].id, product_id=a.id, customer_id=customer.id,
                          qty=2, created_at=at(3, 7)),
                Backorder(order_line_id=lines[2].id, product_id=b.id, customer_id=customer.id,
                          qty=5, created_at=at(6, 12)),
            ]
        )  # fmt: skip
        pos = []
        for number, status, sent, expected in [
            ("PO-1", "received", at(1, 21), (start + dt.timedelta(days=7)).date()),
            ("PO-2", "cancelled", at(1, 10), (start + dt.timedelta(days=7)).date()),
        ]:
            po = PurchaseOrder(number=number, supplier_id=supplier.id, warehouse_id=wh.id,
                               status=status, sent_at=sent, expected_date=expected,
                               original_expected_date=expected)  # fmt: skip
            s.add(po)
            s.flush()
            line = PurchaseOrderLine(po_id=po.id, product_id=a.id, qty_ordered=12,
                                     qty_received=12, unit_cost=Decimal("1"))  # fmt: skip
            s.add(line)
            s.flush()
            pos.append(line)
        s.add_all(
            [
                Receipt(po_line_id=pos[0].id, qty=8, received_at=at(9, 23, 45)),  # a day late
                Receipt(po_line_id=pos[0].id, qty=4, received_at=at(11, 8)),
                Receipt(po_line_id=pos[1].id, qty=12, received_at=at(4)),  # cancelled PO
            ]
        )
        s.flush()
        return {"a": a.id, "b": b.id, "supplier": supplier.id}


def test_the_risk_history_is_summed_per_product_and_day_in_the_database(engine):
    from models.risk import read_risk_history

    ids = _risk_world(engine)
    history = read_risk_history(engine)
    assert history.start == dt.date(2025, 3, 3)
    assert history.days == 10  # the ledger's last move is on day 9
    assert list(history.products["product_id"]) == [ids["a"], ids["b"]]
    a, b = 0, 1
    assert history.on_hand[a, :4].tolist() == [20, 0, -7, 0]  # 10:00 and 23:59 on day 2
    assert history.reserved[a, 2] == 3 and history.reserved.sum() == 3
    assert history.on_hand[b, 9] == 7 and history.on_hand[b].sum() == 7
    assert history.demand[a, 1] == 7 and history.demand[a, 5] == 6
    assert history.demand[a].sum() == 13 and history.demand[b].sum() == 0
    assert history.bo_created[a, 3] == 6 and history.bo_count[a, 3] == 2
    assert history.bo_created[b, 6] == 5 and history.bo_count[b].sum() == 1
    assert history.bo_closed[a, 8] == 4 and history.bo_closed.sum() == 4
    # The cancelled PO counts neither as sent nor as received.
    assert history.sent[a, 1] == 12 and history.sent.sum() == 12
    assert history.received[a, 9] == 8 and history.received.sum() == 8  # day 11 lies past the end
    # One received line: first receipt on day 9, 8 days and 2 h 45 min after it was sent at
    # 21:00 on day 1, two days after the expected day 7.
    (row,) = history.receipts.itertuples(index=False)
    assert row.supplier_id == ids["supplier"] and row.day == 9 and row.late == 1.0
    assert row.days == pytest.approx(8 + 2.75 / 24)
    assert history.quoted[ids["supplier"]] == 6.0


def test_the_risk_history_summed_per_week_puts_each_week_on_its_first_day(engine):
    from models.risk import read_risk_history

    ids = _risk_world(engine)
    daily = read_risk_history(engine)
    weekly = read_risk_history(engine, horizon_weeks=4)
    # Ten days: the first snapshot would fall on day 28, so weeks start on days 0 and 7.
    assert (weekly.start, weekly.days, weekly.block_days, weekly.block_first) == (
        dt.date(2025, 3, 3),
        10,
        7,
        0,
    )
    a, b = 0, 1
    assert weekly.demand[a, 0] == 13 and weekly.demand[b].sum() == 0  # days 1 and 5
    assert weekly.bo_created[a, 0] == 6 and weekly.bo_count[a, 0] == 2  # day 3
    assert weekly.bo_created[b, 0] == 5  # day 6
    assert weekly.bo_closed[a, 7] == 4  # day 8
    assert weekly.sent[a, 0] == 12 and weekly.received[a, 7] == 8  # days 1 and 9
    assert weekly.on_hand[b, 7] == 7  # day 9
    for name in ("on_hand", "reserved", "demand", "sent", "received", "bo_created", "bo_closed"):
        by_day, by_week = getattr(daily, name), getattr(weekly, name)
        assert by_week[:, 0].tolist() == by_day[:, :7].sum(axis=1).tolist()
        assert by_week[:, 7].tolist() == by_day[:, 7:].sum(axis=1).tolist()
        assert not by_week[:, 1:7].any() and not by_week[:, 8:].any()
    assert weekly.receipts.equals(daily.receipts)
    assert ids["a"] == weekly.products["product_id"].iloc[0]


def test_weekly_sums_give_the_same_snapshots_as_daily_ones(sqlite_engine):
    from data.demo import generate
    from models.risk import read_risk_history

    generate(sqlite_engine, scale="tiny", seed=7, today=dt.date(2026, 11, 24))
    daily = read_risk_history(sqlite_engine)
    weekly = read_risk_history(sqlite_engine, horizon_weeks=3)
    assert weekly.block_days == 7 and daily.block_days == 1
    expected = build_snapshots(daily, horizon_weeks=3)
    assert len(expected) >= 800 and expected["label"].sum() > 0
    pd.testing.assert_frame_equal(build_snapshots(weekly, horizon_weeks=3), expected)
    # Another horizon moves the snapshot days off the weeks' first days: refused, not wrong.
    with pytest.raises(ValueError, match="blocks of 7 days"):
        build_snapshots(weekly, horizon_weeks=3, warm_up_days=30)
