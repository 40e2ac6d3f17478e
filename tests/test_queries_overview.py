"""Every figure of the Overview page against direct SQL over a hand-made history (both databases)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd
import pytest
from sqlalchemy import DateTime, bindparam, text

from data.db import read_connection
from queries import overview as ov
from tests.analytics_world import NOW, TODAY, build_analytics_world

WINDOW = ov.Filters(TODAY - dt.timedelta(days=60), TODAY)
PREVIOUS_WEEKS = (WINDOW.last_week - WINDOW.first_week).days // 7 + 1

LINES = text(
    """
    SELECT p.category, c.segment, o.placed_at, l.qty_ordered,
           CASE WHEN b.qty > 0 THEN 1 ELSE 0 END AS short_line,
           COALESCE(b.qty, 0) AS short_units,
           COALESCE(b.root_cause, 'unknown') AS cause,
           CASE WHEN b.created_at = o.placed_at THEN 1 ELSE 0 END AS short_when_ordered,
           CASE WHEN b.created_at = o.placed_at THEN b.qty ELSE 0 END AS units_short_when_ordered
    FROM order_lines l
    JOIN orders o ON o.id = l.order_id
    JOIN products p ON p.id = l.product_id
    JOIN customers c ON c.id = o.customer_id
    LEFT JOIN backorders b ON b.order_line_id = l.id
    WHERE o.placed_at >= :start AND o.placed_at < :end
    """
).bindparams(bindparam("start", type_=DateTime), bindparam("end", type_=DateTime))


@pytest.fixture
def aworld(engine):
    build_analytics_world(engine)
    return engine


def _lines(engine, start: dt.date, end_exclusive: dt.date) -> list:
    with read_connection(engine) as conn:
        return conn.execute(
            LINES,
            {
                "start": dt.datetime.combine(start, dt.time()),
                "end": dt.datetime.combine(end_exclusive, dt.time()),
            },
        ).all()


def _window_lines(engine, f: ov.Filters) -> list:
    return _lines(engine, f.first_week, f.last_week + dt.timedelta(days=7))


def _sums(rows, key) -> dict:
    out = defaultdict(lambda: [0, 0, 0, 0])
    for row in rows:
        acc = out[key(row)]
        acc[0] += 1
        acc[1] += row.qty_ordered
        acc[2] += row.short_line
        acc[3] += row.short_units
    return dict(out)


@pytest.mark.parametrize("dimension", ["category", "segment"])
def test_rates_by_category_and_segment(aworld, dimension):
    got = ov.rates_by(aworld, dimension, WINDOW).set_index(dimension)
    expected = _sums(_window_lines(aworld, WINDOW), lambda r: getattr(r, dimension))
    assert set(got.index) == set(expected)
    assert len(expected) >= 3
    for name, (lines, units, short, short_units) in expected.items():
        row = got.loc[name]
        assert (row["lines"], row["units"], row["bo_lines"], row["bo_units"]) == (
            lines,
            units,
            short,
            short_units,
        )
        assert row["line_rate"] == pytest.approx(short / lines)
        assert row["unit_rate"] == pytest.approx(short_units / units)


def test_a_category_filter_and_a_segment_filter_narrow_the_figures(aworld):
    f = ov.Filters(WINDOW.start, WINDOW.end, ("Dry goods", "Dairy"), ("Hotel", "School"))
    got = ov.rates_by(aworld, "category", f).set_index("category")
    rows = [
        r
        for r in _window_lines(aworld, WINDOW)
        if r.category in f.categories and r.segment in f.segments
    ]
    expected = _sums(rows, lambda r: r.category)
    assert {k: v[0] for k, v in expected.items()} == got["lines"].to_dict()
    assert {k: v[2] for k, v in expected.items()} == got["bo_lines"].to_dict()


@pytest.mark.parametrize("period", ["week", "month", "quarter"])
def test_rates_by_period(aworld, period):
    got = ov.rates_by_period(aworld, period, WINDOW).set_index("period")

    def label(row) -> str:
        placed = row.placed_at
        if isinstance(placed, str):
            placed = dt.datetime.fromisoformat(placed)
        monday = placed.date() - dt.timedelta(days=placed.weekday())
        if period == "week":
            return monday.isoformat()
        if period == "month":
            return monday.strftime("%Y-%m")
        return f"{monday.year}-Q{(monday.month - 1) // 3 + 1}"

    expected = _sums(_window_lines(aworld, WINDOW), label)
    assert set(got.index) == set(expected)
    for name, (lines, units, short, short_units) in expected.items():
        assert (got.loc[name, "lines"], got.loc[name, "bo_lines"]) == (lines, short)
        assert got.loc[name, "unit_rate"] == pytest.approx(short_units / units)


def test_rate_kpis_and_the_change_against_the_weeks_before(aworld):
    kpis = ov.rate_kpis(aworld, WINDOW)
    now_rows = _window_lines(aworld, WINDOW)
    before_start = WINDOW.first_week - dt.timedelta(weeks=PREVIOUS_WEEKS)
    before_rows = _lines(aworld, before_start, WINDOW.first_week)
    lines, units = len(now_rows), sum(r.qty_ordered for r in now_rows)
    short = sum(r.short_line for r in now_rows)
    short_units = sum(r.short_units for r in now_rows)
    assert kpis.line_rate == pytest.approx(short / lines)
    assert kpis.unit_rate == pytest.approx(short_units / units)
    assert kpis.fill_rate == pytest.approx(1 - short_units / units)
    # The year-old order is outside both windows: nothing before, so no change.
    assert before_rows == []
    assert kpis.previous_line_rate is None and kpis.rate_change is None
    wide = ov.rate_kpis(aworld, ov.Filters(TODAY - dt.timedelta(days=30), TODAY))
    prior = _lines(
        aworld,
        week_start := (TODAY - dt.timedelta(days=30)),
        week_start,
    )
    assert prior == []
    assert wide.previous_line_rate is not None


def test_cause_shares_by_category(aworld):
    got = ov.cause_shares(aworld, WINDOW, by="category")
    counts = defaultdict(int)
    for row in _window_lines(aworld, WINDOW):
        if row.short_line:
            counts[(row.category, row.cause)] += 1
    assert {(r.group, r.root_cause): r.bo_lines for r in got.itertuples()} == dict(counts)
    totals = defaultdict(int)
    for (category, _), n in counts.items():
        totals[category] += n
    for r in got.itertuples():
        assert r.share == pytest.approx(counts[(r.group, r.root_cause)] / totals[r.group])
    assert {"short_pick", "demand_spike"} <= set(got["root_cause"])


def test_on_time_delivery(aworld):
    share, delivered = ov.on_time_delivery(aworld, WINDOW)
    start = dt.datetime.combine(WINDOW.first_week, dt.time())
    end = dt.datetime.combine(WINDOW.last_week + dt.timedelta(days=7), dt.time())
    statement = text(
        """
        SELECT COUNT(*), SUM(CASE WHEN CAST(delivered_at AS DATE) <= promised_date
                                  THEN 1 ELSE 0 END)
        FROM shipments
        WHERE direction = 'outbound' AND delivered_at >= :start AND delivered_at < :end
          AND promised_date IS NOT NULL
        """
    ).bindparams(bindparam("start", type_=DateTime), bindparam("end", type_=DateTime))
    with read_connection(aworld) as conn:
        if conn.dialect.name == "sqlite":
            statement = text(
                statement.text.replace("CAST(delivered_at AS DATE)", "date(delivered_at)")
            ).bindparams(bindparam("start", type_=DateTime), bindparam("end", type_=DateTime))
        total, punctual = conn.execute(statement, {"start": start, "end": end}).one()
    assert (delivered, share) == (total, pytest.approx(punctual / total))
    assert (total, punctual) == (3, 2)


def test_month_against_the_same_days_last_year(aworld):
    got = ov.month_against_last_year(aworld, ov.Filters(WINDOW.start, WINDOW.end), TODAY)
    this_rows = _lines(aworld, TODAY.replace(day=1), TODAY + dt.timedelta(days=1))
    last_start = TODAY.replace(day=1, year=TODAY.year - 1)
    last_rows = _lines(aworld, last_start, last_start.replace(day=TODAY.day + 1))
    for i, rows in enumerate((this_rows, last_rows)):
        row = got.iloc[i]
        assert row["lines"] == len(rows)
        assert row["bo_lines"] == sum(r.short_when_ordered for r in rows)
        assert row["bo_units"] == sum(r.units_short_when_ordered for r in rows)
    assert got.iloc[1]["lines"] == 2 and got.iloc[1]["bo_lines"] == 1


def test_units_ordered_per_week_beside_the_forecast(aworld):
    got = ov.demand_against_forecast(aworld, WINDOW)
    ordered = got[got["series"] == "Ordered"]
    expected = defaultdict(int)
    for row in _window_lines(aworld, WINDOW):
        placed = row.placed_at
        if isinstance(placed, str):
            placed = dt.datetime.fromisoformat(placed)
        expected[placed.date() - dt.timedelta(days=placed.weekday())] += row.qty_ordered
    assert {w.date(): v for w, v in zip(ordered["week"], ordered["value"], strict=True)} == dict(
        expected
    )
    with read_connection(aworld) as conn:
        forecast = conn.execute(
            text(
                "SELECT period_start, SUM(p50), SUM(p90) FROM forecasts "
                "WHERE model_run_id = (SELECT MAX(id) FROM model_runs WHERE kind = 'demand') "
                "GROUP BY period_start"
            )
        ).all()
    p50 = got[got["series"] == "Forecast P50"]
    p90 = got[got["series"] == "Forecast P90"]
    assert len(p50) == len(forecast) == 3
    assert sorted(p50["value"]) == sorted(float(r[1]) for r in forecast)
    assert sorted(p90["value"]) == sorted(float(r[2]) for r in forecast)


def test_the_lines_behind_a_selection(aworld):
    f = ov.Filters(WINDOW.start, WINDOW.end, ("Dry goods",), ())
    got = ov.backorder_lines(aworld, f)
    rows = [r for r in _window_lines(aworld, WINDOW) if r.category == "Dry goods" and r.short_line]
    assert len(got) == len(rows) > 0
    assert got["qty_short"].sum() == sum(r.short_units for r in rows)
    assert set(got["category"]) == {"Dry goods"}
    by_cause = ov.backorder_lines(aworld, WINDOW, causes=("demand_spike",))
    assert len(by_cause) == sum(
        1 for r in _window_lines(aworld, WINDOW) if r.short_line and r.cause == "demand_spike"
    )


def test_the_lines_come_a_page_at_a_time_with_the_total_of_the_selection(aworld):
    every = ov.backorder_lines(aworld, WINDOW)
    short = sum(r.short_line for r in _window_lines(aworld, WINDOW))
    assert len(every) == short > 3
    first = ov.backorder_lines_page(aworld, WINDOW, limit=2)
    assert (first.total, first.offset, len(first.rows)) == (short, 0, 2)
    pages = [ov.backorder_lines_page(aworld, WINDOW, limit=2, offset=o) for o in range(0, short, 2)]
    joined = pd.concat([p.rows for p in pages], ignore_index=True)
    columns = ["order_number", "sku", "qty_short", "placed"]
    assert joined[columns].equals(every[columns])  # newest first, each line once
    assert list(joined["placed"]) == sorted(joined["placed"], reverse=True)
    # An offset past the end is the last page; a cause narrows the total as it does the lines.
    past = ov.backorder_lines_page(aworld, WINDOW, limit=2, offset=short + 10)
    assert past.offset == (short - 1) // 2 * 2
    assert past.rows[columns].equals(pages[-1].rows[columns])
    by_cause = ov.backorder_lines_page(aworld, WINDOW, causes=("demand_spike",))
    assert (
        by_cause.total
        == len(by_cause.rows)
        == sum(
            1 for r in _window_lines(aworld, WINDOW) if r.short_line and r.cause == "demand_spike"
        )
    )


def test_revenue_at_risk_is_open_value_times_the_chance_of_cancelling(aworld):
    with read_connection(aworld) as conn:
        closed = conn.execute(
            text(
                "SELECT status FROM backorders WHERE status IN ('filled', 'cancelled') "
                "AND (cancel_reason IS NULL OR cancel_reason NOT LIKE 'cancel_short%')"
            )
        ).all()
        open_rows = conn.execute(
            text(
                "SELECT (b.qty - b.qty_filled - b.qty_cancelled) * l.unit_price, b.created_at "
                "FROM backorders b JOIN order_lines l ON l.id = b.order_line_id "
                "WHERE b.status = 'open'"
            )
        ).all()
    # Few closed backorders in this world: every cell falls back to the overall share, and
    # each closed one closed within a week, so only the 0-7 days bucket has any.
    assert len(closed) < ov.MIN_CLOSED_FOR_RATE
    chance_first_week = sum(1 for (s,) in closed if s == "cancelled") / len(closed)
    risk = ov.open_backorders_at_risk(aworld, now=NOW)
    assert risk["open_value"].sum() == pytest.approx(sum(float(v) for v, _ in open_rows))
    expected = 0.0
    for value, created in open_rows:
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        waited = (NOW - created).total_seconds() / 86400
        expected += float(value) * (chance_first_week if waited < 8 else 0.0)
    assert risk["at_risk"].sum() == pytest.approx(expected)
    assert expected > 0


# --- The finished weeks and this week, summed apart (ui/week_split.py) ----------------------

SPLIT_GROUPS = [(), ("category",), ("segment",), ("week",), ("category", "root_cause"),
                ("week", "root_cause")]  # fmt: skip


def _close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        x[:4] == y[:4] and x[4:] == pytest.approx(y[4:]) for x, y in ((a[k], b[k]) for k in a)
    )


@pytest.mark.parametrize("group", SPLIT_GROUPS)
@pytest.mark.parametrize(
    ("categories", "segments", "shorts_only", "causes"),
    [((), (), False, ()), (("Dry goods", "Dairy"), ("Hotel",), True, ()),
     ((), (), True, ("late_supplier", "demand_spike"))],
)  # fmt: skip
def test_the_past_weeks_plus_this_weeks_rows_give_the_whole_window(
    aworld, group, categories, segments, shorts_only, causes
):
    from ui.week_split import split

    f = ov.Filters(WINDOW.start, WINDOW.end, categories, segments)
    whole = ov.rollup_sum_records(aworld, f, group, shorts_only=shorts_only, causes=causes)
    assert whole, "the window holds rollup rows"
    for week in (TODAY - dt.timedelta(days=TODAY.weekday()), f.first_week + dt.timedelta(weeks=3)):
        past, current = split(f, week)
        parts = [ov.rollup_sum_records(aworld, past, group, shorts_only=shorts_only, causes=causes)]
        rows = ov.rollup_rows_since(aworld, week)
        assert rows and all(row[0] >= week for row in rows)
        parts.append(ov.sum_rows(rows, current, group, shorts_only=shorts_only, causes=causes))
        assert _close(ov.added(parts), whole), (group, week)


def test_the_drill_down_total_from_the_weeks_it_is_given(aworld):
    f = ov.Filters(WINDOW.start, WINDOW.end)
    weeks = ov.drill_weeks(ov.rollup_sum_records(aworld, f, ("week",), shorts_only=True))
    given = ov.backorder_lines_page(aworld, f, weeks=weeks)
    read = ov.backorder_lines_page(aworld, f)
    assert given.total == read.total > 0
    assert given.rows.equals(read.rows)
    assert [w for w, _ in weeks] == sorted((w for w, _ in weeks), reverse=True)


def test_a_page_the_last_two_days_fill_is_read_from_those_days_alone(aworld, monkeypatch):
    every = ov.backorder_lines(aworld, WINDOW)
    recent = pd.Timestamp(WINDOW.end - dt.timedelta(days=1))
    in_recent = int((every["placed"] >= recent).sum())
    assert 0 < in_recent < len(every)  # the world has lines on both sides of the cut
    starts = []
    read = ov._read_lines

    def spied(conn, f, causes, start, end, limit, offset):
        starts.append(start)
        return read(conn, f, causes, start, end, limit, offset)

    monkeypatch.setattr(ov, "_read_lines", spied)
    columns = ["order_number", "sku", "qty_short", "placed"]
    # Filled by the last two days: one read, from the cut on, and the newest lines of all.
    full = ov.backorder_lines_page(aworld, WINDOW, limit=in_recent)
    assert starts == [recent.to_pydatetime()]
    assert full.rows[columns].equals(every[columns].iloc[:in_recent])
    # One line more than those days hold: read again over the weeks, still the newest first.
    starts.clear()
    more = ov.backorder_lines_page(aworld, WINDOW, limit=in_recent + 1)
    assert len(starts) == 2 and starts[1] < starts[0]
    assert more.rows[columns].equals(every[columns].iloc[: in_recent + 1])
