"""The weekly backorder report as a PDF for the Monday meeting (fpdf2, drawn from the figures).

Page one: the week's rates and their change, lost sales, what is open now, and three charts
(rate by category and by segment, this week against the week before, and the last weeks'
trend). Page two: the oldest and the most valuable open backorders with their dates, and the
purchase orders that are overdue. Charts are drawn with the PDF's own rectangles and text, so
the report needs no image library and its text can be read back.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from fpdf import FPDF
from fpdf.fonts import FontFace

from queries.weekly_report import WeeklyFigures

TITLE = "Weekly backorder report"
COMPANY = "Larder"
INK = (33, 37, 41)
MUTED = (108, 117, 125)
THIS_WEEK = (31, 119, 180)
LAST_WEEK = (174, 199, 232)
GRID = (222, 226, 230)
HEADING = FontFace(emphasis="BOLD", fill_color=(233, 236, 239))
PAGE_WIDTH = 180  # mm inside the margins of an A4 page


def _text(value: object) -> str:
    """Text the PDF's core fonts can print (Latin-1); anything else becomes '?'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return str(value).encode("latin-1", "replace").decode("latin-1")


def pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.1f} %"


def points(change: float | None) -> str:
    """A change of rate in percentage points, signed: '+2.9 pts'."""
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "new"
    return f"{change * 100:+.1f} pts"


def money(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"EUR {value:,.2f}"


def day(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return "-"
    if isinstance(value, dt.datetime | pd.Timestamp):
        value = value.date()
    return value.strftime("%d %b %Y") if isinstance(value, dt.date) else _text(value)


def week_label(figures: WeeklyFigures) -> str:
    return f"Week of {day(figures.week_start)} to {day(figures.week_end)}"


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(*MUTED)
        self.cell(0, 6, f"{COMPANY} - {TITLE} - page {self.page_no()}/{{nb}}", align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_text_color(*INK)
    pdf.cell(0, 7, _text(text), new_x="LMARGIN", new_y="NEXT")


def _tiles(pdf: FPDF, figures: WeeklyFigures) -> None:
    tiles = (
        (
            "Backorder rate (lines)",
            pct(figures.line_rate),
            f"{points(figures.rate_change)} on the week before",
        ),
        ("Fill rate (units)", pct(figures.fill_rate), f"{figures.lines:,} lines ordered"),
        (
            "Lost sales",
            money(figures.lost_sales),
            f"week before {money(figures.previous_lost_sales)}",
        ),
        (
            "Open backorders now",
            f"{figures.open_backorders:,}",
            f"worth {money(figures.open_value)}",
        ),
    )
    width = PAGE_WIDTH / len(tiles)
    top = pdf.get_y()
    for i, (label, value, note) in enumerate(tiles):
        x = pdf.l_margin + i * width
        pdf.set_draw_color(*GRID)
        pdf.rect(x + 1, top, width - 2, 22)
        pdf.set_xy(x + 3, top + 2)
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 6, 4, _text(label))
        pdf.set_xy(x + 3, top + 7)
        pdf.set_font("Helvetica", "B", 14)
        pdf.set_text_color(*INK)
        pdf.cell(width - 6, 7, _text(value))
        pdf.set_xy(x + 3, top + 15)
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(*MUTED)
        pdf.cell(width - 6, 4, _text(note))
    pdf.set_y(top + 25)


def _legend(pdf: FPDF, x: float, y: float) -> None:
    pdf.set_font("Helvetica", "", 8)
    for colour, label in ((THIS_WEEK, "this week"), (LAST_WEEK, "week before")):
        pdf.set_fill_color(*colour)
        pdf.rect(x, y + 1, 3, 3, style="F")
        pdf.set_xy(x + 4, y)
        pdf.set_text_color(*MUTED)
        pdf.cell(22, 5, label)
        x += 26


def _rate_bars(pdf: FPDF, table: pd.DataFrame, name: str, title: str) -> None:
    """Horizontal bars: each row's line rate this week (dark) over the week before (light)."""
    _heading(pdf, title)
    if table.empty:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 6, "No order lines this week.", new_x="LMARGIN", new_y="NEXT")
        return
    _legend(pdf, pdf.l_margin + 60, pdf.get_y())
    pdf.ln(6)
    label_w, value_w = 48, 40
    bar_w = PAGE_WIDTH - label_w - value_w
    top_rate = max(
        [r for r in (*table["line_rate"], *table["previous_line_rate"]) if pd.notna(r)] + [0.01]
    )
    for row in table.itertuples(index=False):
        y = pdf.get_y()
        pdf.set_font("Helvetica", "", 8)
        pdf.set_text_color(*INK)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_w, 7, _text(getattr(row, name)), align="R")
        x0 = pdf.l_margin + label_w + 2
        for offset, rate, colour in (
            (0.4, row.line_rate, THIS_WEEK),
            (3.9, row.previous_line_rate, LAST_WEEK),
        ):
            if pd.notna(rate) and rate > 0:
                pdf.set_fill_color(*colour)
                pdf.rect(x0, y + offset, bar_w * rate / top_rate, 3.1, style="F")
        pdf.set_xy(x0 + bar_w + 1, y)
        pdf.cell(value_w - 3, 7, f"{pct(row.line_rate)} ({points(row.change)})")
        pdf.set_y(y + 7.5)


