"""Backorder risk per product: will it go on backorder within the next N weeks?

A classifier learns from point-in-time snapshots of the history. At each snapshot date ``t``
every product's features are rebuilt from what had happened *before* ``t`` (stock from the
ledger, purchase orders sent and not yet received, demand of the last weeks, open backorders,
the supplier's lead time and late record on the POs received by then) and its label is
whether a backorder of that product was created in ``[t, t + N weeks)``. Training and testing
are split in time, with a gap of N weeks so no test label window overlaps a training one.

The simple rule it is compared with is the reorder trigger: available stock below the
reorder point. The live scores (:func:`score`) use the same feature definitions on the stock
of now, with the supplier record as of the last training.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score, roc_auc_score
from sqlalchemy import Date, DateTime, Engine, Integer, cast, func, literal, select

from data.db import read_connection
from data.schema import (
    Backorder,
    DemandDaily,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    StockLedger,
    Supplier,
)
from models.history import plain_rows

DEFAULT_HORIZON_WEEKS = 4
SNAPSHOT_EVERY_DAYS = 7
# The first snapshot waits this long so that every feature has its full look-back.
WARM_UP_DAYS = 91
TEST_SHARE = 0.3
# Pseudo-count pulling a supplier's record towards its quote (lead) or all suppliers (lateness).
SUPPLIER_PRIOR = 5.0
COVER_CAP_DAYS = 365.0

FEATURES = (
    "available",
    "on_order",
    "backordered_units",
    "demand_28d",
    "demand_per_day",
    "demand_trend",
    "lead_days",
    "supplier_late_rate",
    "forecast_over_lead",
    "cover_days",
    "position_after_lead",
    "reorder_point",
)
# How each feature reads in a driver ("what pushes this product's risk up").
FEATURE_LABELS = {
    "available": "available {v:.0f}",
    "on_order": "{v:.0f} on order",
    "backordered_units": "{v:.0f} units already on backorder",
    "demand_28d": "{v:.0f} asked in 28 days",
    "demand_per_day": "demand {v:.1f}/day",
    "demand_trend": "demand trend x{v:.2f}",
    "lead_days": "lead time {v:.0f} days",
    "supplier_late_rate": "supplier late {v:.0%}",
    "forecast_over_lead": "{v:.0f} needed over the lead time",
    "cover_days": "{v:.0f} days of cover",
    "position_after_lead": "{v:+.0f} left after the lead time",
    "reorder_point": "reorder point {v:.0f}",
}


# --- features ------------------------------------------------------------------------------


def features_from_state(state: pd.DataFrame) -> pd.DataFrame:
    """The model's features from a product's state at one moment.

    ``state`` has per product: on_hand, reserved, on_order, backordered_units, demand_28d,
    demand_56d, demand_84d, lead_days, supplier_late_rate, reorder_point.
    """
    per_day = state["demand_56d"].astype(float) / 56.0
    available = state["on_hand"].astype(float) - state["reserved"].astype(float)
    forecast = per_day * state["lead_days"].astype(float)
    earlier = (state["demand_84d"] - state["demand_28d"]).astype(float) / 2.0  # per 28 days
    cover = np.where(
        per_day > 0, np.clip(available / per_day.where(per_day > 0, 1), 0, COVER_CAP_DAYS), 365
    )
    return pd.DataFrame(
        {
            "available": available,
            "on_order": state["on_order"].astype(float),
            "backordered_units": state["backordered_units"].astype(float),
            "demand_28d": state["demand_28d"].astype(float),
            "demand_per_day": per_day,
            "demand_trend": (state["demand_28d"].astype(float) + 1.0) / (earlier + 1.0),
            "lead_days": state["lead_days"].astype(float),
            "supplier_late_rate": state["supplier_late_rate"].astype(float),
            "forecast_over_lead": forecast,
            "cover_days": cover.astype(float),
            "position_after_lead": available + state["on_order"].astype(float) - forecast,
            "reorder_point": state["reorder_point"].astype(float),
        },
        index=state.index,
    )[list(FEATURES)]


def rule_verdict(available, reorder_point) -> np.ndarray:
    """The simple rule: 1 where available stock is below the reorder point."""
    return (np.asarray(available, dtype=float) < np.asarray(reorder_point, dtype=float)).astype(int)


def supplier_record(
    received: pd.DataFrame, quoted: pd.Series, overall_late: float | None = None
) -> pd.DataFrame:
    """Lead days and late rate per supplier from received PO lines, shrunk to the quote.

    ``received`` has supplier_id, days (sent to first receipt) and late (0/1, received after
    the date first expected); ``quoted`` maps supplier id to its quoted lead days.
    """
    late_all = (
        float(received["late"].mean()) if overall_late is None and len(received) else overall_late
    )
    late_all = 0.0 if late_all is None or np.isnan(late_all) else late_all
    sums = received.groupby("supplier_id").agg(
        n=("days", "size"), days=("days", "sum"), late=("late", "sum")
    )
    out = pd.DataFrame(index=pd.Index(quoted.index, name="supplier_id"))
    out = out.join(sums).fillna(0.0)
    q = quoted.astype(float).reindex(out.index)
    out["lead_days"] = (out["days"] + SUPPLIER_PRIOR * q) / (out["n"] + SUPPLIER_PRIOR)
    out["supplier_late_rate"] = (out["late"] + SUPPLIER_PRIOR * late_all) / (
        out["n"] + SUPPLIER_PRIOR
    )
    return out[["lead_days", "supplier_late_rate", "n"]]


# --- history as daily matrices --------------------------------------------------------------


@dataclass
class RiskHistory:
    """Per product and day: the events the snapshots are rebuilt from (days from ``start``)."""

    start: dt.date
    days: int
    products: pd.DataFrame  # product_id (index order = matrix rows), supplier_id, reorder_point
    quoted: pd.Series  # supplier_id -> quoted lead days
    on_hand: np.ndarray  # ledger on-hand change per day
    reserved: np.ndarray  # ledger reserved change per day
    demand: np.ndarray  # units asked per day
    sent: np.ndarray  # PO units sent per day
    received: np.ndarray  # PO units received per day
    bo_created: np.ndarray  # backorder units created per day
    bo_count: np.ndarray  # backorders created per day
    bo_closed: np.ndarray  # backorder units closed (filled or cancelled) per day
    receipts: pd.DataFrame  # per received PO line: supplier_id, day received, days, late
    # With blocks of several days (see read_risk_history) each matrix holds a block's sum on
    # the block's first day (day 0 for a first block that began before the history): sums up
    # to a day that starts a block are then exact, and snapshots are only taken on such days.
    block_days: int = 1
    block_first: int = 0  # the first whole block starts on this day (0 <= block_first < block_days)


def _day_index(engine: Engine, column, start: dt.date):
    """Whole days from ``start`` to the calendar day of ``column``, in the database's terms."""
    if engine.dialect.name == "sqlite":
        diff = func.julianday(func.date(column)) - func.julianday(literal(start, Date))
    else:
        diff = cast(column, Date) - literal(start, Date)
    return cast(diff, Integer)


