"""Backorder risk: point-in-time snapshots without look-ahead, and a classifier vs the rule."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from models.risk import RiskHistory, backtest_table, build_snapshots, train_risk

REPO = Path(__file__).resolve().parents[1]
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
    return subprocess.run(
        [sys.executable, "-m", "models.backtest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
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


def test_train_risk_tests_on_later_snapshots_with_a_gap():
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
    model, metrics = train_risk(history, horizon_weeks=2, max_iter=20)
    # Two weeks of snapshot dates between the training and the test set are left out.
    assert metrics["train_rows"] + metrics["test_rows"] == metrics["snapshots"] - 2 * n
    # Only the thin half ever goes short: every healthy product ranks below every positive, and
    # the thin half's own quiet fortnights tie with its busy ones (about 0.86 at best).
    assert metrics["model"]["roc_auc"] > 0.8
    assert metrics["rule"]["roc_auc"] == pytest.approx(0.5)  # no product is below 5
    assert model.horizon_weeks == 2
    assert set(model.features) <= set(model.reference.index)