def _trend(pdf: FPDF, trend: pd.DataFrame) -> None:
    _heading(pdf, f"Backorder rate, last {len(trend)} weeks")
    if trend.empty:
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(0, 6, "No order lines in these weeks.", new_x="LMARGIN", new_y="NEXT")
        return
    height = 34
    top = pdf.get_y() + 2
    left = pdf.l_margin + 12
    width = PAGE_WIDTH - 12
    rates = trend["line_rate"].fillna(0.0)
    top_rate = max(float(rates.max()), 0.01)
    pdf.set_draw_color(*GRID)
    pdf.set_font("Helvetica", "", 7)
    pdf.set_text_color(*MUTED)
    for share in (0.0, 0.5, 1.0):
        y = top + height * (1 - share)
        pdf.line(left, y, left + width, y)
        pdf.set_xy(pdf.l_margin, y - 2)
        pdf.cell(11, 4, pct(top_rate * share), align="R")
    slot = width / len(trend)
    for i, (start, rate) in enumerate(zip(trend["period_start"], rates, strict=True)):
        bar = height * rate / top_rate
        pdf.set_fill_color(*(THIS_WEEK if i == len(trend) - 1 else LAST_WEEK))
        pdf.rect(left + i * slot + slot * 0.15, top + height - bar, slot * 0.7, bar, style="F")
        pdf.set_xy(left + i * slot, top + height + 1)
        pdf.cell(slot, 4, pd.Timestamp(start).strftime("%d %b"), align="C")
    pdf.set_y(top + height + 7)


def _table(pdf: FPDF, title: str, df: pd.DataFrame, columns, empty: str) -> None:
    """``columns``: (heading, width in mm, alignment, function of the row giving the text)."""
    _heading(pdf, title)
    pdf.set_font("Helvetica", "", 8)
    pdf.set_text_color(*INK)
    pdf.set_draw_color(*GRID)
    pdf.set_fill_color(255, 255, 255)  # the rows between the shaded ones
    if df.empty:
        pdf.cell(0, 6, empty, new_x="LMARGIN", new_y="NEXT")
        return
    with pdf.table(
        col_widths=[c[1] for c in columns],
        text_align=[c[2] for c in columns],
        headings_style=HEADING,
        cell_fill_color=(248, 249, 250),
        cell_fill_mode="ROWS",
        line_height=5,
        width=sum(c[1] for c in columns),
        align="LEFT",
    ) as table:
        table.row([c[0] for c in columns])
        for row in df.itertuples(index=False):
            table.row([_text(c[3](row)) for c in columns])


