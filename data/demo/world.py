"""The wholesaler's master data: warehouse and bins, suppliers, carriers, reps, customers, products.

Everything is drawn from one seeded ``numpy`` generator, in a fixed order, so the same seed gives
the same world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.demo import catalogue as cat
from data.demo.scales import Scale
from data.schema import CATEGORIES, SEGMENTS, TIERS

ZONES = ("ambient", "chilled", "frozen")
BAYS_PER_AISLE = 20
LEVELS = 3
AISLE_SPACING_M = 3.2
BAY_WIDTH_M = 1.4

# Supplier reliability profiles: share, mean days late (range), spread of lateness (days).
SUPPLIER_PROFILES = (
    ("reliable", 0.5, (-0.3, 0.4), 0.6),
    ("often late", 0.3, (1.0, 2.5), 1.3),
    ("habitually late", 0.2, (3.0, 6.0), 2.2),
)
CATEGORY_LEAD_TIME = {  # quoted lead time range in days
    "Dry goods": (4, 10),
    "Dairy": (1, 3),
    "Produce": (1, 3),
    "Frozen meat & fish": (3, 7),
    "Beverages": (3, 8),
    "Disposables": (5, 12),
    "Cleaning supplies": (5, 12),
    "Kitchen equipment": (7, 21),
}
CATEGORY_POPULARITY = (1.2, 1.3, 1.3, 1.0, 1.0, 0.8, 0.6, 0.25)  # in CATEGORIES order
QUALIFIER_PRICE = (1.0, 1.25, 1.35, 0.8, 0.95)
VARIANTS = ("", ", twin pack", ", trade pack")  # only the large catalogue needs these


@dataclass
class World:
    # bins
    bin_code: list[str]
    bin_zone: list[str]
    bin_aisle: np.ndarray
    bin_bay: np.ndarray
    bin_level: np.ndarray
    bin_x: np.ndarray
    bin_y: np.ndarray
    # suppliers
    supplier_code: list[str]
    supplier_name: list[str]
    supplier_lead: np.ndarray  # quoted days
    supplier_delay_mean: np.ndarray
    supplier_delay_sd: np.ndarray
    supplier_min_value: np.ndarray
    # carriers
    carrier_code: list[str]
    carrier_name: list[str]
    carrier_quoted: np.ndarray
    carrier_region_mean: np.ndarray  # carriers x regions: mean transit days
    carrier_region_share: np.ndarray  # regions x carriers: which carrier takes a delivery
    # sales reps
    rep_code: list[str]
    rep_name: list[str]
    rep_region: list[str]
    # customers
    cust_code: list[str]
    cust_name: list[str]
    cust_segment: np.ndarray  # index into SEGMENTS
    cust_region: np.ndarray  # index into REGIONS
    cust_tier: np.ndarray  # index into TIERS
    cust_pref: list[str]
    cust_rep: np.ndarray
    cust_rate: np.ndarray  # orders per day before seasons
    cust_start: np.ndarray  # first day of business with us
    cust_patience: np.ndarray  # days a backorder is tolerated
    # products
    sku: list[str]
    name: list[str]
    category: np.ndarray  # index into CATEGORIES
    use: list[str]
    unit: list[str]
    pack_size: np.ndarray
    price: np.ndarray
    cost: np.ndarray
    supplier: np.ndarray
    bin: np.ndarray
    min_order: np.ndarray
    shelf_life: list[int | None]
    allergens: list[str]
    typical_qty: np.ndarray
    popularity: np.ndarray
    alcohol: np.ndarray  # bool


def _pick(rng: np.random.Generator, weights: dict[str, float] | tuple, n: int) -> np.ndarray:
    w = np.array(list(weights.values()) if isinstance(weights, dict) else weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def _counts_by_share(total: int, shares: list[float]) -> list[int]:
    counts = [int(round(total * s)) for s in shares]
    counts[0] += total - sum(counts)
    return counts


def build_world(scale: Scale, rng: np.random.Generator) -> World:
    """Draw the master data for ``scale``."""
    suppliers = _suppliers(scale, rng)
    carriers = _carriers(scale, rng)
    reps = _reps(scale, rng)
    customers = _customers(scale, rng, reps["rep_region"])
    products = _products(scale, rng, suppliers.pop("supplier_category"))
    bins = _bins(products["category"], products["popularity"])
    products["bin"] = bins.pop("product_bin")
    return World(**bins, **suppliers, **carriers, **reps, **customers, **products)


def _suppliers(scale: Scale, rng: np.random.Generator) -> dict:
    n = scale.suppliers
    counts = _counts_by_share(n, [cat.CATEGORY_SHARE[c] for c in CATEGORIES])
    counts = [max(1, c) for c in counts]
    while sum(counts) > n:  # keep at least one supplier per category
        counts[int(np.argmax(counts))] -= 1
    category = np.repeat(np.arange(len(CATEGORIES)), counts)
    profile = _pick(rng, tuple(p[1] for p in SUPPLIER_PROFILES), n)
    delay_mean = np.array(
        [rng.uniform(*SUPPLIER_PROFILES[k][2]) for k in profile], dtype=float
    ).round(2)
    delay_sd = np.array([SUPPLIER_PROFILES[k][3] for k in profile]) * rng.uniform(0.7, 1.3, n)
    lead = np.array(
        [
            rng.integers(lo, hi + 1)
            for lo, hi in (CATEGORY_LEAD_TIME[CATEGORIES[c]] for c in category)
        ]
    )
    names = []
    for i in range(n):
        base = cat.SUPPLIER_NAMES[i % len(cat.SUPPLIER_NAMES)]
        word = cat.SUPPLIER_WORDS[int(rng.integers(len(cat.SUPPLIER_WORDS)))]
        suffix = "" if i < len(cat.SUPPLIER_NAMES) else f" {i // len(cat.SUPPLIER_NAMES) + 1}"
        names.append(f"{base} {word}{suffix}")
    return {
        "supplier_code": [f"SUP{i + 1:03d}" for i in range(n)],
        "supplier_name": names,
        "supplier_lead": lead,
        "supplier_delay_mean": delay_mean,
        "supplier_delay_sd": delay_sd.round(2),
        "supplier_min_value": rng.choice([0, 100, 150, 250, 400], size=n).astype(float),
        "supplier_category": category,
    }


def _carriers(scale: Scale, rng: np.random.Generator) -> dict:
    chosen = cat.CARRIERS[: scale.carriers]
    n_regions = len(cat.REGIONS)
    quoted = np.array([c[2] for c in chosen])
    bias = rng.uniform(-0.6, 0.6, len(chosen))  # some carriers run late everywhere
    distance = np.array(cat.REGION_DISTANCE_DAYS)
    regional = rng.uniform(0.6, 1.6, (len(chosen), n_regions))  # and some in some regions
    mean = quoted[:, None] + bias[:, None] + distance[None, :] * regional
    share = rng.uniform(0.2, 1.0, (n_regions, len(chosen)))
    for k, (code, _, _) in enumerate(chosen):
        if code == "CITY":  # a city courier only serves London and the South East
            share[2:, k] = 0.0
        if code == "HIGH":  # a Scottish haulier is strongest in the north
            share[:, k] *= np.array([0.1, 0.1, 0.1, 0.4, 1.0, 1.5, 3.0, 0.3])
    share = share / share.sum(axis=1, keepdims=True)
    return {
        "carrier_code": [c[0] for c in chosen],
        "carrier_name": [c[1] for c in chosen],
        "carrier_quoted": quoted,
        "carrier_region_mean": mean.round(2),
        "carrier_region_share": share,
    }


def _person(rng: np.random.Generator) -> str:
    first = cat.FIRST_NAMES[int(rng.integers(len(cat.FIRST_NAMES)))]
    last = cat.LAST_NAMES[int(rng.integers(len(cat.LAST_NAMES)))]
    return f"{first} {last}"


def _reps(scale: Scale, rng: np.random.Generator) -> dict:
    names: list[str] = []
    while len(names) < scale.sales_reps:
        candidate = _person(rng)
        if candidate not in names:
            names.append(candidate)
    regions = [cat.REGIONS[i % len(cat.REGIONS)] for i in range(scale.sales_reps)]
    return {
        "rep_code": [f"REP{i + 1:02d}" for i in range(scale.sales_reps)],
        "rep_name": names,
        "rep_region": regions,
    }


def _customers(scale: Scale, rng: np.random.Generator, rep_region: list[str]) -> dict:
    n = scale.customers
    segment = _pick(rng, cat.SEGMENT_WEIGHTS, n)
    region = _pick(rng, cat.REGION_WEIGHTS, n)
    tier = _pick(rng, tuple(cat.TIER_WEIGHTS[t] for t in TIERS), n)
    prefs = list(cat.PREFERENCE_WEIGHTS)
    pref = [prefs[k] for k in _pick(rng, cat.PREFERENCE_WEIGHTS, n)]
    reps_by_region = {r: [i for i, rr in enumerate(rep_region) if rr == r] for r in cat.REGIONS}
    rep = np.empty(n, dtype=np.int64)
    for i in range(n):
        local = reps_by_region[cat.REGIONS[region[i]]] or list(range(len(rep_region)))
        rep[i] = local[int(rng.integers(len(local)))]
    rate = (
        np.array([cat.SEGMENT_ORDER_RATE[SEGMENTS[s]] for s in segment])
        * np.array([cat.TIER_RATE[TIERS[t]] for t in tier])
        * rng.lognormal(0.0, 0.45, n)
    )
    # 70 % were customers before the history starts; the rest join along the way.
    start = np.where(rng.random(n) < 0.7, 0, rng.integers(0, scale.days, n))
    patience = rng.integers(7, 36, n)
    # The demo logins customer1 and customer2: loyal, busy, with different reps.
    segment[0], tier[0], region[0], pref[0], rep[0], start[0] = 1, 0, 0, "accept_backorder", 0, 0
    segment[1], tier[1], pref[1], rep[1], start[1] = (
        0,
        1,
        "accept_backorder",
        1 % len(rep_region),
        0,
    )
    region[1] = cat.REGIONS.index(rep_region[rep[1]])
    rate[0], rate[1] = max(rate[0], 1.2), max(rate[1], 0.8)
    names, seen = [], set()
    for i in range(n):
        forms = cat.SEGMENT_NAME_FORMS[SEGMENTS[segment[i]]]
        form = forms[int(rng.integers(len(forms)))]
        place = cat.PLACE_WORDS[int(rng.integers(len(cat.PLACE_WORDS)))]
        saint = cat.SAINTS[int(rng.integers(len(cat.SAINTS)))]
        candidate = form.format(p=place, s=saint)
        if candidate in seen:
            candidate = f"{candidate}, {cat.REGIONS[region[i]]}"
        if candidate in seen:
            candidate = f"{candidate} {i + 1}"
        seen.add(candidate)
        names.append(candidate)
    return {
        "cust_code": [f"C{i + 1:05d}" for i in range(n)],
        "cust_name": names,
        "cust_segment": segment,
        "cust_region": region,
        "cust_tier": tier,
        "cust_pref": pref,
        "cust_rep": rep,
        "cust_rate": rate,
        "cust_start": start,
        "cust_patience": patience,
    }


def _products(scale: Scale, rng: np.random.Generator, supplier_category: np.ndarray) -> dict:
    counts = _counts_by_share(scale.products, [cat.CATEGORY_SHARE[c] for c in CATEGORIES])
    out: dict[str, list] = {
        k: []
        for k in (
            "sku",
            "name",
            "category",
            "use",
            "unit",
            "pack_size",
            "price",
            "cost",
            "supplier",
            "min_order",
            "shelf_life",
            "allergens",
            "typical_qty",
            "popularity",
            "alcohol",
        )
    }
    for c, category in enumerate(CATEGORIES):
        families = cat.FAMILIES[category]
        brands = cat.BRANDS[category]
        combos = [
            (f, i, b, s, q, v)
            for f, fam in enumerate(families)
            for i in range(len(fam.items))
            for s in range(len(fam.sizes))
            for b in range(len(brands))
            for q in range(len(cat.QUALIFIERS))
            for v in range(len(VARIANTS))
        ]
        # Plain products first, so that small catalogues are not all "Organic Premium".
        rank = np.empty(len(combos), dtype=np.int64)
        rank[rng.permutation(len(combos))] = np.arange(len(combos))
        order = sorted(range(len(combos)), key=lambda k: (combos[k][5], combos[k][4] > 0, rank[k]))
        chosen = sorted(combos[k] for k in order[: counts[c]])
        own_suppliers = np.flatnonzero(supplier_category == c)
        supplier_weight = rng.uniform(0.3, 1.0, len(own_suppliers))
        for n_in_cat, (f, i, b, s, q, v) in enumerate(chosen):
            fam = families[f]
            item, _, allergens = fam.items[i].partition("|")
            size_label, size_mult = fam.sizes[s]
            price = (
                fam.base_price
                * size_mult
                * QUALIFIER_PRICE[q]
                * (0.9 + 0.08 * b)
                * rng.lognormal(0.0, 0.08)
            )
            pack = int(rng.choice(fam.pack_sizes))
            out["sku"].append(f"{cat.CATEGORY_CODE[category]}-{n_in_cat + 1:05d}")
            out["name"].append(f"{brands[b]} {cat.QUALIFIERS[q]}{item}, {size_label}{VARIANTS[v]}")
            out["category"].append(c)
            out["use"].append(cat.item_use(item))
            out["unit"].append(fam.unit)
            out["pack_size"].append(pack)
            out["price"].append(round(max(price, 0.5), 2))
            out["cost"].append(round(max(price, 0.5) * rng.uniform(0.58, 0.78), 2))
            out["supplier"].append(
                int(rng.choice(own_suppliers, p=supplier_weight / supplier_weight.sum()))
            )
            out["min_order"].append(pack * int(rng.choice([1, 1, 2])))
            out["shelf_life"].append(
                int(rng.integers(fam.shelf_life[0], fam.shelf_life[1] + 1))
                if fam.shelf_life
                else None
            )
            out["allergens"].append(",".join(sorted(a for a in allergens.split(",") if a)))
            out["typical_qty"].append(fam.typical_qty * rng.uniform(0.6, 1.5))
            out["popularity"].append(CATEGORY_POPULARITY[c] * rng.lognormal(0.0, 1.3))
            out["alcohol"].append(fam.use in cat.ALCOHOL_USES)
    arrays = {
        "pack_size",
        "price",
        "cost",
        "supplier",
        "min_order",
        "typical_qty",
        "popularity",
        "category",
        "alcohol",
    }
    return {k: (np.array(v) if k in arrays else v) for k, v in out.items()}


def _bins(category: np.ndarray, popularity: np.ndarray) -> dict:
    """Bins in aisles per temperature zone; the busiest products get the bins nearest the dock."""
    zone_of = np.array([ZONES.index(cat.CATEGORY_ZONE[CATEGORIES[c]]) for c in category])
    codes, zones, aisles, bays, levels, xs, ys = [], [], [], [], [], [], []
    product_bin = np.empty(len(category), dtype=np.int64)
    aisle = 0
    for z, zone in enumerate(ZONES):
        members = np.flatnonzero(zone_of == z)
        members = members[np.argsort(-popularity[members], kind="stable")]
        n_bins = int(len(members) * 1.1) + 2  # a few spare bins per zone
        per_aisle = BAYS_PER_AISLE * LEVELS
        n_aisles = max(1, -(-n_bins // per_aisle))
        slots = [
            (a, bay, level)
            for bay in range(1, BAYS_PER_AISLE + 1)
            for a in range(aisle + 1, aisle + n_aisles + 1)
            for level in range(1, LEVELS + 1)
        ][:n_bins]
        first = len(codes)
        for a, bay, level in slots:
            codes.append(f"{zone[0].upper()}{a:02d}-{bay:02d}-{level}")
            zones.append(zone)
            aisles.append(a)
            bays.append(bay)
            levels.append(level)
            xs.append(round(2.0 + bay * BAY_WIDTH_M, 1))
            ys.append(round(a * AISLE_SPACING_M, 1))
        product_bin[members] = first + np.arange(len(members))
        aisle += n_aisles
    return {
        "bin_code": codes,
        "bin_zone": zones,
        "bin_aisle": np.array(aisles),
        "bin_bay": np.array(bays),
        "bin_level": np.array(levels),
        "bin_x": np.array(xs),
        "bin_y": np.array(ys),
        "product_bin": product_bin,
    }
