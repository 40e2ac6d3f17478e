"""Every figure of the Loyalty impact page against direct SQL over a hand-made history."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from data.db import read_connection
from queries import loyalty as lo
from tests.analytics_world import NOW, TODAY, build_analytics_world

START = TODAY - dt.timedelta(days=60)
RETENTION = 14


@pytest.fixture
def aworld(engine):
    build_analytics_world(engine)
    return engine


def _ts(value):
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _raw(engine):
    """Per customer, from the raw rows: orders in the window and backorders created in it."""
    lo_ts = dt.datetime.combine(START, dt.time())
    with read_connection(engine) as conn:
        orders = conn.execute(
            text("SELECT customer_id, placed_at FROM orders ORDER BY placed_at")
        ).all()
        backorders = conn.execute(
            text("SELECT customer_id, created_at, status, promised_date, closed_at FROM backorders")
        ).all()
    per = {}
    for customer, placed in orders:
        placed = _ts(placed)
        if placed >= lo_ts:
            per.setdefault(customer, {"orders": [], "backorders": []})["orders"].append(placed)
    all_orders = [(c, _ts(p)) for c, p in orders]
    for customer, created, status, promised, closed in backorders:
        if _ts(created) >= lo_ts and customer in per:
            per[customer]["backorders"].append((_ts(created), status, promised, _ts(closed)))
    return per, all_orders


def test_exposure_orders_and_promises_per_customer(aworld):
    got = lo.customer_exposure(aworld, START, TODAY, retention_days=RETENTION, now=NOW).set_index(
        "customer_id"
    )
    per, _ = _raw(aworld)
    assert set(got.index) == set(per)
    for customer, rows in per.items():
        row = got.loc[customer]
        assert row["orders"] == len(rows["orders"])
        assert row["lines_backordered"] == len(rows["backorders"])
        assert bool(row["exposed"]) == bool(rows["backorders"])
        broken = 0
        for _created, status, promised, closed in rows["backorders"]:
            promised = dt.date.fromisoformat(promised) if isinstance(promised, str) else promised
            if promised is None:
                continue
            if status == "filled" and closed.date() > promised:
                broken += 1
            if status == "open" and promised < NOW.date():
                broken += 1
        assert row["promises_broken"] == broken
        waited = sum(((closed or NOW) - created).total_seconds() / 86400
                     for created, _s, _p, closed in rows["backorders"])  # fmt: skip
        assert row["days_waited"] == pytest.approx(waited, abs=1e-3)


def test_a_segment_choice_reads_only_that_segments_customers(aworld):
    every = lo.customer_exposure(aworld, START, TODAY, retention_days=RETENTION, now=NOW)
    with read_connection(aworld) as conn:
        segment_of = dict(conn.execute(text("SELECT id, segment FROM customers")).all())
    per, _ = _raw(aworld)
    chosen = sorted({segment_of[c] for c in per})[:2]
    assert len({segment_of[c] for c in per}) > len(chosen) >= 1  # some customers are left out
    got = lo.customer_exposure(
        aworld, START, TODAY, retention_days=RETENTION, segments=chosen, now=NOW
    )
    assert set(got["customer_id"]) == {c for c in per if segment_of[c] in chosen}
    assert set(got["segment"]) == set(chosen)
    # The same figures as the whole table's rows of those customers.
    expected = every[every["segment"].isin(chosen)].set_index("customer_id").sort_index()
    got = got.set_index("customer_id").sort_index()
    columns = ["orders", "lines_backordered", "days_waited", "promises_broken", "retained"]
    assert got[columns].equals(expected[columns])


def test_retention_and_group_sizes(aworld):
    customers = lo.customer_exposure(aworld, START, TODAY, retention_days=RETENTION, now=NOW)
    groups = lo.compare_groups(customers).set_index("group")
    per, all_orders = _raw(aworld)
    exposed = {c for c, r in per.items() if r["backorders"]}
    assert groups.loc["Met backorders", "customers"] == len(exposed)
    assert groups.loc["No backorders", "customers"] == len(per) - len(exposed)
    for name, members in (
        ("Met backorders", exposed),
        ("No backorders", set(per) - exposed),
    ):
        judged = retained = 0
        for customer in members:
            rows = per[customer]
            reference = (
                min(b[0] for b in rows["backorders"]) if rows["backorders"] else min(rows["orders"])
            )
            if reference > NOW - dt.timedelta(days=RETENTION):
                continue
            judged += 1
            later = [p for c, p in all_orders if c == customer and p > reference]
            if later and (min(later) - reference) <= dt.timedelta(days=RETENTION):
                retained += 1
        assert groups.loc[name, "judged"] == judged
        if judged:
            assert groups.loc[name, "retention"] == pytest.approx(retained / judged)
    assert len(exposed) >= 3


def test_feedback_per_month_nps_sentiment_and_late_goods(aworld):
    got = lo.feedback_by_month(aworld, START, TODAY).set_index("month")
    with read_connection(aworld) as conn:
        rows = conn.execute(
            text("SELECT created_at, csat, nps, sentiment, comment FROM feedback")
        ).all()
    months = {}
    for created, csat, nps, sentiment, comment in rows:
        months.setdefault(_ts(created).strftime("%Y-%m"), []).append(
            (csat, nps, sentiment, comment)
        )
    assert set(got.index) == set(months)
    for month, answers in months.items():
        row = got.loc[month]
        nps = [n for _, n, _, _ in answers]
        expected_nps = (sum(n >= 9 for n in nps) - sum(n <= 6 for n in nps)) / len(nps) * 100
        assert row["nps"] == pytest.approx(expected_nps)
        assert row["csat"] == pytest.approx(sum(c for c, _, _, _ in answers) / len(answers))
        negative = [c for _, _, s, c in answers if s is not None and s < 0 and c]
        late = [c for c in negative if any(w in c.lower() for w in lo.LATE_OR_MISSING_WORDS)]
        assert row["negative"] == len(negative)
        assert row["negative_late"] == len(late)
    # May: "arrived late" is negative and about late goods; "prices" is negative and is not.
    assert got.loc["2026-05", "late_share"] == pytest.approx(0.5)


def test_reputation_index_is_the_mean_of_three_scaled_scores():
    assert lo.reputation_index(20, 4.0, 0.5) == pytest.approx((60 + 75 + 75) / 3)
    assert lo.reputation_index(-100, 1.0, None) == pytest.approx(0)
    assert lo.reputation_index(None, None, None) is None


def test_the_most_negative_recent_comments_come_first(aworld):
    got = lo.worst_recent_comments(aworld, now=NOW)
    assert list(got["sentiment"]) == sorted(got["sentiment"])
    assert got.iloc[0]["comment"] == "Napkins missing from the delivery"
    assert "Fine" not in set(got["comment"])  # not scored yet


def test_the_win_back_list_is_exposed_customers_gone_quiet(aworld):
    customers = lo.customer_exposure(aworld, START, TODAY, retention_days=RETENTION, now=NOW)
    got = lo.win_back_list(aworld, customers, retention_days=RETENTION, now=NOW)
    per, _ = _raw(aworld)
    quiet = {
        c
        for c, rows in per.items()
        if rows["backorders"] and max(rows["orders"]) < NOW - dt.timedelta(days=RETENTION)
    }
    with read_connection(aworld) as conn:
        names = dict(conn.execute(text("SELECT id, name FROM customers")).all())
    assert set(got["customer"]) == {names[c] for c in quiet}
    assert quiet
    with read_connection(aworld) as conn:
        for row in got.itertuples():
            (customer_id,) = [c for c in quiet if names[c] == row.customer]
            value = conn.execute(
                text(
                    "SELECT SUM(l.qty_ordered * l.unit_price) FROM order_lines l "
                    "JOIN orders o ON o.id = l.order_id WHERE o.customer_id = :c"
                ),
                {"c": customer_id},
            ).scalar_one()
            assert row.value == pytest.approx(float(value))
