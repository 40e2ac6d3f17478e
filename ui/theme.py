"""One Altair theme for every chart: readable type, a calm palette, no chart borders."""

from __future__ import annotations

import altair as alt

THEME_NAME = "larder"
FONT = "Source Sans Pro, Helvetica, Arial, sans-serif"
# Colour-blind-safe categorical palette (Okabe-Ito), starting with the brand green.
PALETTE = [
    "#1b7f5b",
    "#e69f00",
    "#0072b2",
    "#d55e00",
    "#cc79a7",
    "#56b4e9",
    "#009e73",
    "#f0e442",
    "#000000",
]
ALERT = "#c0392b"
MUTED = "#6b7280"


@alt.theme.register(THEME_NAME, enable=True)
def larder_theme() -> alt.theme.ThemeConfig:
    """The Larder chart theme (registered and enabled on import)."""
    return {
        "config": {
            "font": FONT,
            "view": {"stroke": None, "continuousWidth": 600, "continuousHeight": 300},
            "range": {"category": PALETTE},
            "axis": {
                "labelFontSize": 13,
                "titleFontSize": 13,
                "titleFontWeight": 600,
                "gridColor": "#e5e7eb",
                "domainColor": MUTED,
                "tickColor": MUTED,
                "labelColor": "#374151",
                "titleColor": "#111827",
            },
            "legend": {"labelFontSize": 13, "titleFontSize": 13, "titleFontWeight": 600},
            "title": {"fontSize": 16, "fontWeight": 600, "anchor": "start", "color": "#111827"},
            "bar": {"color": PALETTE[0]},
            "line": {"color": PALETTE[0], "strokeWidth": 2},
            "point": {"color": PALETTE[0]},
            "area": {"color": PALETTE[0]},
        }
    }


def enable() -> None:
    """Make sure the Larder theme is the active one (idempotent)."""
    alt.theme.enable(THEME_NAME)