def _daily(
    conn,
    engine: Engine,
    column_at,
    product_col,
    sums: dict,
    where=(),
    joins=(),
    *,
    span: tuple[dt.date, dt.date],
    block_days: int = 1,
    block_first: int = 0,
):
    """``sum`` of each of ``sums`` (name -> expression) per product and block of days, in the
    database: columns product_id, index (the day its sum is placed on, from ``span[0]``).

    Rows outside ``span`` (first and last day) are left out. Blocks of ``block_days`` days
    start on ``block_first`` plus a multiple of ``block_days``; a block's sum goes on its first
    day, a block cut by the start of the span on day 0.
    """
    first, last = span
    is_time = isinstance(column_at.type, DateTime)
    lo = dt.datetime.combine(first, dt.time()) if is_time else first
    hi = dt.datetime.combine(last + dt.timedelta(days=1), dt.time()) if is_time else last
    block = (_day_index(engine, column_at, first) + (block_days - block_first)) // block_days
    inner = select(product_col.label("product_id"), block.label("block"))
    inner = inner.add_columns(*(expr.label(name) for name, expr in sums.items()))
    for target, on in joins:
        inner = inner.join(target, on)
    for clause in (*where, column_at >= lo, column_at < hi if is_time else column_at <= hi):
        inner = inner.where(clause)
    sub = inner.subquery()
    query = select(
        sub.c.product_id, sub.c.block, *(func.sum(sub.c[name]) for name in sums)
    ).group_by(sub.c.product_id, sub.c.block)
    names = ["product_id", "block", *sums]
    frame = pd.DataFrame(plain_rows(conn.execute(query)), columns=names)
    frame["index"] = np.maximum(
        block_first + block_days * (frame["block"].to_numpy(dtype=np.int64) - 1), 0
    )
    for col in sums:
        frame[col] = frame[col].astype(float)
    return frame


