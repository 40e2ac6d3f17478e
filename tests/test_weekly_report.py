"""The weekly backorder report: its figures against direct SQL, the PDF read back, the Monday mail."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import DateTime, bindparam, select, text, update

from data.db import read_connection, write_session
from data.schema import OutboxAttachment, OutboxMessage, PurchaseOrder, PurchaseOrderLine, User
from jobs.registry import JOBS, JobContext
from operations import set_setting
from operations.errors import ValidationError
from queries.weekly_report import report_week, weekly_figures
from reports.weekly_pdf import pct, summary_text, weekly_report_pdf
from tests import apptest_support
from tests.analytics_world import NOW, TODAY, build_analytics_world
from tests.apptest_support import app_test
from tests.operations_world import add_admin

WEEK = dt.date(2026, 6, 8)  # the Monday of the last week finished before TODAY (a Wednesday)

LINES = text(
    """
    SELECT p.category, c.segment,
           CASE WHEN b.qty > 0 THEN 1 ELSE 0 END AS short_line,
           COALESCE(b.qty_cancelled, 0) * l.unit_price AS lost
    FROM order_lines l
    JOIN orders o ON o.id = l.order_id
    JOIN products p ON p.id = l.product_id
    JOIN customers c ON c.id = o.customer_id
    LEFT JOIN backorders b ON b.order_line_id = l.id
    WHERE o.placed_at >= :start AND o.placed_at < :end
    """
).bindparams(bindparam("start", type_=DateTime), bindparam("end", type_=DateTime))
OPEN = text(
    """
    SELECT o.number, b.created_at, b.id, (b.qty - b.qty_filled - b.qty_cancelled) * l.unit_price
    FROM backorders b
    JOIN order_lines l ON l.id = b.order_line_id
    JOIN orders o ON o.id = l.order_id
    WHERE b.status = 'open'
    """
)


@pytest.fixture
def aworld(engine):
    world = build_analytics_world(engine)
    with write_session(engine) as s:  # a purchase order three days overdue
        po = PurchaseOrder(
            number="PO-LATE",
            supplier_id=world.base.suppliers["MILL"],
            warehouse_id=world.base.warehouse,
            status="sent",
            expected_date=TODAY - dt.timedelta(days=3),
        )
        s.add(po)
        s.flush()
        s.add(
            PurchaseOrderLine(
                po_id=po.id,
                product_id=world.products["OIL-5L"],
                qty_ordered=7,
                unit_cost=Decimal(3),
            )
        )
    return engine


def _week_rows(engine, monday: dt.date) -> list:
    start = dt.datetime.combine(monday, dt.time())
    with read_connection(engine) as conn:
        return conn.execute(LINES, {"start": start, "end": start + dt.timedelta(days=7)}).all()


def _rates(rows, attribute: str) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        out[getattr(row, attribute)][0] += 1
        out[getattr(row, attribute)][1] += row.short_line
    return {key: (lines, short) for key, (lines, short) in out.items()}


def test_the_report_covers_the_last_finished_week():
    assert report_week(dt.date(2026, 6, 17)) == WEEK  # Wednesday
    assert report_week(dt.date(2026, 6, 15)) == WEEK  # Monday: the week just ended
    assert report_week(dt.date(2026, 6, 14)) == dt.date(2026, 6, 1)  # Sunday: still running


@pytest.mark.parametrize("dimension", ["category", "segment"])
def test_rates_and_their_change_match_direct_sql(aworld, dimension):
    figures = weekly_figures(aworld, now=NOW)
    assert figures.week_start == WEEK
    this_week = _rates(_week_rows(aworld, WEEK), dimension)
    before = _rates(_week_rows(aworld, WEEK - dt.timedelta(days=7)), dimension)
    table = figures.by_category if dimension == "category" else figures.by_segment
    got = table.set_index(dimension)
    assert set(got.index) == set(this_week)
    assert this_week  # the world has orders in the week
    for name, (lines, short) in this_week.items():
        row = got.loc[name]
        assert (row["lines"], row["bo_lines"]) == (lines, short)
        assert row["line_rate"] == pytest.approx(short / lines)
        if name in before:
            earlier = before[name][1] / before[name][0]
            assert row["previous_line_rate"] == pytest.approx(earlier)
            assert row["change"] == pytest.approx(short / lines - earlier)
        else:
            assert pd_isna(row["previous_line_rate"])


def pd_isna(value) -> bool:
    return value != value  # NaN is the only value unequal to itself


def test_headline_figures_match_direct_sql(aworld):
    figures = weekly_figures(aworld, now=NOW)
    rows = _week_rows(aworld, WEEK)
    earlier = _week_rows(aworld, WEEK - dt.timedelta(days=7))
    assert figures.lines == len(rows)
    assert figures.bo_lines == sum(r.short_line for r in rows)
    assert figures.line_rate == pytest.approx(figures.bo_lines / figures.lines)
    assert figures.previous_line_rate == pytest.approx(
        sum(r.short_line for r in earlier) / len(earlier)
    )
    assert figures.lost_sales == pytest.approx(float(sum(r.lost for r in rows)))
    assert figures.previous_lost_sales == pytest.approx(float(sum(r.lost for r in earlier)))
    assert figures.previous_lost_sales > 0  # fifteen napkins given up the week before
    with read_connection(aworld) as conn:
        open_rows = conn.execute(OPEN).all()
    assert figures.open_backorders == len(open_rows) > 2
    assert figures.open_value == pytest.approx(float(sum(r[3] for r in open_rows)), abs=0.01)
    oldest = [r[0] for r in sorted(open_rows, key=lambda r: (r[1], r[2]))]
    assert list(figures.oldest["order_number"]) == oldest[:10]
    by_value = sorted(open_rows, key=lambda r: (-float(r[3]), r[1], r[2]))
    assert list(figures.most_valuable["value_at_risk"]) == pytest.approx(
        [float(r[3]) for r in by_value[:10]]
    )
    assert list(figures.late_pos["po_number"]) == ["PO-LATE"]
    assert figures.late_pos["days_overdue"].iloc[0] == 3


def _pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_reads_back_with_the_figures(aworld):
    figures = weekly_figures(aworld, now=NOW)
    pdf = weekly_report_pdf(figures)
    assert pdf.startswith(b"%PDF-")
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2
    body = _pdf_text(pdf)
    assert "Weekly backorder report" in body
    assert "Week of 08 Jun 2026 to 14 Jun 2026" in body
    assert pct(figures.line_rate) in body
    for name in (*figures.by_category["category"], *figures.by_segment["segment"]):
        assert name in body
    for number in figures.oldest["order_number"]:
        assert number in body
    assert "PO-LATE" in body
    assert f"EUR {figures.previous_lost_sales:,.2f}" in body
    assert f"{figures.open_backorders:,}" in body


def test_an_empty_database_gives_a_report_that_says_so(engine):
    pdf = weekly_report_pdf(weekly_figures(engine, now=NOW))
    body = _pdf_text(pdf)
    assert "No order lines this week." in body
    assert "No open backorders." in body
    assert "No purchase order is overdue." in body


def test_a_report_week_must_start_on_a_monday(engine):
    with pytest.raises(ValueError, match="Monday"):
        weekly_figures(engine, week_start=dt.date(2026, 6, 9), now=NOW)


def test_the_summary_mail_text_carries_the_headline(aworld):
    figures = weekly_figures(aworld, now=NOW)
    body = summary_text(figures)
    assert "week of 08 jun 2026 to 14 jun 2026" in body
    assert f"{pct(figures.line_rate)} of {figures.lines:,} order lines" in body
    assert "Overdue purchase orders: 1." in body


# --- The Monday mail -------------------------------------------------------------------------

MONDAY = dt.datetime(2026, 6, 15, 7, 0)


def _mail(engine, now: dt.datetime) -> dict[str, int]:
    return JOBS["mail-weekly-report"].run(engine, JobContext(now=now, log=lambda _: None))


def _reports(engine) -> list:
    with read_connection(engine) as conn:
        return conn.execute(
            select(OutboxMessage.recipients, OutboxMessage.subject, OutboxMessage.ref_id)
            .where(OutboxMessage.ref_type == "weekly_report")
            .order_by(OutboxMessage.id)
        ).all()


@pytest.fixture
def staffed(aworld):
    add_admin(aworld, "boss", roles=("owner",))
    add_admin(aworld, "stores", roles=("warehouse_manager", "purchasing_manager"))
    add_admin(aworld, "books", roles=("finance_manager",))
    gone = add_admin(aworld, "gone", roles=("owner",))
    with write_session(aworld) as s:
        s.execute(update(User).where(User.id == gone).values(active=False))
    add_admin(aworld, "admin")
    return aworld


def test_the_report_is_mailed_once_a_week_to_the_roles_that_want_it(staffed):
    assert _mail(staffed, MONDAY) == {"reports_mailed": 1, "recipients": 2}
    [(recipients, subject, ref)] = _reports(staffed)
    assert recipients == "boss@example.com, stores@example.com"
    assert subject == "Weekly backorder report, week of 08 Jun 2026"
    assert ref == 20260608
    with read_connection(staffed) as conn:
        name, content = conn.execute(
            select(OutboxAttachment.filename, OutboxAttachment.content)
        ).one()
    assert name == "backorder-report-2026-06-08.pdf"
    assert "Week of 08 Jun 2026 to 14 Jun 2026" in _pdf_text(content)
    # Later runs that week (any server) find it queued; the next Monday mails the next week.
    assert _mail(staffed, MONDAY + dt.timedelta(hours=1)) == {"reports_mailed": 0, "recipients": 0}
    assert _mail(staffed, MONDAY + dt.timedelta(days=3)) == {"reports_mailed": 0, "recipients": 0}
    assert len(_reports(staffed)) == 1
    assert _mail(staffed, MONDAY + dt.timedelta(days=7))["reports_mailed"] == 1
    assert [r.ref_id for r in _reports(staffed)] == [20260608, 20260615]


def test_a_week_missed_on_monday_is_mailed_at_the_first_run_after(staffed):
    assert _mail(staffed, MONDAY + dt.timedelta(days=2))["reports_mailed"] == 1
    assert [r.ref_id for r in _reports(staffed)] == [20260608]


def test_the_recipient_roles_are_a_setting(staffed):
    set_setting(
        staffed, key="weekly_report_roles", value=" finance_manager , owner ", actor="admin"
    )
    assert _mail(staffed, MONDAY)["recipients"] == 2
    assert _reports(staffed)[0].recipients == "books@example.com, boss@example.com"


def test_nobody_receives_it_when_the_setting_says_none(staffed):
    set_setting(staffed, key="weekly_report_roles", value="-", actor="admin")
    assert _mail(staffed, MONDAY) == {"reports_mailed": 0, "recipients": 0}
    assert _reports(staffed) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("owner, chef", "'chef' is not a role"),
        (" , ", "name at least one role"),
        (7, "must be text"),
    ],
)
def test_a_bad_role_list_is_refused_and_changes_nothing(staffed, value, message):
    with pytest.raises(ValidationError, match=message):
        set_setting(staffed, key="weekly_report_roles", value=value, actor="admin")
    assert _mail(staffed, MONDAY)["recipients"] == 2  # still the default: owner, warehouse manager


# --- On the pages ------------------------------------------------------------------------------

fresh_caches = apptest_support.fresh_caches
fresh_db_url = apptest_support.fresh_db_url


@pytest.mark.usefixtures("fresh_caches", "fresh_db_url")
@pytest.mark.parametrize(
    ("page", "role"),
    [("pages/overview.py", "owner"), ("pages/stock_control.py", "warehouse_manager")],
)
def test_the_pages_offer_last_weeks_report(page, role):
    at = app_test(page, apptest_support.user_for_role(role))
    at.run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    buttons = [e.proto for e in at.get("download_button")]
    [report] = [b for b in buttons if b.label == "Weekly report (PDF)"]
    assert "mails it every Monday" in report.help


def test_the_first_page_draws_its_charts(aworld):
    """Rendered (pdfium), page one shows bars in this week's colour, not only text."""
    import pypdfium2

    from reports.weekly_pdf import THIS_WEEK

    pdf = weekly_report_pdf(weekly_figures(aworld, now=NOW))
    image = pypdfium2.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("RGB")
    bars = sum(1 for pixel in image.getdata() if pixel == THIS_WEEK)
    assert bars > 500, bars  # a few bars' worth of pixels at 72 dpi