BACKORDER_COLUMNS = (
    ("Order", 22, "LEFT", lambda r: r.order_number),
    ("Customer", 36, "LEFT", lambda r: r.customer),
    ("SKU", 22, "LEFT", lambda r: r.sku),
    ("Units", 12, "RIGHT", lambda r: f"{int(r.qty_open):,}"),
    ("Waiting", 14, "RIGHT", lambda r: f"{max(int(r.age_days), 0)} d"),
    ("Promised", 20, "LEFT", lambda r: day(r.promised_date)),
    ("Likely", 20, "LEFT", lambda r: day(r.estimated_date)),
    ("Value", 24, "RIGHT", lambda r: money(r.value_at_risk)),
)
PO_COLUMNS = (
    ("PO", 22, "LEFT", lambda r: r.po_number),
    ("Supplier", 44, "LEFT", lambda r: r.supplier),
    ("Expected", 22, "LEFT", lambda r: day(r.expected_date)),
    ("Overdue", 16, "RIGHT", lambda r: f"{int(r.days_overdue)} d"),
    ("Likely", 22, "LEFT", lambda r: day(r.likely_arrival)),
    ("Backorders", 20, "RIGHT", lambda r: f"{int(r.backorders):,}"),
    ("Open value", 24, "RIGHT", lambda r: money(r.open_value)),
)


def weekly_report_pdf(figures: WeeklyFigures) -> bytes:
    """The report as PDF bytes."""
    pdf = _Report(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_title(f"{TITLE}, {week_label(figures)}")
    pdf.set_author(COMPANY)
    pdf.set_creation_date(figures.made_at.replace(tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.set_text_color(*INK)
    pdf.cell(0, 9, TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.set_text_color(*MUTED)
    pdf.cell(
        0,
        6,
        f"{week_label(figures)} (orders counted in the week they were placed). "
        f"Made {figures.made_at:%d %b %Y %H:%M} UTC.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    _tiles(pdf, figures)
    _rate_bars(pdf, figures.by_category, "category", "Backorder rate by category")
    _rate_bars(pdf, figures.by_segment, "segment", "Backorder rate by customer segment")
    _trend(pdf, figures.trend)
    pdf.add_page()
    _table(
        pdf,
        "Oldest open backorders",
        figures.oldest,
        BACKORDER_COLUMNS,
        "No open backorders.",
    )
    by_value = figures.most_valuable
    _table(pdf, "Most valuable open backorders", by_value, BACKORDER_COLUMNS, "No open backorders.")
    _table(
        pdf,
        "Overdue purchase orders",
        figures.late_pos,
        PO_COLUMNS,
        "No purchase order is overdue.",
    )
    return bytes(pdf.output())


def summary_text(figures: WeeklyFigures) -> str:
    """The mail's text: the week's headline figures, the PDF attached carries the rest."""
    worst = figures.by_category.dropna(subset=["line_rate"]).sort_values(
        "line_rate", ascending=False
    )
    lines = [
        f"{TITLE}, {week_label(figures).lower()}.",
        "",
        f"Backorder rate: {pct(figures.line_rate)} of {figures.lines:,} order lines "
        f"({points(figures.rate_change)} on the week before).",
        f"Fill rate: {pct(figures.fill_rate)} of units.",
        f"Lost sales: {money(figures.lost_sales)} "
        f"(week before {money(figures.previous_lost_sales)}).",
        f"Open backorders now: {figures.open_backorders:,}, worth {money(figures.open_value)}.",
        f"Overdue purchase orders: {len(figures.late_pos):,}.",
    ]
    if not worst.empty:
        top = worst.head(3)
        lines.append(
            "Highest rates: "
            + ", ".join(
                f"{c} {pct(r)}" for c, r in zip(top["category"], top["line_rate"], strict=True)
            )
            + "."
        )
    lines += ["", "The full report is attached (PDF)."]
    return "\n".join(lines)