def _span(conn) -> tuple[dt.date, dt.date] | None:
    """The first and last day of the ledger, the demand and the backorders (None if empty)."""
    firsts, lasts = [], []
    for column in (StockLedger.at, DemandDaily.day, Backorder.created_at, Backorder.closed_at):
        lo, hi = conn.execute(select(func.min(column), func.max(column))).one()
        if lo is not None:
            firsts.append(pd.Timestamp(lo).date())
            lasts.append(pd.Timestamp(hi).date())
    return (min(firsts), max(lasts)) if firsts else None


def snapshot_start(days: int, horizon_weeks: int, warm_up_days: int = WARM_UP_DAYS) -> int:
    """The day index of the first snapshot in a history of ``days`` days.

    A short history (a new database) starts sooner, with a partial look-back.
    """
    return min(warm_up_days, max(28, (days - 7 * horizon_weeks) // 3))


def _first_receipts(conn) -> pd.DataFrame:
    """Per PO line received at least once: supplier, sent, first expected and first receipt."""
    first = (
        select(Receipt.po_line_id, func.min(Receipt.received_at).label("first_received"))
        .group_by(Receipt.po_line_id)
        .subquery("first_receipt")
    )
    query = (
        select(
            PurchaseOrder.supplier_id,
            PurchaseOrder.sent_at,
            func.coalesce(PurchaseOrder.original_expected_date, PurchaseOrder.expected_date),
            first.c.first_received,
        )
        .select_from(first)
        .join(PurchaseOrderLine, PurchaseOrderLine.id == first.c.po_line_id)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id)
        .where(PurchaseOrder.sent_at.is_not(None), PurchaseOrder.status != "cancelled")
    )
    frame = pd.DataFrame(
        plain_rows(conn.execute(query)),
        columns=["supplier_id", "sent_at", "expected", "first_received"],
    )
    for col in ("sent_at", "expected", "first_received"):
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")
    return frame


def read_risk_history(engine: Engine, horizon_weeks: int | None = None) -> RiskHistory:
    """The event sums per product and day, each computed in the database.

    With ``horizon_weeks`` the sums are per week instead, in weeks that begin on the days
    :func:`build_snapshots` takes its snapshots on for that horizon (every
    ``SNAPSHOT_EVERY_DAYS`` days from :func:`snapshot_start`): every window a snapshot sums
    (28, 56 and 84 days back, the label's weeks ahead) is whole weeks, so the snapshots are the
    same as from the daily sums, from a fraction of the rows.
    """
    po_sent = (PurchaseOrder.sent_at.is_not(None), PurchaseOrder.status != "cancelled")
    po_of_line = ((PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.po_id),)
    with read_connection(engine) as conn:
        span = _span(conn)
        if span is None:
            raise ValueError("no stock, demand or backorder history to learn backorder risk from")
        n_days = (span[1] - span[0]).days + 1
        block = {"span": span}
        if horizon_weeks is not None:
            first = snapshot_start(n_days, horizon_weeks) % SNAPSHOT_EVERY_DAYS
            block.update(block_days=SNAPSHOT_EVERY_DAYS, block_first=first)
        products = pd.DataFrame(
            plain_rows(
                conn.execute(
                    select(Product.id, Product.supplier_id, Product.reorder_point).order_by(
                        Product.id
                    )
                )
            ),
            columns=["product_id", "supplier_id", "reorder_point"],
        )
        quoted = pd.Series(dict(conn.execute(select(Supplier.id, Supplier.lead_time_days)).all()))
        tables = {
            "stock": _daily(
                conn,
                engine,
                StockLedger.at,
                StockLedger.product_id,
                {"on_hand": StockLedger.on_hand_delta, "reserved": StockLedger.reserved_delta},
                **block,
            ),
            "demand": _daily(
                conn,
                engine,
                DemandDaily.day,
                DemandDaily.product_id,
                {"demand": DemandDaily.qty_ordered},
                **block,
            ),
            "created": _daily(
                conn,
                engine,
                Backorder.created_at,
                Backorder.product_id,
                {"bo_created": Backorder.qty, "bo_count": literal(1)},
                **block,
            ),
            "closed": _daily(
                conn,
                engine,
                Backorder.closed_at,
                Backorder.product_id,
                {"bo_closed": Backorder.qty},
                (Backorder.closed_at.is_not(None),),
                **block,
            ),
            "sent": _daily(
                conn,
                engine,
                PurchaseOrder.sent_at,
                PurchaseOrderLine.product_id,
                {"sent": PurchaseOrderLine.qty_ordered},
                po_sent,
                po_of_line,
                **block,
            ),
            "received": _daily(
                conn,
                engine,
                Receipt.received_at,
                PurchaseOrderLine.product_id,
                {"received": Receipt.qty},
                po_sent,
                ((PurchaseOrderLine, PurchaseOrderLine.id == Receipt.po_line_id), *po_of_line),
                **block,
            ),
        }
        done = _first_receipts(conn)
    # The history spans the ledger, the demand and the backorders (purchase orders and
    # receipts fall inside it, or are cut to it).
    if products.empty:
        raise ValueError("no stock, demand or backorder history to learn backorder risk from")
    start = pd.Timestamp(span[0])
    rows = {pid: i for i, pid in enumerate(products["product_id"])}

    def matrix(frame: pd.DataFrame, qty_col: str) -> np.ndarray:
        out = np.zeros((len(rows), n_days), dtype=np.float64)
        if frame.empty:
            return out
        r = frame["product_id"].map(rows)
        ok = r.notna().to_numpy()
        index = frame["index"].to_numpy()[ok]
        np.add.at(out, (r[ok].astype(int).to_numpy(), index), frame[qty_col].to_numpy()[ok])
        return out

    done_days = (done["first_received"] - done["sent_at"]).dt.total_seconds() / 86400
    record = pd.DataFrame(
        {
            "supplier_id": done["supplier_id"].to_numpy(),
            "day": (done["first_received"].dt.normalize() - start).dt.days.to_numpy(),
            "days": done_days.to_numpy(),
            "late": (done["first_received"].dt.normalize() > done["expected"])
            .astype(float)
            .to_numpy(),
        }
    )
    return RiskHistory(
        start=start.date(),
        days=n_days,
        products=products,
        quoted=quoted.astype(float),
        on_hand=matrix(tables["stock"], "on_hand"),
        reserved=matrix(tables["stock"], "reserved"),
        demand=matrix(tables["demand"], "demand"),
        sent=matrix(tables["sent"], "sent"),
        received=matrix(tables["received"], "received"),
        bo_created=matrix(tables["created"], "bo_created"),
        bo_count=matrix(tables["created"], "bo_count"),
        bo_closed=matrix(tables["closed"], "bo_closed"),
        receipts=record[record["days"] >= 0].reset_index(drop=True),
        block_days=block.get("block_days", 1),
        block_first=block.get("block_first", 0),
    )


def build_snapshots(
    history: RiskHistory,
    horizon_weeks: int = DEFAULT_HORIZON_WEEKS,
    every_days: int = SNAPSHOT_EVERY_DAYS,
    warm_up_days: int = WARM_UP_DAYS,
) -> pd.DataFrame:
    """One row per product and snapshot date: features from before it, label from after it.

    A snapshot at day index ``t`` (the start of that day) sees the days ``< t`` only; its label
    is 1 when a backorder of the product was created on a day in ``[t, t + 7 * N)``. Snapshot
    dates whose label window runs past the end of the history are left out.
    """
    horizon = 7 * horizon_weeks
    warm_up_days = snapshot_start(history.days, horizon_weeks, warm_up_days)
    blocks = history.block_days
    if blocks > 1 and (
        every_days % blocks or horizon % blocks or (warm_up_days - history.block_first) % blocks
    ):
        raise ValueError(
            f"a history summed in blocks of {blocks} days gives snapshots only on their first "
            f"days (read it for the same horizon, or per day)"
        )
    before = {
        name: np.concatenate(
            [np.zeros((getattr(history, name).shape[0], 1)), getattr(history, name).cumsum(1)],
            axis=1,
        )
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
    }  # before[name][:, t] = the sum over days < t
    frames = []
    supplier_of = history.products["supplier_id"].to_numpy()
    for t in range(warm_up_days, history.days - horizon + 1, every_days):
        seen = history.receipts[history.receipts["day"] < t]
        record = supplier_record(seen, history.quoted)
        lead = record["lead_days"].reindex(supplier_of).to_numpy()
        late = record["supplier_late_rate"].reindex(supplier_of).to_numpy()

        def window(name: str, days: int, t: int = t) -> np.ndarray:
            return before[name][:, t] - before[name][:, max(t - days, 0)]

        state = pd.DataFrame(
            {
                "on_hand": before["on_hand"][:, t],
                "reserved": before["reserved"][:, t],
                "on_order": np.maximum(before["sent"][:, t] - before["received"][:, t], 0),
                "backordered_units": np.maximum(
                    before["bo_created"][:, t] - before["bo_closed"][:, t], 0
                ),
                "demand_28d": window("demand", 28),
                "demand_56d": window("demand", 56),
                "demand_84d": window("demand", 84),
                "lead_days": lead,
                "supplier_late_rate": late,
                "reorder_point": history.products["reorder_point"].to_numpy(dtype=float),
            }
        )
        feats = features_from_state(state)
        feats.insert(0, "product_id", history.products["product_id"].to_numpy())
        feats.insert(1, "date", pd.Timestamp(history.start) + pd.Timedelta(days=t))
        future = before["bo_count"][:, t + horizon] - before["bo_count"][:, t]
        feats["rule"] = rule_verdict(feats["available"], feats["reorder_point"])
        feats["label"] = (future > 0).astype(int)
        frames.append(feats)
    if not frames:
        raise ValueError(
            f"history of {history.days} days is too short for snapshots "
            f"({warm_up_days} days of look-back and a {horizon_weeks}-week label window)"
        )
    return pd.concat(frames, ignore_index=True)


# --- the classifier --------------------------------------------------------------------------


# The classifier learns from at most this many snapshot rows (a seeded random sample): the
# large demo's 10,000 products give 1.4 million snapshots, the default demo's 1,000 give 140,000.
MAX_TRAIN_ROWS = 150_000
# The held-out score reads at most this many test rows (a seeded random sample).
MAX_TEST_ROWS = 150_000


def new_classifier(
    random_state: int = 0, max_iter: int = 200, early_stopping: bool = False
) -> HistGradientBoostingClassifier:
    """The risk classifier; with ``early_stopping`` it stops once 10 rounds bring nothing on a
    tenth of its rows held aside."""
    return HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=0.05,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=early_stopping,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=random_state,
    )


