"""Day-by-day simulation of the wholesaler: orders meet stock, shortages become backorders.

Each day: purchase orders arrive in the morning and fill waiting backorders by priority; then the
day's orders reserve what is available (in the order they came in) and the rest is backordered
(or cancelled, for customers who want that); backorders that waited past the customer's patience
are cancelled; and in the evening every product whose stock position fell to its reorder point is
reordered from its supplier, whose real lead time differs from the quoted one. Backorders are
therefore a consequence of stock-outs, not a random label.

Times are whole seconds from midnight of the first day. Customers who met backorders are more
likely to leave.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from data.demo import catalogue as cat
from data.demo.scales import Scale
from data.demo.seasons import season_factors
from data.demo.world import World
from data.schema import CATEGORIES, SEGMENTS, TIERS

DAY = 86_400
HOUR = 3_600
ENDS_AT_HOUR = 12  # the history stops at noon of its last day
SERVICE_Z = 1.28  # planners aim at ~90 % cycle service on the quoted lead time
PLAN_EVERY_DAYS = 28  # thresholds are recalculated every four weeks ...
PLAN_WINDOW_DAYS = 56  # ... from the last eight weeks of demand
SPIKE_CHANCE = 0.004  # a line that is many times the usual quantity (a banquet, a new menu)
TIER_POINTS = {0: 3.0, 1: 1.5, 2: 0.0}  # gold, silver, bronze (settings: weight_tier)
URGENT_POINTS = 2.0
WAIT_POINTS_PER_DAY = 0.2
SLACK_POINTS_PER_DAY = 0.5
PARTIAL_DELIVERY_CHANCE = 0.12
WEEKLY_CHURN = 0.0012
CHURN_PER_BACKORDER = 0.004
CHURN_PER_CANCELLED = 0.012
QUICK_CANCEL_CHANCE = 0.2  # some customers cancel a backorder within days and buy elsewhere
CANCEL_SHORT_REASON = "cancel_short: the customer takes only what is in stock"
CANCEL_REASONS = (
    "Customer cancelled after waiting too long",
    "Customer sourced the item elsewhere",
    "Needed for an event that has passed",
    "Menu changed, no longer needed",
)
DISRUPTION_DAYS = 28  # the least reliable suppliers have been badly late for four weeks
DISRUPTED_SUPPLIERS = 3
CUSTOMER_DEMO_ROWS = (0, 1)  # customer1 and customer2 never leave


@dataclass
class History:
    """Everything that happened, as parallel arrays and lists indexed from 0."""

    start_ordinal: int
    days: int
    now: int  # the moment the history ends (seconds)
    initial_on_hand: np.ndarray
    reorder_point: np.ndarray
    safety_stock: np.ndarray
    order_up_to: np.ndarray
    demand: np.ndarray  # days x products, quantity asked for
    customer_alive: np.ndarray
    customer_churn_day: np.ndarray
    # orders
    order_customer: list[np.ndarray] = field(default_factory=list)
    order_ts: list[np.ndarray] = field(default_factory=list)
    order_urgent: list[np.ndarray] = field(default_factory=list)
    # order lines
    line_order: list[np.ndarray] = field(default_factory=list)
    line_no: list[np.ndarray] = field(default_factory=list)
    line_product: list[np.ndarray] = field(default_factory=list)
    line_qty: list[np.ndarray] = field(default_factory=list)
    line_alloc: list[np.ndarray] = field(default_factory=list)  # reserved when placed
    line_short: list[np.ndarray] = field(default_factory=list)
    line_cancel: list[np.ndarray] = field(default_factory=list)  # short, cancelled at once
    line_ts: list[np.ndarray] = field(default_factory=list)
    # backorders
    bo_line: list[int] = field(default_factory=list)
    bo_product: list[int] = field(default_factory=list)
    bo_qty: list[int] = field(default_factory=list)
    bo_ts: list[int] = field(default_factory=list)
    bo_promised_day: list[int] = field(default_factory=list)
    bo_po: list[int] = field(default_factory=list)  # -1 when no PO was open
    bo_root: list[str] = field(default_factory=list)
    bo_filled: list[int] = field(default_factory=list)
    bo_cancelled: list[int] = field(default_factory=list)
    bo_closed_ts: list[int] = field(default_factory=list)  # -1 while open
    bo_cancel_reason: list[str | None] = field(default_factory=list)
    # fills: (backorder, ts, qty, po, score, tier points, urgent points, wait points, slack pts)
    fills: list[tuple] = field(default_factory=list)
    # purchase orders and lines
    po_supplier: list[int] = field(default_factory=list)
    po_day: list[int] = field(default_factory=list)
    po_expected_day: list[int] = field(default_factory=list)  # the due date given when sent
    po_current_day: list[int] = field(default_factory=list)  # the supplier's latest date
    po_arrival_day: list[int] = field(default_factory=list)
    po_draft: list[bool] = field(default_factory=list)
    pol_po: list[int] = field(default_factory=list)
    pol_product: list[int] = field(default_factory=list)
    pol_qty: list[int] = field(default_factory=list)
    pol_received: list[int] = field(default_factory=list)
    receipt_pol: list[int] = field(default_factory=list)
    receipt_qty: list[int] = field(default_factory=list)
    receipt_ts: list[int] = field(default_factory=list)


def _thresholds(
    mu: np.ndarray, sd: np.ndarray, lead: np.ndarray, cycle: np.ndarray, world: World
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reorder point, safety stock and order-up-to from daily demand mean and spread."""
    safety = np.ceil(SERVICE_Z * sd * np.sqrt(lead))
    rop = np.ceil(mu * lead + safety)
    batch = np.maximum(np.ceil(mu * cycle), world.min_order)
    out = rop + batch
    return rop.astype(np.int64), safety.astype(np.int64), out.astype(np.int64)


