"""Catalogue availability, the cart preview and alternatives against the hand-built world."""

from __future__ import annotations

import pytest

from queries.catalogue import alternatives, cart_check, search_catalogue
from tests import queries_world
from tests.queries_world import TODAY, days

# Built once per module and backend: the tests here only read.
world = queries_world.world


def test_search_matches_name_sku_or_use_and_skips_inactive(world):
    df = search_catalogue(world, text="flour", today=TODAY)
    assert list(df["sku"]) == ["ALM-01", "FLO-25", "GLD-01", "RYE-25"]  # by name; not OLD-01


@pytest.mark.parametrize(
    ("sku", "label"),
    [
        ("FLO-25", "In stock"),
        ("RYE-25", "Low"),
        # Milk: 7 queued ahead + 1 needs the sent PO due Mon 23 Nov (TODAY is Fri 20 Nov);
        # + 1 pick day = Tue 24 Nov + 2 transit days (no carrier: the default) = Thu 26 Nov.
        ("MLK-01", "Backorder — expected 26 Nov 2026"),
        # Bleach: only a draft PO, so 20 Nov + 2 days to reorder + the 10-day lead = Wed 2 Dec
        # restock; + 1 pick day = Thu 3 Dec + 2 transit days = Sat 5 Dec.
        ("BLE-05", "Backorder — expected 05 Dec 2026"),
    ],
)
def test_availability_label(world, sku, label):
    df = search_catalogue(world, text=sku, today=TODAY).set_index("sku")
    assert df.loc[sku, "availability"] == label


def test_search_by_category_and_limit(world):
    df = search_catalogue(world, category="Dairy", limit=2, today=TODAY)
    assert list(df["sku"]) == ["GOA-01", "MLK-01"]
    assert df.loc[df["sku"] == "MLK-01", "price"].item() == pytest.approx(1.0)


def test_cart_check_splits_available_and_short(world):
    df = cart_check(world, [("FLO-25", 40), ("OAT-01", 5)], today=TODAY).set_index("sku")
    assert (df.loc["FLO-25", "available"], df.loc["FLO-25", "short"]) == (35, 5)
    # 30 on order from the sent PO covers the 5 short: it arrives Mon 23 Nov (days(3)),
    # + 1 pick day = Tue 24 Nov + 2 transit days = Thu 26 Nov.
    assert df.loc["FLO-25", "expected_date"] == days(6)
    assert df.loc["FLO-25", "reason"].startswith("waits on PO-000001")
    assert df.loc["OAT-01", "short"] == 0


def test_cart_check_ignores_unknown_skus(world):
    assert cart_check(world, [("NOPE", 1)], today=TODAY).empty


def test_alternatives_exclude_short_extra_allergens_and_far_prices(world):
    # Flour (gluten, 15.00): rye has only 8, almond adds nuts, gold leaf is listed.
    assert list(alternatives(world, 1, 10)["sku"]) == ["GLD-01"]


def test_alternatives_rank_listed_first_then_price(world):
    df = alternatives(world, 1, 5)
    assert list(df["sku"]) == ["GLD-01", "RYE-25"]
    assert list(df["why"]) == ["listed substitute", "same use"]
    assert df.loc[1, "price_difference"] == pytest.approx(1.0)


def test_alternatives_prefer_what_the_customer_bought(world):
    assert list(alternatives(world, 4, 5)["sku"]) == ["GOA-01", "OAT-01"]  # closest price first
    ranked = alternatives(world, 4, 5, customer_id=2)  # Hotel Due bought oat milk before
    assert list(ranked["sku"]) == ["OAT-01", "GOA-01"]
    assert ranked.loc[0, "why"] == "you ordered it before"


def test_alternatives_of_unknown_product_is_empty(world):
    assert alternatives(world, 999, 1).empty


def test_dates_are_asked_for_the_shopping_customer(world, monkeypatch):
    """The shop's dates include transit to the customer's own region, so the customer is passed."""
    import queries.catalogue as catalogue_module

    asked = []
    real = catalogue_module.estimate_backorder

    def spy(session, product_id, qty, customer_id, today, **kw):
        asked.append(customer_id)
        return real(session, product_id, qty, customer_id, today, **kw)

    monkeypatch.setattr(catalogue_module, "estimate_backorder", spy)
    search_catalogue(world, text="MLK-01", today=TODAY, customer_id=7)
    cart_check(world, [("FLO-25", 40)], today=TODAY, customer_id=7)
    assert asked == [7, 7]


@pytest.mark.parametrize("typed", ["flo\x00ur", "\x00", "flour\x1b", "fl\ud800our", "f" * 10_000])
def test_search_with_control_characters_does_not_raise(world, typed):
    df = search_catalogue(world, text=typed, today=TODAY)
    if typed.startswith("flo"):  # the control characters are dropped, the rest still matches
        assert "FLO-25" in set(df["sku"])


def test_a_listed_substitute_of_another_use_is_not_offered(engine):
    from sqlalchemy import insert

    from data.schema import Substitute

    queries_world.build_world(engine)
    with engine.begin() as conn:  # flour listed against oat milk: a wrong entry in the table
        conn.execute(insert(Substitute).values(product_id=1, substitute_id=9, note="wrong"))
    offered = alternatives(engine, 1, 5)
    assert "OAT-01" not in set(offered["sku"])
    assert list(offered["sku"]) == ["GLD-01", "RYE-25"]