def sample_rows(mask: np.ndarray, limit: int = MAX_TRAIN_ROWS, seed: int = 0) -> np.ndarray:
    """``mask`` with at most ``limit`` of its True rows kept (a seeded random choice)."""
    chosen = np.flatnonzero(mask)
    if chosen.size <= limit:
        return mask
    keep = np.random.default_rng(seed).choice(chosen, limit, replace=False)
    out = np.zeros_like(mask, dtype=bool)
    out[keep] = True
    return out


def time_split(
    dates: pd.Series, gap_days: int, test_share: float = TEST_SHARE
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, test): test is the latest ``test_share`` of dates; train ends
    ``gap_days`` before the test begins."""
    unique = np.sort(pd.to_datetime(dates).unique())
    if unique.size < 2:
        raise ValueError("need at least two distinct dates for a time-ordered split")
    cut = unique[min(int(np.floor(unique.size * (1 - test_share))), unique.size - 1)]
    when = pd.to_datetime(dates).to_numpy()
    test = when >= cut
    train = when < cut - np.timedelta64(gap_days, "D")
    return train, test


def auc_pair(label: np.ndarray, score: np.ndarray) -> dict:
    """ROC-AUC and PR-AUC (average precision) of a score; NaN when only one class is present."""
    label = np.asarray(label, dtype=int)
    score = np.asarray(score, dtype=float)
    if label.min(initial=1) == label.max(initial=0):
        return {"roc_auc": float("nan"), "pr_auc": float("nan")}
    return {
        "roc_auc": float(roc_auc_score(label, score)),
        "pr_auc": float(average_precision_score(label, score)),
    }


@dataclass
class RiskModel:
    """What the training stores: the classifier and what scoring needs besides it."""

    classifier: HistGradientBoostingClassifier | DummyClassifier
    features: tuple[str, ...]
    horizon_weeks: int
    suppliers: pd.DataFrame  # supplier_id -> lead_days, supplier_late_rate (as of training)
    reference: pd.Series  # each feature's median, the baseline of the drivers
    as_of: dt.date


def train_risk(
    history: RiskHistory, horizon_weeks: int = DEFAULT_HORIZON_WEEKS, max_iter: int = 200
) -> tuple[RiskModel, dict]:
    """Backtest on a time split, then fit on every snapshot; returns (model, metrics)."""
    snaps = build_snapshots(history, horizon_weeks)
    train, test = time_split(snaps["date"], gap_days=7 * horizon_weeks)
    X, y = snaps[list(FEATURES)], snaps["label"].to_numpy()
    metrics = {
        "snapshots": int(len(snaps)),
        "snapshot_dates": int(snaps["date"].nunique()),
        "horizon_weeks": horizon_weeks,
        "positive_share": float(y.mean()),
        "train_rows": int(train.sum()),
        "test_rows": int(test.sum()),
        "test_from": str(pd.Timestamp(snaps.loc[test, "date"].min()).date()),
    }
    rounds = max_iter
    if train.sum() and test.sum() and len(np.unique(y[train])) == 2:
        fit_rows = sample_rows(train)
        held = new_classifier(max_iter=max_iter, early_stopping=True)
        held.fit(X[fit_rows], y[fit_rows])
        rounds = int(held.n_iter_)
        # The test rows scored: a seeded sample of at most MAX_TEST_ROWS (all of them on the
        # default demo's 42,000; 150,000 of the large demo's 420,000).
        scored = sample_rows(test, MAX_TEST_ROWS, seed=2)
        score = held.predict_proba(X[scored])[:, 1]
        metrics["model"] = auc_pair(y[scored], score)
        metrics["rule"] = auc_pair(y[scored], snaps.loc[scored, "rule"].to_numpy())
        metrics["scored_test_rows"] = int(scored.sum())
        metrics["fit_rows"] = int(fit_rows.sum())
        metrics["boosting_rounds"] = rounds
    if len(np.unique(y)) < 2:
        # No product ever went on backorder (or every one always did): the history's own rate
        # is all there is to say, and it is said for every product.
        final = DummyClassifier(strategy="prior").fit(X, y)
        metrics["note"] = "every snapshot has the same label: each product gets that rate"
    else:
        # As many rounds as the held-out fit found useful, on a sample of every snapshot.
        rows = sample_rows(np.ones(len(y), dtype=bool), seed=1)
        final = new_classifier(max_iter=rounds).fit(X[rows], y[rows])
    seen = history.receipts
    model = RiskModel(
        classifier=final,
        features=FEATURES,
        horizon_weeks=horizon_weeks,
        suppliers=supplier_record(seen, history.quoted),
        reference=X.median(),
        as_of=pd.Timestamp(history.start).date() + dt.timedelta(days=history.days - 1),
    )
    return model, metrics


def positive_proba(classifier, X) -> np.ndarray:
    """P(label 1) per row, also from a classifier that only ever saw one class."""
    proba = classifier.predict_proba(X)
    classes = list(classifier.classes_)
    if 1 in classes:
        return proba[:, classes.index(1)]
    return np.zeros(len(X))


def score(
    model: RiskModel, state: pd.DataFrame, drivers: int = 3, explain_top: int | None = 50
) -> pd.DataFrame:
    """Risk, rule verdict and the strongest drivers per product from its state now.

    Drivers are worked out for the ``explain_top`` riskiest products (all when None); the
    others get an empty text.

    ``state`` has supplier_id and the columns of :func:`features_from_state` except the
    supplier's lead_days and supplier_late_rate, which come from the model's record (the
    quoted lead time, given as ``quoted_days``, for a supplier it has not seen).
    """
    state = state.copy()
    record = model.suppliers.reindex(state["supplier_id"].to_numpy())
    state["lead_days"] = record["lead_days"].to_numpy()
    missing = np.isnan(state["lead_days"].to_numpy(dtype=float))
    if missing.any():
        state.loc[missing, "lead_days"] = state.loc[missing, "quoted_days"].astype(float)
    late = record["supplier_late_rate"].to_numpy(dtype=float)
    fallback = float(model.suppliers["supplier_late_rate"].median()) if len(model.suppliers) else 0
    state["supplier_late_rate"] = np.where(np.isnan(late), fallback, late)
    X = features_from_state(state)
    risk = positive_proba(model.classifier, X[list(model.features)])
    # A driver is a feature whose value, set back to the typical product's, lowers the risk most.
    names = list(model.features)
    top = np.argsort(-risk, kind="stable")
    top = top if explain_top is None else top[:explain_top]
    drops = {}
    for name in names:
        typical = X.iloc[top].copy()
        typical[name] = float(model.reference[name])
        drops[name] = risk[top] - positive_proba(model.classifier, typical[names])
    drop = np.column_stack([drops[n] for n in names])
    order = np.argsort(-drop, axis=1)[:, :drivers]
    values = X[names].to_numpy(dtype=float)[top]
    texts = [""] * len(X)
    for i, best in enumerate(order):
        chosen = [j for j in best if drop[i, j] > 0.01]
        texts[top[i]] = (
            "; ".join(FEATURE_LABELS[names[j]].format(v=values[i, j]) for j in chosen) or "—"
        )
    out = X.copy()
    out["risk"] = risk
    out["rule"] = rule_verdict(X["available"], X["reorder_point"])
    out["drivers"] = texts
    return out


# --- backtest on any table ------------------------------------------------------------------

_TRUE = {"1", "1.0", "true", "yes", "y", "t"}
_FALSE = {"0", "0.0", "false", "no", "n", "f"}


def _labels(values: pd.Series, name: str) -> pd.Series:
    text = values.astype("string").str.strip().str.lower()
    out = pd.Series(np.nan, index=values.index)
    out[text.isin(_TRUE)] = 1.0
    out[text.isin(_FALSE)] = 0.0
    return out


def table_features(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, list[bool], dict]:
    """Numbers where 9 in 10 filled values parse, category codes otherwise (and which is which)."""
    from models.tabular import parse_numbers

    columns_out, mask, kinds = [], [], {"numeric": [], "categorical": []}
    for col in columns:
        text = frame[col]
        numbers = parse_numbers(text)
        filled = text.notna() & (text.astype("string").str.strip() != "")
        if filled.any() and numbers[filled].notna().mean() >= 0.9:
            columns_out.append(numbers.to_numpy(dtype=float))
            mask.append(False)
            kinds["numeric"].append(col)
        else:
            values = text.astype("string").str.strip()
            top = values.value_counts().index[:250]
            codes = values.map({v: i for i, v in enumerate(top)}).astype(float)
            columns_out.append(codes.to_numpy())
            mask.append(True)
            kinds["categorical"].append(col)
    return np.column_stack(columns_out), mask, kinds


def backtest_table(
    frame: pd.DataFrame,
    label_col: str,
    feature_cols: list[str] | None = None,
    time_col: str | None = None,
    rule_col: str | None = None,
    available_col: str | None = None,
    reorder_col: str | None = None,
    test_share: float = TEST_SHARE,
    max_iter: int = 200,
) -> tuple[dict, list[str]]:
    """ROC-AUC and PR-AUC of a classifier against the rule on the latest rows of any table.

    Rows are ordered by ``time_col`` (else kept in file order) and the latest ``test_share``
    is held out. The rule is ``rule_col`` (a 0/1 verdict or a score, higher = riskier) or
    ``available_col < reorder_col``. Returns (result, notes).
    """
    from models.tabular import InputError, column, parse_dates, parse_numbers

    notes: list[str] = []
    if not 0 < test_share < 1:
        raise InputError(f"the test share must lie between 0 and 1, got {test_share}")
    label_col = column(frame, label_col)
    time_col = column(frame, time_col) if time_col else None
    rule_col = column(frame, rule_col) if rule_col else None
    available_col = column(frame, available_col) if available_col else None
    reorder_col = column(frame, reorder_col) if reorder_col else None
    if (available_col is None) != (reorder_col is None):
        raise InputError("give both --available-col and --reorder-col, or neither")
    if feature_cols:
        features = [column(frame, c) for c in feature_cols]
    else:
        features = [c for c in frame.columns if c not in {label_col, time_col, rule_col}]
    if not features:
        raise InputError("no feature columns: name them with --feature-cols")
    if label_col in features:
        raise InputError(f"the label {label_col!r} cannot also be a feature")
    label = _labels(frame[label_col], label_col)
    unusable = label.isna()
    if unusable.any():
        notes.append(
            f"dropped {int(unusable.sum())} rows whose {label_col!r} is not 0/1, yes/no or true/false"
        )
    frame = frame[~unusable]
    label = label[~unusable].astype(int)
    if time_col:
        when, formats = parse_dates(frame[time_col])
        no_time = when.isna()
        if no_time.any():
            notes.append(
                f"dropped {int(no_time.sum())} rows with unparseable dates in {time_col!r}"
            )
        frame, label, when = frame[~no_time], label[~no_time], when[~no_time]
        order = np.argsort(when.to_numpy(dtype="datetime64[ns]"), kind="stable")
        notes.append(f"read dates as {formats}")
    else:
        when = None
        order = np.arange(len(frame))
        notes.append("no --time-col: rows are taken as ordered in time as they stand in the file")
    frame, label = frame.iloc[order], label.iloc[order].to_numpy()
    if len(frame) < 20:
        raise InputError(f"only {len(frame)} usable rows: too few to train and test")
    if when is not None:
        ordered = when.iloc[order].to_numpy(dtype="datetime64[ns]")
        unique = np.unique(ordered)
        if unique.size < 2:
            raise InputError(f"{time_col!r} has a single date: no time-ordered split possible")
        cut = unique[min(int(np.floor(unique.size * (1 - test_share))), unique.size - 1)]
        test = ordered >= cut
    else:
        test = np.arange(len(frame)) >= int(round(len(frame) * (1 - test_share)))
    train = ~test
    if len(np.unique(label[train])) < 2:
        raise InputError("the training rows hold a single class: nothing to learn")
    X, mask, kinds = table_features(frame, features)
    classifier = HistGradientBoostingClassifier(
        max_iter=max_iter,
        learning_rate=0.05,
        min_samples_leaf=20,
        l2_regularization=1.0,
        categorical_features=mask,
        early_stopping=False,
        random_state=0,
    ).fit(X[train], label[train])
    scores = classifier.predict_proba(X[test])[:, 1]
    result = {
        "rows": int(len(frame)),
        "train_rows": int(train.sum()),
        "test_rows": int(test.sum()),
        "test_positive_share": float(label[test].mean()),
        "features": kinds,
        "model": auc_pair(label[test], scores),
    }
    if when is not None:
        result["test_from"] = str(pd.Timestamp(cut).date())
    rule = None
    if rule_col:
        rule = parse_numbers(frame[rule_col])
        if rule.isna().all():
            rule = _labels(frame[rule_col], rule_col)
        result["rule_name"] = f"{rule_col} (as a score)"
    elif available_col:
        available = parse_numbers(frame[available_col])
        reorder = parse_numbers(frame[reorder_col])
        rule = pd.Series(rule_verdict(available, reorder).astype(float), index=frame.index)
        rule[available.isna() | reorder.isna()] = np.nan
        result["rule_name"] = f"{available_col} below {reorder_col}"
    if rule is not None:
        rule_test = rule.to_numpy(dtype=float)[test]
        missing = np.isnan(rule_test)
        if missing.any():
            notes.append(f"{int(missing.sum())} test rows have no rule value (scored as 0)")
        result["rule"] = auc_pair(label[test], np.nan_to_num(rule_test, nan=0.0))
    return result, notes
