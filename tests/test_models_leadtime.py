"""Lead and transit time distributions, shrunk towards the overall record where thin."""

import pandas as pd
import pytest

from models.leadtime import DurationDistribution, duration_table, fit_durations


@pytest.fixture
def history():
    # Supplier A: 3 receipts of 10 days; supplier B: 100 receipts of 5 days.
    return pd.DataFrame({"supplier": ["A"] * 3 + ["B"] * 100, "days": [10] * 3 + [5] * 100})


def test_a_thin_group_is_pulled_towards_the_overall_figures(history):
    model = fit_durations(history, ["supplier"], shrinkage=5)
    dist = model.predict_distribution(pd.DataFrame({"supplier": ["A"]}))
    # overall P50 is 5; weight 3 / (3 + 5) on A's own 10 days: 3/8 * 10 + 5/8 * 5
    assert dist["p50"].iloc[0] == pytest.approx(6.875)
    assert dist["n"].iloc[0] == 3


def test_a_well_known_group_keeps_its_own_figures(history):
    model = fit_durations(history, ["supplier"], shrinkage=5)
    assert model.predict(pd.DataFrame({"supplier": ["B"]}))[0] == pytest.approx(5.0)


def test_without_shrinkage_a_group_stands_on_its_own(history):
    model = fit_durations(history, ["supplier"], shrinkage=0)
    assert model.predict(pd.DataFrame({"supplier": ["A"]}))[0] == pytest.approx(10.0)


def test_an_unknown_group_gets_the_overall_distribution(history):
    model = fit_durations(history, ["supplier"])
    dist = model.predict_distribution(pd.DataFrame({"supplier": ["never seen"]}))
    assert dist["level"].iloc[0] == 0
    assert dist["n"].iloc[0] == 103


def test_finer_levels_shrink_towards_their_parent_group():
    frame = pd.DataFrame(
        {
            "supplier": ["A"] * 12,
            "category": ["Dairy"] * 10 + ["Produce"] * 2,
            "days": [4] * 10 + [20] * 2,
        }
    )
    model = DurationDistribution(shrinkage=2).fit(frame[["supplier", "category"]], frame["days"])
    produce = model.predict_distribution(pd.DataFrame({"supplier": ["A"], "category": ["Produce"]}))
    assert produce["level"].iloc[0] == 2
    # Supplier A's P50 is 4 (its 12 receipts outweigh nothing above it but the same set);
    # Produce's own 20 days get weight 2 / (2 + 2).
    assert produce["p50"].iloc[0] == pytest.approx(0.5 * 20 + 0.5 * 4)


def test_p90_is_at_least_p50():
    frame = pd.DataFrame({"carrier": list("xxxxyyyy"), "days": [1, 2, 3, 9, 2, 2, 3, 4]})
    table = duration_table(fit_durations(frame, ["carrier"]), ["carrier"])
    assert (table["p90"] >= table["p50"]).all()
    assert table["carrier"].tolist() == ["x", "y", "(all)"]
