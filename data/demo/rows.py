"""Turn the simulated history into table rows that keep every invariant of live use.

Ids are assigned here (1-based, in time order) so rows can point at each other without asking the
database. Order lines end with ``allocated + backordered + cancelled = ordered`` and ``shipped <=
allocated``; each short line has one backorder whose filled and cancelled parts match the line;
the stock ledger sums to the stock rows, whose reservations are exactly what is allocated and not
yet shipped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np

from data.demo import catalogue as cat
from data.demo import texts
from data.demo.bulk import as_json, dates, money, timestamps
from data.demo.simulation import DAY, HOUR, History
from data.demo.world import World
from data.numbering import document_number
from data.schema import CATEGORIES, SEGMENTS, TIERS
from data.settings import SETTINGS

WAREHOUSE_ID = 1
RECENT_EVENT_DAYS = 60  # shipments this recent carry a tracking-event trail
RECENT_PICK_DAYS = 14  # shipped pick tasks kept for the pick-queue history
FEEDBACK_CHANCE = 0.06
HELD = 10**9  # ship day of a ship-complete order that still waits for a backorder
CHANNELS = ("portal", "phone", "email", "rep")
CHANNEL_WEIGHTS = (0.55, 0.2, 0.15, 0.1)


class TableRows:
    """A table's rows, kept column by column: row tuples are only made while loading."""

    def __init__(
        self,
        columns: tuple[str, ...],
        rows: list[tuple] | None = None,
        *,
        data: list[Sequence] | None = None,
    ):
        self.columns = tuple(columns)
        if data is None:
            rows = rows or []
            data = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in columns]
        if len({len(column) for column in data}) > 1:
            raise ValueError(f"columns of unequal length for {self.columns}")
        self.data = data

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0

    def __iter__(self) -> Iterator[tuple]:
        return zip(*self.data, strict=True)

    @property
    def rows(self) -> list[tuple]:
        return list(self)


def _rows(columns: str, *cols: Sequence) -> TableRows:
    return TableRows(tuple(columns.split()), data=list(cols))


