"""The sizes the demo wholesaler comes in: tiny for tests, default for the app, large for benchmarks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    products: int
    suppliers: int
    carriers: int
    customers: int
    sales_reps: int
    days: int  # days of order history, ending at ``today``
    target_lines: int  # order lines the customers' order rates are tuned to produce


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", 80, 8, 3, 60, 4, 120, 6_000),
        Scale("default", 1_000, 40, 6, 2_000, 12, 3 * 365, 250_000),
        Scale("large", 10_000, 120, 6, 8_000, 30, 3 * 365, 2_400_000),
    )
}