def simulate(world: World, scale: Scale, rng: np.random.Generator, start_ordinal: int) -> History:
    """Run the wholesaler for ``scale.days`` days starting at ``start_ordinal``."""
    n_days, n_products, n_customers = scale.days, len(world.sku), len(world.cust_code)
    n_suppliers = len(world.supplier_code)
    dates = [dt.date.fromordinal(start_ordinal + d) for d in range(n_days)]
    season = season_factors(SEGMENTS, dates)
    seg = world.cust_segment
    lines_mean = np.array([cat.SEGMENT_LINES[s] for s in SEGMENTS])

    # Product choice per segment: popularity x how much the segment buys of the category.
    affinity = np.array([cat.SEGMENT_CATEGORY_AFFINITY[s] for s in SEGMENTS])
    weights = world.popularity[None, :] * affinity[:, world.category]
    for s, name in enumerate(SEGMENTS):
        if name in cat.NO_ALCOHOL_SEGMENTS:
            weights[s, world.alcohol] = 0.0
    share = weights / weights.sum(axis=1, keepdims=True)
    cum = np.cumsum(share, axis=1)
    cum[:, -1] = 1.0

    # Scale order rates so the history has about ``target_lines`` lines.
    active_days = np.array(
        [season[seg[c], world.cust_start[c] :].sum() for c in range(n_customers)]
    )
    expected_lines = float((world.cust_rate * lines_mean[seg] * active_days).sum()) * 0.8
    rate = world.cust_rate * scale.target_lines / expected_lines

    # What planners expect at the start: expected daily lines x typical quantity per product.
    mean_season = season.mean(axis=1)
    lam_segment = np.array(
        [
            (rate[seg == s] * (world.cust_start[seg == s] == 0)).sum()
            * lines_mean[s]
            * mean_season[s]
            for s in range(len(SEGMENTS))
        ]
    )
    lam_product = lam_segment @ share
    mu = lam_product * world.typical_qty
    sd = np.sqrt(lam_product * 1.5 * world.typical_qty**2)
    lead = world.supplier_lead[world.supplier] + 1.0
    cycle = np.array([cat.CATEGORY_CYCLE_DAYS[CATEGORIES[c]] for c in world.category], dtype=float)
    rop, safety, out = _thresholds(mu, sd, lead, cycle, world)

    h = History(
        start_ordinal=start_ordinal,
        days=n_days,
        now=(n_days - 1) * DAY + ENDS_AT_HOUR * HOUR,
        initial_on_hand=out.copy(),
        reorder_point=rop,
        safety_stock=safety,
        order_up_to=out,
        demand=np.zeros((n_days, n_products), dtype=np.int32),
        customer_alive=np.ones(n_customers, dtype=bool),
        customer_churn_day=np.full(n_customers, -1, dtype=np.int64),
    )
    avail = out.astype(np.int64).copy()
    on_order = np.zeros(n_products, dtype=np.int64)
    bo_open_qty = np.zeros(n_products, dtype=np.int64)
    open_bos: list[list[int]] = [[] for _ in range(n_products)]
    open_pols: list[list[int]] = [[] for _ in range(n_products)]
    arrivals: dict[int, list[tuple[int, int]]] = defaultdict(list)
    cancel_due: dict[int, list[int]] = defaultdict(list)
    # (PO, its new date) by the day after its due date: a supplier running late names its new
    # date once the old one has passed.
    new_dates: dict[int, list[tuple[int, int]]] = defaultdict(list)
    churn_stimulus = np.zeros(n_customers)
    tier_points = np.array([TIER_POINTS[t] for t in range(len(TIERS))])[world.cust_tier]
    cancel_short = np.array([pref == "cancel_short" for pref in world.cust_pref])
    # The disruption hits the busiest of the suppliers that already tend to run late.
    volume = np.bincount(world.supplier, weights=world.popularity, minlength=n_suppliers)
    volume[world.supplier_delay_mean < 1.0] = 0.0
    disrupted = set(np.argsort(-volume, kind="stable")[:DISRUPTED_SUPPLIERS].tolist())
    # A backorder's promise: the date the supplier gives for the PO it waits on (or today plus
    # the quoted lead time, when none is open), plus the supplier's usual delay and spread,
    # rounded up, and a day to deliver. Most are kept; those made before the supplier named a
    # later date are broken.
    promise_margin = (
        np.ceil(np.maximum(world.supplier_delay_mean, 0.0)) + np.ceil(world.supplier_delay_sd)
    ).astype(np.int64)
    line_base = 0
    order_base = 0

    def fill_backorders(p: int, day: int, ts: int, po: int) -> None:
        waiting = open_bos[p]
        if not waiting or avail[p] <= 0:
            return
        scored = []
        for b in waiting:
            line = h.bo_line[b]
            cust = line_customer[line]
            t = tier_points[cust]
            u = URGENT_POINTS if line_urgent[line] else 0.0
            w = WAIT_POINTS_PER_DAY * (ts - h.bo_ts[b]) / DAY
            s = SLACK_POINTS_PER_DAY * max(0, day - h.bo_promised_day[b])
            scored.append((-(t + u + w + s), h.bo_ts[b], b, t, u, w, s))
        scored.sort()
        for neg, _, b, t, u, w, s in scored:
            if avail[p] <= 0:
                break
            open_qty = h.bo_qty[b] - h.bo_filled[b] - h.bo_cancelled[b]
            give = int(min(avail[p], open_qty))
            avail[p] -= give
            bo_open_qty[p] -= give
            h.bo_filled[b] += give
            h.fills.append((b, ts, give, po, -neg, t, u, w, s))
            if give == open_qty:
                h.bo_closed_ts[b] = ts
                waiting.remove(b)

    # Lines are looked up by global index inside fill_backorders; kept as growing lists.
    line_customer: list[int] = []
    line_urgent: list[bool] = []

    for d in range(n_days):
        last_day = d == n_days - 1
        for po, new_day in new_dates.pop(d, []):
            h.po_current_day[po] = new_day
        # 1. Morning deliveries from suppliers, then waiting backorders first.
        received_products = []
        for pol, qty in arrivals.pop(d, []):
            p = h.pol_product[pol]
            ts = d * DAY + 7 * HOUR + int(rng.integers(0, 3 * HOUR))
            h.receipt_pol.append(pol)
            h.receipt_qty.append(qty)
            h.receipt_ts.append(ts)
            h.pol_received[pol] += qty
            avail[p] += qty
            on_order[p] -= qty
            if h.pol_received[pol] == h.pol_qty[pol]:
                open_pols[p].remove(pol)
            received_products.append((p, ts, h.pol_po[pol]))
        for p, ts, po in received_products:
            fill_backorders(p, d, ts + 15 * 60, po)

        # 2. The day's orders.
        active = h.customer_alive & (world.cust_start <= d)
        counts = rng.poisson(rate * season[seg, d] * active)
        customers = np.repeat(np.arange(n_customers), counts)
        customers = customers[rng.permutation(len(customers))]
        day_end = ENDS_AT_HOUR * HOUR if last_day else 20 * HOUR
        forced = last_day and not any(
            line_customer[h.bo_line[b]] == 0 for ps in open_bos for b in ps
        )
        if forced:
            customers = np.append(customers, 0)  # customer1 always has a recent backorder
        n_orders = len(customers)
        if n_orders:
            ts_orders = np.sort(d * DAY + rng.integers(6 * HOUR, day_end, n_orders))
            urgent = rng.random(n_orders) < np.where(world.cust_tier[customers] == 0, 0.08, 0.03)
            n_lines = np.minimum(1 + rng.poisson(lines_mean[seg[customers]] - 1), 15)
            l_order = np.repeat(np.arange(n_orders), n_lines)
            l_seg = seg[customers][l_order]
            u = rng.random(len(l_order))
            l_prod = np.empty(len(l_order), dtype=np.int64)
            for s in range(len(SEGMENTS)):
                m = l_seg == s
                if m.any():
                    l_prod[m] = np.minimum(np.searchsorted(cum[s], u[m]), n_products - 1)
            if forced:
                # The scarcest stocked product, ordered beyond what is available.
                ratio = (avail - bo_open_qty) / np.maximum(rop, 1)
                l_prod[l_order == n_orders - 1] = int(np.argmin(ratio))
            _, keep = np.unique(l_order * n_products + l_prod, return_index=True)
            keep.sort()
            l_order, l_prod = l_order[keep], l_prod[keep]
            starts = np.searchsorted(l_order, np.arange(n_orders))
            l_no = np.arange(len(l_order)) - starts[l_order] + 1
            qty = np.maximum(
                1, np.rint(world.typical_qty[l_prod] * rng.gamma(2.0, 0.5, len(l_prod)))
            ).astype(np.int64)
            spike = rng.random(len(l_prod)) < SPIKE_CHANCE
            qty[spike] *= rng.integers(4, 11, int(spike.sum()))
            l_ts = ts_orders[l_order]
            if forced:
                last = l_order == n_orders - 1
                qty[last] = max(int(avail[l_prod[last][0]]) + 3, 3)

            # 3. Reserve in the order the lines came in; the rest is short.
            idx = np.lexsort((l_ts, l_prod))
            p_sorted, q_sorted = l_prod[idx], qty[idx]
            before = np.cumsum(q_sorted) - q_sorted
            group_start = np.r_[0, np.flatnonzero(np.diff(p_sorted)) + 1]
            group_id = np.repeat(np.arange(len(group_start)), np.diff(np.r_[group_start, len(idx)]))
            before -= before[group_start][group_id]
            alloc_sorted = np.clip(avail[p_sorted] - before, 0, q_sorted)
            alloc = np.empty_like(alloc_sorted)
            alloc[idx] = alloc_sorted
            avail_at_start = avail.copy()
            np.subtract.at(avail, l_prod, alloc)
            short = qty - alloc
            l_cust = customers[l_order]
            cancel = np.zeros_like(short)  # short parts are cancelled through their backorder

            h.order_customer.append(customers)
            h.order_ts.append(ts_orders)
            h.order_urgent.append(urgent)
            h.line_order.append(l_order + order_base)
            h.line_no.append(l_no)
            h.line_product.append(l_prod)
            h.line_qty.append(qty)
            h.line_alloc.append(alloc)
            h.line_short.append(short)
            h.line_cancel.append(cancel)
            h.line_ts.append(l_ts)
            line_customer.extend(l_cust.tolist())
            line_urgent.extend(urgent[l_order].tolist())
            np.add.at(h.demand[d], l_prod, qty)
            day_demand = np.bincount(l_prod, weights=qty, minlength=n_products)

            for i in np.flatnonzero(short > 0):
                p, c = int(l_prod[i]), int(l_cust[i])
                b = len(h.bo_line)
                pending = sorted(open_pols[p], key=lambda pol: h.po_current_day[h.pol_po[pol]])
                margin = int(promise_margin[world.supplier[p]])
                if pending:
                    po = h.pol_po[pending[0]]
                    promised = max(h.po_current_day[po], d) + 1 + margin
                else:
                    po = -1
                    promised = d + int(world.supplier_lead[world.supplier[p]]) + 2 + margin
                if any(h.po_expected_day[h.pol_po[pol]] < d for pol in pending):
                    root = "late_supplier"
                elif qty[i] >= 4 * world.typical_qty[p] or day_demand[p] > max(
                    4 * mu[p], 3 * world.typical_qty[p]
                ):
                    root = "demand_spike"
                elif avail_at_start[p] >= qty[i]:
                    root = "allocation"  # there was stock this morning; earlier orders took it
                else:
                    root = "forecast_miss"
                h.bo_line.append(line_base + int(i))
                h.bo_product.append(p)
                h.bo_qty.append(int(short[i]))
                h.bo_ts.append(int(l_ts[i]))
                h.bo_promised_day.append(max(promised, d + 1))
                h.bo_po.append(po)
                h.bo_root.append(root)
                h.bo_filled.append(0)
                if cancel_short[c]:
                    # The customer takes only what is in stock: a lost sale, closed at once.
                    h.bo_cancelled.append(int(short[i]))
                    h.bo_closed_ts.append(int(l_ts[i]))
                    h.bo_cancel_reason.append(CANCEL_SHORT_REASON)
                    continue
                h.bo_cancelled.append(0)
                h.bo_closed_ts.append(-1)
                h.bo_cancel_reason.append(None)
                open_bos[p].append(b)
                bo_open_qty[p] += int(short[i])
                patience = int(world.cust_patience[c])
                if rng.random() < QUICK_CANCEL_CHANCE:
                    patience = int(rng.integers(1, 6))
                cancel_due[d + patience].append(b)
                churn_stimulus[c] += CHURN_PER_BACKORDER
            line_base += len(l_prod)
            order_base += n_orders

        # 4. Backorders past the customer's patience are cancelled (lost sales).
        for b in cancel_due.pop(d, []):
            if h.bo_closed_ts[b] >= 0:
                continue
            line = h.bo_line[b]
            product = h.bo_product[b]
            open_qty = h.bo_qty[b] - h.bo_filled[b]
            h.bo_cancelled[b] = open_qty
            h.bo_closed_ts[b] = d * DAY + (ENDS_AT_HOUR - 1 if last_day else 17) * HOUR
            h.bo_cancel_reason[b] = CANCEL_REASONS[int(rng.integers(len(CANCEL_REASONS)))]
            open_bos[product].remove(b)
            bo_open_qty[product] -= open_qty
            churn_stimulus[line_customer[line]] += CHURN_PER_CANCELLED

        # 5. Planners refresh thresholds from recent demand.
        if d and d % PLAN_EVERY_DAYS == 0 and d >= PLAN_WINDOW_DAYS:
            window = h.demand[d - PLAN_WINDOW_DAYS : d]
            mu = 0.5 * mu + 0.5 * window.mean(axis=0)
            sd = 0.5 * sd + 0.5 * window.std(axis=0)
            rop, safety, out = _thresholds(mu, sd, lead, cycle, world)

        # 6. Evening review: reorder up to the order-up-to level, one PO per supplier.
        position = avail + on_order - bo_open_qty
        trigger = np.flatnonzero(position <= rop)
        if len(trigger):
            need = out[trigger] - position[trigger]
            pack = world.pack_size[trigger]
            qty_po = np.maximum(-(-need // pack) * pack, world.min_order[trigger])
            suppliers = world.supplier[trigger]
            for s in np.unique(suppliers):
                members = np.flatnonzero(suppliers == s)
                po = len(h.po_supplier)
                quoted = int(world.supplier_lead[s])
                late = rng.normal(world.supplier_delay_mean[s], world.supplier_delay_sd[s])
                arrival = d + max(1, int(round(quoted + late)))
                if int(s) in disrupted and d >= n_days - min(DISRUPTION_DAYS, n_days // 10):
                    arrival += int(rng.integers(8, 17))  # a current supply problem to manage
                partial = rng.random() < PARTIAL_DELIVERY_CHANCE
                h.po_supplier.append(int(s))
                h.po_day.append(d)
                h.po_expected_day.append(d + quoted)
                h.po_current_day.append(d + quoted)
                if arrival > d + quoted:
                    new_dates[d + quoted + 1].append((po, arrival))
                h.po_arrival_day.append(arrival)
                h.po_draft.append(last_day)
                for m in members:
                    p, q = int(trigger[m]), int(qty_po[m])
                    pol = len(h.pol_po)
                    h.pol_po.append(po)
                    h.pol_product.append(p)
                    h.pol_qty.append(q)
                    h.pol_received.append(0)
                    if last_day:
                        continue  # drafts wait for the buyer's approval
                    on_order[p] += q
                    open_pols[p].append(pol)
                    if partial and rng.random() < 0.5 and q > 1:
                        first = max(1, int(q * rng.uniform(0.4, 0.9)))
                        arrivals[arrival].append((pol, first))
                        arrivals[arrival + int(rng.integers(2, 9))].append((pol, q - first))
                    else:
                        arrivals[arrival].append((pol, q))

        # 7. Weekly: customers who met backorders leave more often.
        if d % 7 == 6:
            hazard = WEEKLY_CHURN + np.minimum(churn_stimulus, 0.25)
            leaving = (rng.random(n_customers) < hazard) & h.customer_alive
            leaving[list(CUSTOMER_DEMO_ROWS)] = False
            h.customer_alive &= ~leaving
            h.customer_churn_day[leaving] = d
            churn_stimulus *= 0.85

    h.reorder_point, h.safety_stock, h.order_up_to = rop, safety, out
    return h