class RowBuilder:
    """Builds every table's rows from a world and its history."""

    def __init__(self, world: World, history: History, rng: np.random.Generator):
        self.w, self.h, self.rng = world, history, rng
        self.start = dt.date.fromordinal(history.start_ordinal)
        self.last_day = history.days - 1
        self.now = history.now
        self.tables: dict[str, TableRows] = {}

    def ts(self, seconds) -> list[str | None]:
        return timestamps(self.start, seconds)

    def day(self, days) -> list[str | None]:
        return dates(self.start, days)

    def build(self) -> dict[str, TableRows]:
        self._master()
        self._flatten()
        self._lines_and_backorders()
        self._shipments()
        self._orders()
        self._purchasing()
        self._stock_and_ledger()
        self._demand_daily()
        self._pick_tasks()
        self._costs()
        self._communications()
        self._feedback()
        return self.tables

    # --- master data -----------------------------------------------------------------------

    def _master(self) -> None:
        w, rng = self.w, self.rng
        self.tables["warehouses"] = TableRows(
            ("id", "code", "name"), [(1, "MAIN", "Main warehouse")]
        )
        n_bins = len(w.bin_code)
        self.tables["bins"] = _rows(
            "id warehouse_id code zone aisle bay level x y",
            range(1, n_bins + 1),
            [WAREHOUSE_ID] * n_bins,
            w.bin_code,
            w.bin_zone,
            w.bin_aisle.tolist(),
            w.bin_bay.tolist(),
            w.bin_level.tolist(),
            w.bin_x.tolist(),
            w.bin_y.tolist(),
        )
        n_sup = len(w.supplier_code)
        self.tables["suppliers"] = _rows(
            "id code name email lead_time_days min_order_value active",
            range(1, n_sup + 1),
            w.supplier_code,
            w.supplier_name,
            [f"orders@{c.lower()}.example.com" for c in w.supplier_code],
            w.supplier_lead.tolist(),
            money(w.supplier_min_value),
            [True] * n_sup,
        )
        n_car = len(w.carrier_code)
        self.tables["carriers"] = _rows(
            "id code name email transit_days",
            range(1, n_car + 1),
            w.carrier_code,
            w.carrier_name,
            [f"dispatch@{c.lower()}.example.com" for c in w.carrier_code],
            w.carrier_quoted.tolist(),
        )
        n_rep = len(w.rep_code)
        self.tables["sales_reps"] = _rows(
            "id code name email region",
            range(1, n_rep + 1),
            w.rep_code,
            w.rep_name,
            [n.lower().replace(" ", ".") + "@larder.example.com" for n in w.rep_name],
            w.rep_region,
        )
        n_c = len(w.cust_code)
        joined = np.where(
            w.cust_start > 0,
            w.cust_start * DAY + 9 * HOUR,
            -rng.integers(30, 3 * 365, n_c) * DAY + 9 * HOUR,
        )
        self.tables["customers"] = _rows(
            "id code name segment region tier sales_rep_id backorder_preference email phone "
            "created_at mail_opt_out",
            range(1, n_c + 1),
            w.cust_code,
            w.cust_name,
            [SEGMENTS[s] for s in w.cust_segment],
            [cat.REGIONS[r] for r in w.cust_region],
            [TIERS[t] for t in w.cust_tier],
            (w.cust_rep + 1).tolist(),
            w.cust_pref,
            [f"kitchen@{c.lower()}.example.com" for c in w.cust_code],
            [f"01632 {960000 + i:06d}" for i in range(n_c)],
            self._ts_any(joined),
            [False] * n_c,
        )
        h = self.h
        n_p = len(w.sku)
        self.tables["products"] = _rows(
            "id sku name category use unit pack_size cost price supplier_id bin_id reorder_point "
            "safety_stock order_up_to min_order_qty shelf_life_days allergens active",
            range(1, n_p + 1),
            w.sku,
            w.name,
            [CATEGORIES[c] for c in w.category],
            w.use,
            w.unit,
            w.pack_size.tolist(),
            money(w.cost),
            money(w.price),
            (w.supplier + 1).tolist(),
            (w.bin + 1).tolist(),
            h.reorder_point.tolist(),
            h.safety_stock.tolist(),
            h.order_up_to.tolist(),
            w.min_order.tolist(),
            w.shelf_life,
            w.allergens,
            [True] * n_p,
        )
        self.tables["substitutes"] = self._substitutes()

    def _ts_any(self, seconds: np.ndarray) -> list[str]:
        """Timestamps that may lie before the history starts (customers who joined earlier)."""
        base = dt.datetime.combine(self.start, dt.time())
        return [
            (base + dt.timedelta(seconds=int(s))).strftime("%Y-%m-%d %H:%M:%S.%f") for s in seconds
        ]

    def _substitutes(self) -> TableRows:
        w = self.w
        groups: dict[tuple[int, str], list[int]] = {}
        for p in range(len(w.sku)):
            groups.setdefault((int(w.category[p]), w.use[p]), []).append(p)
        rows = []
        for key in sorted(groups):
            members = groups[key]
            ids = np.array(members)
            prices = w.price[ids]
            distance = np.abs(prices[None, :] - prices[:, None]) / prices[:, None]
            np.fill_diagonal(distance, np.inf)
            for row, p in enumerate(members):
                nearest = np.lexsort((ids, distance[row]))[: min(3, len(members) - 1)]
                for q in ids[nearest].tolist():
                    mine = set(filter(None, w.allergens[p].split(",")))
                    theirs = set(filter(None, w.allergens[q].split(",")))
                    extra = sorted(theirs - mine)
                    note = f"Same use; also contains {', '.join(extra)}" if extra else "Same use"
                    rows.append((p + 1, q + 1, note))
        return TableRows(("product_id", "substitute_id", "note"), rows)

    # --- orders, lines, backorders ---------------------------------------------------------

    def _flatten(self) -> None:
        h = self.h
        cat_ = np.concatenate
        self.o_customer = cat_(h.order_customer)
        self.o_ts = cat_(h.order_ts)
        self.o_urgent = cat_(h.order_urgent)
        self.l_order = cat_(h.line_order)
        self.l_no = cat_(h.line_no)
        self.l_product = cat_(h.line_product)
        self.l_qty = cat_(h.line_qty)
        self.l_alloc0 = cat_(h.line_alloc)
        self.l_short = cat_(h.line_short)
        self.l_cancel0 = cat_(h.line_cancel)
        self.l_ts = cat_(h.line_ts)
        self.l_customer = self.o_customer[self.l_order]
        self.b_line = np.array(h.bo_line, dtype=np.int64)
        self.b_qty = np.array(h.bo_qty, dtype=np.int64)
        self.b_filled = np.array(h.bo_filled, dtype=np.int64)
        self.b_cancelled = np.array(h.bo_cancelled, dtype=np.int64)
        self.b_closed = np.array(h.bo_closed_ts, dtype=np.int64)
        self.b_ts = np.array(h.bo_ts, dtype=np.int64)
        fills = np.array(h.fills, dtype=float).reshape(-1, 9)
        self.f_bo = fills[:, 0].astype(np.int64)
        self.f_ts = fills[:, 1].astype(np.int64)
        self.f_qty = fills[:, 2].astype(np.int64)
        self.f_po = fills[:, 3].astype(np.int64)
        self.f_score = fills[:, 4:]

    def _lines_and_backorders(self) -> None:
        n_l = len(self.l_qty)
        filled = np.bincount(self.b_line, weights=self.b_filled, minlength=n_l).astype(np.int64)
        bo_cancel = np.bincount(self.b_line, weights=self.b_cancelled, minlength=n_l).astype(
            np.int64
        )
        self.l_alloc = self.l_alloc0 + filled
        self.l_cancel = self.l_cancel0 + bo_cancel
        self.l_back = self.l_qty - self.l_alloc - self.l_cancel
        assert (self.l_back >= 0).all()

        # When allocated quantities leave the warehouse: the morning after they were reserved.
        f_line = self.b_line[self.f_bo]
        ev_line = np.r_[np.flatnonzero(self.l_alloc0 > 0), f_line]
        ev_qty = np.r_[self.l_alloc0[self.l_alloc0 > 0], self.f_qty]
        ev_reserved_ts = np.r_[self.l_ts[self.l_alloc0 > 0], self.f_ts]
        ev_day = ev_reserved_ts // DAY + 1
        # Ship-complete customers get one delivery, once nothing is waiting any more.
        ev_order = self.l_order[ev_line]
        n_o = len(self.o_ts)
        complete = np.array([p == "ship_complete" for p in self.w.cust_pref])[self.o_customer]
        b_order = self.l_order[self.b_line]
        hold = np.zeros(n_o, dtype=np.int64)
        np.maximum.at(hold, ev_order, ev_day)
        b_release = np.where(self.b_closed >= 0, self.b_closed // DAY + 1, HELD)
        np.maximum.at(hold, b_order, b_release)
        has_bo = np.zeros(n_o, dtype=bool)
        has_bo[b_order] = True
        held = complete[ev_order] & has_bo[ev_order]
        ev_day = np.where(held, hold[ev_order], ev_day)
        self.ev_line, self.ev_qty, self.ev_day = ev_line, ev_qty, ev_day
        self.ev_reserved_ts = ev_reserved_ts
        self.ev_from_fill = np.r_[
            np.zeros((self.l_alloc0 > 0).sum(), bool), np.ones(len(f_line), bool)
        ]
        shipped_mask = ev_day <= self.last_day
        self.l_shipped = np.bincount(
            ev_line[shipped_mask], weights=ev_qty[shipped_mask], minlength=n_l
        ).astype(np.int64)
        assert (self.l_shipped <= self.l_alloc).all()

        price = self.w.price[self.l_product]
        self.tables["order_lines"] = _rows(
            "id order_id line_no product_id qty_ordered qty_allocated qty_backordered "
            "qty_cancelled qty_shipped unit_price",
            range(1, n_l + 1),
            (self.l_order + 1).tolist(),
            self.l_no.tolist(),
            (self.l_product + 1).tolist(),
            self.l_qty.tolist(),
            self.l_alloc.tolist(),
            self.l_back.tolist(),
            self.l_cancel.tolist(),
            self.l_shipped.tolist(),
            money(price),
        )
        self._backorders()

    def _backorders(self) -> None:
        h, w = self.h, self.w
        n_b = len(self.b_line)
        status = np.where(
            self.b_closed < 0, "open", np.where(self.b_filled == self.b_qty, "filled", "cancelled")
        )
        self.b_status = status
        product = self.l_product[self.b_line]
        promised = np.array(h.bo_promised_day, dtype=np.int64)
        waits = np.array(h.bo_po, dtype=np.int64)
        estimated = promised.copy()
        late = np.full(n_b, -1, dtype=np.int64)
        reason = [""] * n_b
        self._po_current_expected()
        open_po_for = self._open_po_by_product()
        for b in np.flatnonzero(status == "open"):
            p = int(product[b])
            supplier = int(w.supplier[p])
            delay = max(0.0, float(w.supplier_delay_mean[supplier]))
            spread = float(w.supplier_delay_sd[supplier])
            po = open_po_for.get(p, -1)
            waits[b] = po
            if po >= 0:
                base = int(self.po_expected[po])
                estimated[b] = max(base + int(np.ceil(delay)) + 1, self.last_day + 1)
                late[b] = estimated[b] + int(np.ceil(2 * spread))
                days = round(delay)
                record = (
                    "usually on time"
                    if days == 0
                    else f"runs about {days} day{'s' if days != 1 else ''} late"
                )
                reason[b] = (
                    f"Waits on {document_number('PO', po + 1)} from {w.supplier_name[supplier]}"
                    f" ({record})"
                )
            else:
                lead = int(w.supplier_lead[supplier])
                estimated[b] = self.last_day + lead + 2
                late[b] = estimated[b] + int(np.ceil(2 * spread))
                reason[b] = f"Not yet on order; reorder plus {lead} days' supplier lead time"
        self.b_estimated = estimated
        cancel_reason = [
            r if s == "cancelled" else None for r, s in zip(h.bo_cancel_reason, status, strict=True)
        ]
        self.tables["backorders"] = _rows(
            "id order_line_id product_id customer_id qty qty_filled qty_cancelled status "
            "created_at promised_date estimated_date estimated_late_date estimate_reason "
            "waits_on_po_id closed_at cancel_reason root_cause",
            range(1, n_b + 1),
            (self.b_line + 1).tolist(),
            (product + 1).tolist(),
            (self.l_customer[self.b_line] + 1).tolist(),
            self.b_qty.tolist(),
            self.b_filled.tolist(),
            self.b_cancelled.tolist(),
            status.tolist(),
            self.ts(self.b_ts),
            self.day(promised),
            self.day(estimated),
            self.day(late),
            reason,
            [int(x) + 1 if x >= 0 else None for x in waits],
            self.ts(self.b_closed),
            cancel_reason,
            h.bo_root,
        )
        # Allocations: every unit of arriving stock given to a backorder, with its score.
        parts = [
            as_json(
                {
                    "tier": round(float(t), 2),
                    "urgent": round(float(u), 2),
                    "days_waiting": round(float(dw), 2),
                    "slack": round(float(s), 2),
                }
            )
            for t, u, dw, s in self.f_score[:, 1:]
        ]
        n_f = len(self.f_bo)
        self.tables["allocations"] = _rows(
            "id at backorder_id product_id qty score score_parts po_id actor",
            range(1, n_f + 1),
            self.ts(self.f_ts),
            (self.f_bo + 1).tolist(),
            (product[self.f_bo] + 1).tolist(),
            self.f_qty.tolist(),
            np.round(self.f_score[:, 0], 3).tolist(),
            parts,
            [int(x) + 1 if x >= 0 else None for x in self.f_po],
            ["system"] * n_f,
        )

    # --- outbound shipments ----------------------------------------------------------------

    def _shipments(self) -> None:
        w, rng = self.w, self.rng
        mask = self.ev_day <= self.last_day
        ev_line, ev_day, ev_qty = self.ev_line[mask], self.ev_day[mask], self.ev_qty[mask]
        ev_order = self.l_order[ev_line]
        n_o = len(self.o_ts)
        key = ev_day * n_o + ev_order
        keys, ship_of_event = np.unique(key, return_inverse=True)
        n_s = len(keys)
        s_day, s_order = keys // n_o, keys % n_o
        region = w.cust_region[self.o_customer[s_order]]
        cum = np.cumsum(w.carrier_region_share, axis=1)
        carrier = (cum[region] < rng.random(n_s)[:, None]).sum(axis=1)
        carrier = np.minimum(carrier, len(w.carrier_code) - 1)
        shipped = s_day * DAY + 8 * HOUR + rng.integers(0, 3 * HOUR, n_s)
        # Promise: the carrier's quoted days plus the region's distance from the depot.
        promise_days = w.carrier_quoted[carrier] + np.ceil(
            np.array(cat.REGION_DISTANCE_DAYS)[region]
        ).astype(np.int64)
        promised = s_day + promise_days
        mean = w.carrier_region_mean[carrier, region]
        transit = np.maximum(0.2, rng.normal(mean, 0.35 + 0.2 * mean)) - 0.3
        delivered = shipped + np.maximum(transit, 0.15) * DAY
        delivered = delivered.astype(np.int64)
        done = delivered <= self.now
        today = self.last_day
        status = np.where(done, "delivered", np.where(promised < today, "delayed", "in_transit"))
        estimate = np.where(done, promised, np.maximum(promised, today + (promised < today)))
        self.s_order, self.s_day, self.s_done, self.s_delivered = s_order, s_day, done, delivered
        self.s_late = np.where(done, delivered // DAY > promised, promised < today)
        self.s_promised, self.s_carrier = promised, carrier
        codes = np.array(w.carrier_code)[carrier]
        self.tables["shipments"] = _rows(
            "id number direction order_id po_id carrier_id tracking region status shipped_at "
            "promised_date estimated_arrival delivered_at",
            range(1, n_s + 1),
            [document_number("SH", i) for i in range(1, n_s + 1)],
            ["outbound"] * n_s,
            (s_order + 1).tolist(),
            [None] * n_s,
            (carrier + 1).tolist(),
            [f"{c}{(i * 7919) % 900_000_000 + 100_000_000}" for i, c in enumerate(codes, 1)],
            [cat.REGIONS[r] for r in region],
            status.tolist(),
            self.ts(shipped),
            self.day(promised),
            self.day(estimate),
            self.ts(np.where(done, delivered, -1)),
        )
        # One shipment line per shipment and order line (two parts on one day are merged).
        n_l = len(self.l_qty)
        pair = ship_of_event.astype(np.int64) * n_l + ev_line
        pairs, inverse = np.unique(pair, return_inverse=True)
        qty = np.bincount(inverse, weights=ev_qty).astype(np.int64)
        self.tables["shipment_lines"] = _rows(
            "id shipment_id order_line_id qty",
            range(1, len(pairs) + 1),
            (pairs // n_l + 1).tolist(),
            (pairs % n_l + 1).tolist(),
            qty.tolist(),
        )
        self.ship_events_mask = mask
        # Tracking events for recent shipments.
        rows = []
        recent = np.flatnonzero(s_day >= self.last_day - RECENT_EVENT_DAYS)
        for s in recent:
            sid = int(s) + 1
            rows.append((sid, int(shipped[s]), "picked_up", "Collected from MAIN"))
            if shipped[s] + 2 * HOUR <= self.now:
                rows.append((sid, int(shipped[s]) + 2 * HOUR, "in_transit", "On the way"))
            if self.s_late[s]:
                at = int(promised[s]) * DAY + 18 * HOUR
                if at <= self.now:
                    rows.append((sid, at, "delayed", "Running late, new estimate from carrier"))
            if done[s]:
                rows.append((sid, int(delivered[s]), "delivered", "Signed for at the kitchen door"))
        self.outbound_event_rows = rows
        # Inbound shipments and their events are added in _purchasing.

    def _orders(self) -> None:
        w, rng = self.w, self.rng
        n_o = len(self.o_ts)
        lo = self.l_order
        cancelled_all = np.ones(n_o, dtype=bool)
        np.logical_and.at(cancelled_all, lo, self.l_cancel == self.l_qty)
        pending = np.zeros(n_o, dtype=bool)
        np.logical_or.at(pending, lo, (self.l_alloc > self.l_shipped) | (self.l_back > 0))
        shipped_any = np.zeros(n_o, dtype=bool)
        shipped_any[self.s_order] = True
        undelivered = np.zeros(n_o, dtype=bool)
        undelivered[self.s_order[~self.s_done]] = True
        status = np.where(
            cancelled_all,
            "cancelled",
            np.where(
                pending,
                np.where(shipped_any, "shipped", "open"),
                np.where(undelivered, "shipped", "delivered"),
            ),
        )
        self.o_status = status
        self.o_delivered_ts = np.full(n_o, -1, dtype=np.int64)
        np.maximum.at(
            self.o_delivered_ts, self.s_order, np.where(self.s_done, self.s_delivered, -1)
        )
        # Cancelled orders: when the last part was cancelled, and why.
        cancel_at = np.full(n_o, -1, dtype=np.int64)
        cancelled_bo = self.b_status == "cancelled"
        np.maximum.at(
            cancel_at, self.l_order[self.b_line[cancelled_bo]], self.b_closed[cancelled_bo]
        )
        cancel_at = np.where(cancelled_all & (cancel_at < 0), self.o_ts, cancel_at)
        cancel_at = np.where(cancelled_all, cancel_at, -1)
        reason = np.where(
            cancelled_all,
            np.where(
                cancel_at > self.o_ts,
                "Backordered items cancelled",
                "Out of stock, cancelled short",
            ),
            None,
        )
        channel = rng.choice(len(CHANNELS), size=n_o, p=CHANNEL_WEIGHTS)
        placed_by = []
        for c, ch in zip(self.o_customer, channel, strict=True):
            if CHANNELS[ch] == "portal":
                placed_by.append(w.cust_code[c].lower())
            elif CHANNELS[ch] == "rep":
                placed_by.append(w.rep_code[w.cust_rep[c]].lower())
            else:
                placed_by.append("service")
        order_day = self.o_ts // DAY
        # Wanted the next day; nobody delivers on a Sunday (date.fromordinal(1) is a Monday).
        next_weekday = (self.h.start_ordinal + order_day + 1 - 1) % 7
        requested = order_day + 1 + (next_weekday == 6)
        self.tables["orders"] = _rows(
            "id number customer_id placed_at requested_date priority status channel placed_by "
            "cancelled_at cancel_reason",
            range(1, n_o + 1),
            [document_number("SO", i) for i in range(1, n_o + 1)],
            (self.o_customer + 1).tolist(),
            self.ts(self.o_ts),
            self.day(requested),
            np.where(self.o_urgent, "urgent", "normal").tolist(),
            status.tolist(),
            [CHANNELS[c] for c in channel],
            placed_by,
            self.ts(cancel_at),
            reason.tolist(),
        )

    # --- purchasing ------------------------------------------------------------------------

    def _po_current_expected(self) -> None:
        """Original and current expected days per PO (late POs were re-promised)."""
        h, rng = self.h, self.rng
        n_po = len(h.po_supplier)
        self.pol_po = np.array(h.pol_po, dtype=np.int64)
        self.pol_qty = np.array(h.pol_qty, dtype=np.int64)
        self.pol_received = np.array(h.pol_received, dtype=np.int64)
        ordered = np.bincount(self.pol_po, weights=self.pol_qty, minlength=n_po)
        received = np.bincount(self.pol_po, weights=self.pol_received, minlength=n_po)
        draft = np.array(h.po_draft, dtype=bool)
        original = np.array(h.po_expected_day, dtype=np.int64)
        status = np.where(
            draft,
            "draft",
            np.where(
                received >= ordered,
                "received",
                np.where(received > 0, "partially_received", "sent"),
            ),
        )
        # A late supplier named its new date (the day it delivered) once the due date passed;
        # one whose rest of a part delivery is still to come names a date in the next days.
        expected = np.array(h.po_current_day, dtype=np.int64)
        overdue = (status != "received") & ~draft & (expected < self.last_day)
        expected[overdue] = self.last_day + rng.integers(1, 5, int(overdue.sum()))
        self.po_status, self.po_expected, self.po_original = status, expected, original

    def _open_po_by_product(self) -> dict[int, int]:
        """For each product, the open (sent) PO expected soonest."""
        best: dict[int, tuple[int, int]] = {}
        open_line = (self.pol_received < self.pol_qty) & (self.po_status[self.pol_po] != "draft")
        for pol in np.flatnonzero(open_line):
            po = int(self.pol_po[pol])
            p = self.h.pol_product[pol]
            candidate = (int(self.po_expected[po]), po)
            if p not in best or candidate < best[p]:
                best[p] = candidate
        return {p: po for p, (_, po) in best.items()}

    def _purchasing(self) -> None:
        h, w, rng = self.h, self.w, self.rng
        n_po = len(h.po_supplier)
        po_day = np.array(h.po_day, dtype=np.int64)
        draft = self.po_status == "draft"
        created = po_day * DAY + np.where(draft, 11 * HOUR + 30 * 60, 16 * HOUR)
        approved = np.where(draft, -1, created + rng.integers(10 * 60, 50 * 60, n_po))
        sent = np.where(draft, -1, approved + 5 * 60)
        receipt_pol = np.array(h.receipt_pol, dtype=np.int64)
        receipt_ts = np.array(h.receipt_ts, dtype=np.int64)
        last_receipt = np.full(n_po, -1, dtype=np.int64)
        np.maximum.at(last_receipt, self.pol_po[receipt_pol], receipt_ts)
        received_at = np.where(self.po_status == "received", last_receipt, -1)
        self.tables["purchase_orders"] = _rows(
            "id number supplier_id warehouse_id status created_at created_by approved_at "
            "approved_by sent_at expected_date original_expected_date received_at",
            range(1, n_po + 1),
            [document_number("PO", i) for i in range(1, n_po + 1)],
            (np.array(h.po_supplier) + 1).tolist(),
            [WAREHOUSE_ID] * n_po,
            self.po_status.tolist(),
            self.ts(created),
            ["system"] * n_po,
            self.ts(approved),
            np.where(draft, None, "buyer").tolist(),
            self.ts(sent),
            self.day(np.where(draft, -1, self.po_expected)),
            self.day(np.where(draft, -1, self.po_original)),
            self.ts(received_at),
        )
        n_pol = len(self.pol_po)
        pol_product = np.array(h.pol_product, dtype=np.int64)
        self.tables["purchase_order_lines"] = _rows(
            "id po_id product_id qty_ordered qty_received unit_cost",
            range(1, n_pol + 1),
            (self.pol_po + 1).tolist(),
            (pol_product + 1).tolist(),
            self.pol_qty.tolist(),
            self.pol_received.tolist(),
            money(w.cost[pol_product]),
        )
        n_r = len(receipt_pol)
        self.tables["receipts"] = _rows(
            "id po_line_id qty received_at actor",
            range(1, n_r + 1),
            (receipt_pol + 1).tolist(),
            h.receipt_qty,
            self.ts(receipt_ts),
            ["operator"] * n_r,
        )
        # Inbound shipments for the POs still on their way.
        open_po = np.flatnonzero(np.isin(self.po_status, ("sent", "partially_received")))
        n_out = len(self.tables["shipments"])
        rows = []
        events = list(self.outbound_event_rows)
        for k, po in enumerate(open_po):
            sid = n_out + k + 1
            carrier = int(rng.integers(len(w.carrier_code)))
            late = self.po_expected[po] != self.po_original[po]
            near = self.po_expected[po] - self.last_day <= 3
            status = "delayed" if late else ("in_transit" if near else "planned")
            shipped = self.now - int(rng.integers(2, 30)) * HOUR if status != "planned" else -1
            rows.append(
                (
                    sid,
                    f"IN-{k + 1:06d}",
                    "inbound",
                    None,
                    int(po) + 1,
                    carrier + 1,
                    f"{w.carrier_code[carrier]}{(sid * 7919) % 900_000_000 + 100_000_000}",
                    None,
                    status,
                    self.ts([shipped])[0],
                    self.day([self.po_original[po]])[0],
                    self.day([self.po_expected[po]])[0],
                    None,
                )
            )
            if shipped >= 0:
                events.append(
                    (
                        sid,
                        shipped,
                        "picked_up",
                        f"Collected from {w.supplier_name[h.po_supplier[po]]}",
                    )
                )
            if late:
                events.append((sid, self.now - HOUR, "delayed", "Supplier reports a later arrival"))
        shipments = self.tables["shipments"]
        shipments.data = [
            list(column) + [row[k] for row in rows] for k, column in enumerate(shipments.data)
        ]
        n_e = len(events)
        self.tables["shipment_events"] = _rows(
            "id shipment_id at kind note",
            range(1, n_e + 1),
            [e[0] for e in events],
            self.ts(np.array([e[1] for e in events], dtype=np.int64)),
            [e[2] for e in events],
            [e[3] for e in events],
        )

    # --- stock -----------------------------------------------------------------------------

    def _stock_and_ledger(self) -> None:
        h, w = self.h, self.w
        n_p = len(w.sku)
        receipt_pol = np.array(h.receipt_pol, dtype=np.int64)
        receipt_product = np.array(h.pol_product, dtype=np.int64)[receipt_pol]
        receipt_qty = np.array(h.receipt_qty, dtype=np.int64)
        received = np.bincount(receipt_product, weights=receipt_qty, minlength=n_p)
        ev_product = self.l_product[self.ev_line]
        shipped_mask = self.ship_events_mask
        shipped = np.bincount(
            ev_product[shipped_mask], weights=self.ev_qty[shipped_mask], minlength=n_p
        )
        allocated = np.bincount(ev_product, weights=self.ev_qty, minlength=n_p)
        on_hand = (h.initial_on_hand + received - shipped).astype(np.int64)
        reserved = (allocated - shipped).astype(np.int64)
        assert (on_hand >= reserved).all() and (reserved >= 0).all()
        self.tables["stock"] = _rows(
            "product_id warehouse_id on_hand reserved version",
            range(1, n_p + 1),
            [WAREHOUSE_ID] * n_p,
            on_hand.tolist(),
            reserved.tolist(),
            [1] * n_p,
        )
        self.on_hand, self.reserved = on_hand, reserved

        # Ledger: opening stock, each receipt, and per product and day the reservations made and
        # the quantity shipped. Sums are exact, so the ledger always adds up to the stock rows.
        res_key = (self.ev_reserved_ts // DAY) * n_p + ev_product
        res_keys, res_inv = np.unique(res_key, return_inverse=True)
        res_qty = np.bincount(res_inv, weights=self.ev_qty).astype(np.int64)
        ship_key = self.ev_day[shipped_mask] * n_p + ev_product[shipped_mask]
        ship_keys, ship_inv = np.unique(ship_key, return_inverse=True)
        ship_qty = np.bincount(ship_inv, weights=self.ev_qty[shipped_mask]).astype(np.int64)
        at = np.r_[
            np.zeros(n_p, dtype=np.int64),
            np.array(h.receipt_ts, dtype=np.int64),
            np.minimum((res_keys // n_p) * DAY + 20 * HOUR, self.now),
            (ship_keys // n_p) * DAY + 11 * HOUR,
        ]
        product = np.r_[np.arange(n_p), receipt_product, res_keys % n_p, ship_keys % n_p]
        on_hand_delta = np.r_[
            h.initial_on_hand, receipt_qty, np.zeros(len(res_keys), np.int64), -ship_qty
        ]
        reserved_delta = np.r_[
            np.zeros(n_p, np.int64), np.zeros(len(receipt_qty), np.int64), res_qty, -ship_qty
        ]
        kinds = np.array(["opening", "receipt", "reserve", "ship"])
        kind = np.repeat(np.arange(4), [n_p, len(receipt_qty), len(res_keys), len(ship_keys)])
        ref_type = np.array([None, "po_line", None, None], dtype=object)[kind]
        ref_id = np.r_[
            np.full(n_p, -1), receipt_pol + 1, np.full(len(res_keys) + len(ship_keys), -1)
        ]
        notes = np.array(
            ["Opening stock", "", "Orders and backorders reserved", "Dispatched to customers"],
            dtype=object,
        )[kind]
        order = np.lexsort((kind, at))
        n = len(order)
        self.tables["stock_ledger"] = _rows(
            "id at product_id warehouse_id on_hand_delta reserved_delta reason ref_type ref_id "
            "actor note",
            range(1, n + 1),
            self.ts(at[order]),
            (product[order] + 1).tolist(),
            [WAREHOUSE_ID] * n,
            on_hand_delta[order].tolist(),
            reserved_delta[order].tolist(),
            kinds[kind[order]].tolist(),
            ref_type[order].tolist(),
            [None if r < 0 else int(r) for r in ref_id[order]],
            ["system"] * n,
            notes[order].tolist(),
        )

    def _demand_daily(self) -> None:
        n_p, n_s = len(self.w.sku), len(SEGMENTS)
        day = self.l_ts // DAY
        segment = self.w.cust_segment[self.l_customer]
        key = (day * n_p + self.l_product) * n_s + segment
        keys, inv = np.unique(key, return_inverse=True)
        price = self.w.price[self.l_product]
        lines = np.bincount(inv)
        short = np.bincount(inv, weights=self.l_short > 0).astype(np.int64)
        qty = np.bincount(inv, weights=self.l_qty).astype(np.int64)
        qty_short = np.bincount(inv, weights=self.l_short).astype(np.int64)
        revenue = np.bincount(inv, weights=self.l_qty * price)
        segs = np.array(SEGMENTS, dtype=object)
        self.tables["demand_daily"] = _rows(
            "day product_id segment lines lines_short qty_ordered qty_short revenue",
            self.day(keys // (n_p * n_s)),
            ((keys // n_s) % n_p + 1).tolist(),
            segs[keys % n_s].tolist(),
            lines.tolist(),
            short.tolist(),
            qty.tolist(),
            qty_short.tolist(),
            money(revenue),
        )

    def _pick_tasks(self) -> None:
        w = self.w
        rows = []
        # Recent history: what was picked, packed and shipped.
        mask = self.ship_events_mask & (self.ev_day >= self.last_day - RECENT_PICK_DAYS)
        for i in np.flatnonzero(mask):
            line = int(self.ev_line[i])
            d = int(self.ev_day[i])
            rows.append(
                (
                    line,
                    int(self.ev_qty[i]),
                    int(self.ev_qty[i]),
                    "shipped",
                    bool(self.ev_from_fill[i]),
                    int(self.ev_reserved_ts[i]),
                    d * DAY + 6 * HOUR,
                    d * DAY + 7 * HOUR,
                    "operator",
                    d,
                )
            )
        # Open work: everything reserved and not yet shipped.
        # Held ship-complete orders wait for their backorders and get no pick task yet.
        for i in np.flatnonzero(~self.ship_events_mask & (self.ev_day < HELD)):
            line = int(self.ev_line[i])
            rows.append(
                (
                    line,
                    int(self.ev_qty[i]),
                    0,
                    "open",
                    bool(self.ev_from_fill[i]),
                    int(self.ev_reserved_ts[i]),
                    -1,
                    -1,
                    None,
                    self.last_day + 1,
                )
            )
        rows.sort(key=lambda r: (r[5], r[0]))
        n = len(rows)
        line = np.array([r[0] for r in rows], dtype=np.int64)
        order = self.l_order[line] if n else line
        self.tables["pick_tasks"] = _rows(
            "id order_line_id product_id warehouse_id bin_id qty qty_picked status fills_backorder "
            "urgent due_date created_at picked_at packed_at actor",
            range(1, n + 1),
            (line + 1).tolist(),
            (self.l_product[line] + 1).tolist() if n else [],
            [WAREHOUSE_ID] * n,
            (w.bin[self.l_product[line]] + 1).tolist() if n else [],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            (self.o_urgent[order] | (w.cust_tier[self.o_customer[order]] == 0)).tolist()
            if n
            else [],
            self.day(np.array([r[9] for r in rows], dtype=np.int64)),
            self.ts(np.array([r[5] for r in rows], dtype=np.int64)),
            self.ts(np.array([r[6] for r in rows], dtype=np.int64)),
            self.ts(np.array([r[7] for r in rows], dtype=np.int64)),
            [r[8] for r in rows],
        )

    # --- money, messages and opinions ------------------------------------------------------

    def _costs(self) -> None:
        w, rng = self.w, self.rng
        rows = []
        product = self.l_product[self.b_line]
        tier = w.cust_tier[self.l_customer[self.b_line]]
        urgent = self.o_urgent[self.l_order[self.b_line]]
        value = w.price[product] * self.b_qty
        complete = np.array([p == "ship_complete" for p in w.cust_pref])[
            self.l_customer[self.b_line]
        ]
        for k in range(len(self.f_bo)):
            b = int(self.f_bo[k])
            if not complete[b] and rng.random() < 0.6:
                rows.append(
                    (
                        int(self.f_ts[k]) + DAY,
                        b,
                        "split_freight",
                        round(rng.uniform(6, 18), 2),
                        "Second delivery for the backordered part",
                    )
                )
        handling = float(SETTINGS["backorder_handling_cost"].default)
        for b in range(len(self.b_line)):
            rows.append((int(self.b_ts[b]), b, "handling", handling, "Backorder handling"))
            if (tier[b] == 0 or urgent[b]) and rng.random() < 0.25:
                rows.append(
                    (
                        int(self.b_ts[b]) + 2 * HOUR,
                        b,
                        "expedite",
                        round(rng.uniform(25, 90), 2),
                        "Supplier asked to expedite",
                    )
                )
            if self.b_status[b] == "cancelled" and tier[b] < 2 and rng.random() < 0.5:
                credit = 0.1 * w.price[product[b]] * self.b_cancelled[b]
                rows.append(
                    (
                        int(self.b_closed[b]),
                        b,
                        "credit",
                        round(max(credit, 1.0), 2),
                        "Goodwill credit for the cancelled backorder",
                    )
                )
            elif (
                self.b_status[b] == "filled"
                and self.b_closed[b] // DAY > self.h.bo_promised_day[b]
                and rng.random() < 0.15
            ):
                rows.append(
                    (
                        int(self.b_closed[b]),
                        b,
                        "credit",
                        round(max(0.05 * value[b], 1.0), 2),
                        "Credit for missing the promised date",
                    )
                )
        rows = [r for r in rows if r[0] <= self.now]
        rows.sort(key=lambda r: (r[0], r[1]))
        n = len(rows)
        self.tables["backorder_costs"] = _rows(
            "id at backorder_id kind amount note",
            range(1, n + 1),
            self.ts(np.array([r[0] for r in rows], dtype=np.int64)),
            [r[1] + 1 for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
        )

    def _communications(self) -> None:
        w, rng = self.w, self.rng
        rows = []
        for b in range(len(self.b_line)):
            line = int(self.b_line[b])
            order, cust = int(self.l_order[line]), int(self.l_customer[line])
            number, product = document_number("SO", order + 1), w.name[int(self.l_product[line])]
            rep = w.rep_code[w.cust_rep[cust]].lower()
            created = int(self.b_ts[b])
            if rng.random() < 0.5:
                at = created + HOUR
                rows.append(
                    (
                        at,
                        cust,
                        None,
                        order,
                        rep,
                        "email",
                        "outbound",
                        texts.subject(rng, texts.OUTBOUND_SUBJECTS, number, product),
                        "We are sorry: part of your order is on backorder. We will confirm the date.",
                        -1,
                    )
                )
            if rng.random() < 0.25:
                at = created + int(rng.integers(1, 5)) * DAY + int(rng.integers(0, 8 * HOUR))
                channel = "phone" if rng.random() < 0.5 else "email"
                wait = (
                    int(rng.integers(60, 600))
                    if channel == "phone"
                    else int(rng.lognormal(9.0, 1.0))
                )
                answered = at + wait
                if answered > self.now or (self.now - at < 2 * DAY and rng.random() < 0.4):
                    answered = -1  # recent questions still waiting for an answer
                rows.append(
                    (
                        at,
                        cust,
                        None,
                        order,
                        "service",
                        channel,
                        "inbound",
                        texts.subject(rng, texts.INBOUND_SUBJECTS, number, product),
                        "Customer asked for an update.",
                        answered,
                    )
                )
        # General questions from customers, unrelated to backorders.
        n_o = len(self.o_ts)
        for order in np.flatnonzero(rng.random(n_o) < 0.015):
            cust = int(self.o_customer[order])
            at = int(self.o_ts[order]) + int(rng.integers(1, 3 * DAY))
            channel = ("phone", "email", "portal")[int(rng.integers(3))]
            wait = (
                int(rng.integers(60, 900)) if channel == "phone" else int(rng.lognormal(9.3, 1.1))
            )
            answered = at + wait
            if answered > self.now or (self.now - at < 2 * DAY and rng.random() < 0.4):
                answered = -1
            rows.append(
                (
                    at,
                    cust,
                    None,
                    int(order),
                    "service",
                    channel,
                    "inbound",
                    texts.subject(
                        rng, texts.GENERAL_SUBJECTS, document_number("SO", order + 1), ""
                    ),
                    "",
                    answered,
                )
            )
        # Messages to carriers about late deliveries.
        recent_late = np.flatnonzero(
            self.s_late & (self.s_day >= self.last_day - RECENT_EVENT_DAYS)
        )
        for s in recent_late:
            if rng.random() < 0.3:
                at = int(self.s_promised[s]) * DAY + 15 * HOUR
                answered = at + int(rng.integers(HOUR, 6 * HOUR))
                rows.append(
                    (
                        at,
                        None,
                        int(self.s_carrier[s]),
                        int(self.s_order[s]),
                        "logistics",
                        "email",
                        "outbound",
                        f"Delay on {document_number('SH', s + 1)}",
                        "Please confirm the new delivery time.",
                        answered if answered <= self.now else -1,
                    )
                )
        rows = [r for r in rows if r[0] <= self.now]
        rows.sort(key=lambda r: (r[0], r[4], r[3]))
        n = len(rows)
        self.tables["communications"] = _rows(
            "id created_at customer_id carrier_id order_id actor channel direction subject body "
            "answered_at",
            range(1, n + 1),
            self.ts(np.array([r[0] for r in rows], dtype=np.int64)),
            [None if r[1] is None else r[1] + 1 for r in rows],
            [None if r[2] is None else r[2] + 1 for r in rows],
            [r[3] + 1 for r in rows],
            [r[4] for r in rows],
            [r[5] for r in rows],
            [r[6] for r in rows],
            [r[7] for r in rows],
            [r[8] for r in rows],
            self.ts(np.array([r[9] for r in rows], dtype=np.int64)),
        )

    def _feedback(self) -> None:
        w, rng = self.w, self.rng
        n_o = len(self.o_ts)
        had_bo = np.zeros(n_o, dtype=bool)
        had_bo[self.l_order[self.b_line]] = True
        had_cancel = np.zeros(n_o, dtype=bool)
        had_cancel[self.l_order[self.b_line[self.b_status == "cancelled"]]] = True
        late = np.zeros(n_o, dtype=bool)
        np.logical_or.at(late, self.s_order, self.s_late)
        first_product = np.full(n_o, -1, dtype=np.int64)
        first_product[self.l_order[::-1]] = self.l_product[::-1]
        short_product = first_product.copy()
        short_product[self.l_order[self.b_line]] = self.l_product[self.b_line]
        chance = np.where(had_bo, 3 * FEEDBACK_CHANCE, FEEDBACK_CHANCE)
        chosen = np.flatnonzero(
            (self.o_status == "delivered") & (self.o_delivered_ts >= 0) & (rng.random(n_o) < chance)
        )
        rows = []
        for o in chosen:
            mean = 4.4 - 1.2 * had_bo[o] - 1.0 * had_cancel[o] - 0.7 * late[o]
            csat = int(np.clip(np.rint(rng.normal(mean, 0.7)), 1, 5))
            nps = int(np.clip(np.rint(rng.normal(2 * csat - 0.5, 1.3)), 0, 10))
            at = int(self.o_delivered_ts[o]) + int(rng.integers(2 * HOUR, 4 * DAY))
            if at > self.now:
                continue
            product = w.name[int(short_product[o] if had_bo[o] else first_product[o])]
            comment = texts.feedback_comment(rng, csat, product, had_bo[o], had_cancel[o], late[o])
            rows.append((at, int(self.o_customer[o]), int(o), csat, nps, comment))
        rows.sort(key=lambda r: (r[0], r[2]))
        n = len(rows)
        self.tables["feedback"] = _rows(
            "id created_at customer_id order_id csat nps comment sentiment",
            range(1, n + 1),
            self.ts(np.array([r[0] for r in rows], dtype=np.int64)),
            [r[1] + 1 for r in rows],
            [r[2] + 1 for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            [r[5] for r in rows],
            [None] * n,
        )
