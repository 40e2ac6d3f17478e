"""Substitute ranking: same use, allergen rule, availability, price, what the customer accepted."""

import datetime as dt

import pandas as pd

from models.substitutes import allergen_set, rank_substitutes

NEEDED = dt.date(2026, 3, 10)
ORIGINAL = {"product_id": 1, "use": "cream", "price": 10.0, "allergens": "milk"}


def _candidates(**overrides):
    rows = [
        {
            "product_id": 2,
            "use": "cream",
            "price": 10.5,
            "cost": 7.0,
            "allergens": "milk",
            "available_date": pd.Timestamp("2026-03-09"),
        },
        {
            "product_id": 3,
            "use": "cream",
            "price": 10.0,
            "cost": 6.0,
            "allergens": "milk, soya",
            "available_date": pd.Timestamp("2026-03-01"),
        },
        {
            "product_id": 4,
            "use": "cream",
            "price": 9.5,
            "cost": 7.0,
            "allergens": "",
            "available_date": pd.Timestamp("2026-03-20"),
        },
        {
            "product_id": 5,
            "use": "butter",
            "price": 10.0,
            "cost": 5.0,
            "allergens": "milk",
            "available_date": pd.Timestamp("2026-03-01"),
        },
    ]
    return pd.DataFrame(rows)


def test_candidates_of_another_use_or_adding_an_allergen_are_left_out():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED)
    assert ranked["product_id"].tolist() == [2, 4]


def test_allergen_adding_candidates_can_be_shown_last_with_the_reason():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED, include_disallowed=True)
    assert ranked["product_id"].tolist()[-1] == 3
    assert "adds soya" in ranked["reason"].iloc[-1]


def test_available_in_time_ranks_above_arriving_late():
    ranked = rank_substitutes(ORIGINAL, _candidates(), NEEDED)
    assert ranked.iloc[0]["reason"].startswith("available in time")
    assert "10 days late" in ranked.iloc[1]["reason"]


def test_accepted_before_can_lift_a_candidate_to_the_top():
    late_but_liked = _candidates()
    late_but_liked.loc[late_but_liked["product_id"] == 4, "available_date"] = pd.Timestamp(
        "2026-03-11"
    )
    ranked = rank_substitutes(ORIGINAL, late_but_liked, NEEDED, accepted_before={4})
    assert ranked["product_id"].tolist()[0] == 4
    assert "accepted before" in ranked["reason"].iloc[0]


def test_allergen_field_parsing():
    assert allergen_set(" Milk ,soya,") == frozenset({"milk", "soya"})
    assert allergen_set(None) == frozenset()
