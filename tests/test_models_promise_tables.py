"""The promise's in-memory tables give the same figures and dates as the fitted models.

A tiny demo wholesaler is seeded and its lead-time and transit models are trained; every
group the models know (and some they do not) is looked up both ways, and every product's
backorder estimate is worked out with the fitted models (frames and input checks per lookup,
as before) and with the tables, for a customer in each region.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from data import demo
from data.db import make_engine
from data.schema import Base, Customer, Product
from models import promise, registry
from models.leadtime import ConditionalDurations, lookup
from models.promise import (
    ConditionalTable,
    DurationTable,
    PromiseModels,
    estimate_backorder,
    load_promise_models,
    read_promise_inputs,
    table_of,
)
from models.train import train_all

TODAY = dt.date(2026, 6, 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("promise_tables")
    engine = make_engine(f"sqlite:///{tmp / 'larder.db'}")
    Base.metadata.create_all(engine)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(registry, "ARTIFACT_DIR", tmp / "artifacts")
        demo.generate(engine, scale="tiny")
        runs = train_all(engine, kinds=("lead_time", "transit"), log=lambda _: None)
        assert {kind: run.status for kind, run in runs.items()} == {
            "lead_time": "ok",
            "transit": "ok",
        }
        with Session(engine) as session:
            fitted = promise._load_fitted(session)
        yield engine, fitted, runs
    engine.dispose()


def _groups(model):
    """The group figures a model falls back on (a conditional model keeps them inside)."""
    return model.parts_["groups"] if isinstance(model, ConditionalDurations) else model


def _keys(model, extra: list[tuple]) -> list[tuple]:
    known = [tuple(key) for level in _groups(model).levels_ for key in level]
    return known + extra


def test_every_group_has_the_fitted_models_figures(trained):
    _, fitted, _ = trained
    start = pd.Timestamp(TODAY)
    cases = {
        "lead": (
            fitted.lead,
            [("999999", "Dry goods"), ("no-such", "no-such")],
            {"start": start, "quoted_days": 7.0},
        ),
        "delay": (fitted.delay, [("999999",), ("",)], {}),
        "transit": (fitted.transit, [("Atlantis",), ("(unknown)",)], {"start": start}),
    }
    conditional = 0
    for name, (model, extra, features) in cases.items():
        table = table_of(model)
        if isinstance(model, ConditionalDurations):
            assert isinstance(table, ConditionalTable), name
            width = len(model.group_cols)
            conditional += 1
        else:
            assert isinstance(table, DurationTable), name
            width = len(model.feature_names_in_)
            features = {}
        keys = _keys(model, extra)
        # Finer keys under a known coarser group fall back to that group, as the model does.
        if name == "lead":
            keys += [(key[0], "no-such category") for key in keys if len(key) == 1]
        keys = [key for key in keys if len(key) == width]
        assert len(keys) > len(extra), name
        for key in keys:
            row = lookup(model, *key, **features)
            expected = (float(row["p50"]), float(row["p90"]), int(row["n"]))
            if isinstance(table, ConditionalTable):
                assert table.figures(list(key), **features) == expected, (name, key)
                # Asked again, the memo answers with the same figures.
                assert table.figures(list(key), **features) == expected, (name, key)
            else:
                assert table.figures(list(key)) == expected, (name, key)
    # The demo trains conditional lead and transit models: both went through their table.
    assert conditional == 2


def test_estimates_match_the_fitted_models_for_every_product_and_region(trained):
    engine, fitted, _ = trained
    with Session(engine) as session:
        tables = load_promise_models(session)
        assert isinstance(tables.lead, ConditionalTable)
        assert isinstance(tables.delay, DurationTable)
        assert isinstance(tables.transit, ConditionalTable)
        every = session.scalars(select(Product.id).order_by(Product.id)).all()
        products = every[:: max(1, len(every) // 12)]  # about 12, spread over the catalogue
        customers = {}
        for customer_id, region in session.execute(
            select(Customer.id, Customer.region).order_by(Customer.id)
        ):
            customers.setdefault(region, customer_id)
        customers = dict(sorted(customers.items())[:3])  # three regions
        assert len(products) > 10 and len(customers) > 1
        compared = 0
        for region, customer_id in customers.items():
            inputs = read_promise_inputs(session, products, region, TODAY)
            for product_id in products:
                for qty in (1, 40):
                    before = estimate_backorder(
                        session, product_id, qty, customer_id, TODAY, models=fitted
                    )
                    now = estimate_backorder(
                        session, product_id, qty, customer_id, TODAY, models=tables
                    )
                    batched = inputs.estimate(product_id, qty)
                    assert now == before == batched, (product_id, region, qty)
                    compared += 1
    # The learned figures were used (not the quoted fallbacks), so the test compares something.
    assert "quoted" not in before.reason
    assert compared == 2 * len(products) * len(customers)


def test_tables_are_built_once_per_run_and_replaced_by_a_newer_run(trained, monkeypatch, tmp_path):
    engine, fitted, runs = trained
    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path)
    loads = []
    real = promise._load_fitted
    monkeypatch.setattr(promise, "_load_fitted", lambda s: loads.append(1) or real(s))
    promise._TABLES.clear()
    with Session(engine) as session:
        first = load_promise_models(session)
        again = load_promise_models(session)
    assert first is again and len(loads) == 1
    assert first.sources == {"lead_time": runs["lead_time"].id, "transit": runs["transit"].id}

    newer = train_all(engine, kinds=("transit",), log=lambda _: None)["transit"]
    with Session(engine) as session:
        fresh = load_promise_models(session)
    assert len(loads) == 2
    assert fresh.sources == {"lead_time": runs["lead_time"].id, "transit": newer.id}
    assert isinstance(fresh, PromiseModels) and fresh is not first
