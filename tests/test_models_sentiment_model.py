"""The sentiment model trained on labelled food feedback, and where the app uses it."""

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from data.schema import Feedback, ModelRun
from models import registry
from models import train as train_module
from models.backtest import backtest_sentiment
from models.sentiment import (
    POSITIVE_FROM,
    TextSentimentModel,
    feedback_scores,
    sentiment_scores,
    trained_model,
)
from operations import record_feedback
from tests import operations_world
from tests.operations_world import fetch_rows

sworld = operations_world.sworld

# Food-service words a general lexicon does not know as good or bad.
GOOD = ["crisp", "fresh", "flaky", "moist", "creamy", "ripe", "juicy", "on time"]
BAD = ["stale", "soggy", "mouldy", "crushed", "rancid", "leaking", "late again", "curdled"]
THINGS = ["the croissants", "our bread", "the cheese", "the cream", "the pears", "the order"]


def _feedback(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        good = bool(rng.random() < 0.5)
        words = rng.choice(GOOD if good else BAD, size=2, replace=False)
        thing = rng.choice(THINGS)
        texts.append(f"{thing} came {words[0]} and {words[1]} this week".capitalize())
        labels.append(good)
    return texts, np.array(labels)


@pytest.fixture(scope="module")
def model() -> TextSentimentModel:
    texts, labels = _feedback(160, seed=1)
    return TextSentimentModel().fit(texts, labels)


def test_the_model_reads_food_words_vader_does_not_know(model):
    texts, labels = _feedback(80, seed=2)
    ours = (model.predict(texts) == labels).mean()
    vader = ((sentiment_scores(texts) >= POSITIVE_FROM) == labels).mean()
    assert ours >= 0.95
    assert ours > vader + 0.2


def test_scores_keep_vaders_scale_with_the_cut_off_at_positive_from(model):
    texts, _ = _feedback(40, seed=3)
    scores = model.scores([*texts, "", None])
    assert scores.min() >= -1 and scores.max() <= 1
    assert list(scores[-2:]) == [0.0, 0.0]
    assert ((scores[:-2] >= POSITIVE_FROM) == model.predict(texts)).all()
    order = np.argsort(model.probabilities(texts))
    assert (np.diff(scores[:-2][order]) >= 0).all()
    assert 0.05 <= model.cutoff_ <= 0.95


def test_fitting_needs_both_classes():
    with pytest.raises(ValueError, match="two texts of each class"):
        TextSentimentModel().fit(["good", "fine", "nice"], [True, True, False])


def test_backtest_scores_vader_and_the_model_on_rows_they_did_not_train_on():
    texts, labels = _feedback(200, seed=4)
    frame = pd.DataFrame({"text": texts, "label": np.where(labels, "good", "bad")})
    result = backtest_sentiment(frame, "good", test_share=0.25)
    assert (result["train_rows"], result["test_rows"]) == (150, 50)
    vader, vader_tuned, ours = result["held_out"]
    assert all(r["rows"] == 50 for r in result["held_out"])
    assert ours["macro_f1"] > max(vader["macro_f1"], vader_tuned["macro_f1"])
    # The held-out figures are of the last 50 rows: recompute the model's from scratch.
    model = TextSentimentModel().fit(texts[:150], labels[:150])
    expected = (model.predict(texts[150:]) == labels[150:]).mean()
    assert ours["accuracy"] == pytest.approx(expected)


def _reviews_file(path, n=200, seed=5):
    texts, labels = _feedback(n, seed)
    pd.DataFrame({"review": texts, "score": np.where(labels, "great", "other")}).to_csv(
        path, index=False
    )
    return path


def test_training_stores_the_text_model_and_new_feedback_uses_it(
    sqlite_engine, sworld, tmp_path, monkeypatch
):
    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path / "artifacts")
    comment = "The croissants came stale and soggy this week"
    gold = sworld.customers["gold"]
    # No sentiment run yet: VADER (which does not know 'stale' or 'soggy').
    first = record_feedback(sqlite_engine, customer_id=gold, actor="g", comment=comment)
    assert trained_model(sqlite_engine) is None
    vader = float(sentiment_scores([comment])[0])
    for csat, text in [
        (5, "The pears came ripe and juicy this week"),
        (5, "Our bread came flaky and crisp this week"),
        (1, "The cream came curdled and leaking this week"),
        (1, "The order came crushed and late again this week"),
    ]:
        record_feedback(sqlite_engine, customer_id=gold, actor="g", csat=csat, comment=text)

    monkeypatch.setenv(train_module.SENTIMENT_REVIEWS_ENV, str(_reviews_file(tmp_path / "r.csv")))
    runs = train_module.train_all(sqlite_engine, kinds=("sentiment",), log=lambda _: None)
    assert runs["sentiment"].status == "ok"
    loaded = registry.latest(sqlite_engine, "sentiment")
    assert isinstance(loaded.model, TextSentimentModel)
    assert loaded.metrics["trained_rows"] == 200
    assert loaded.metrics["held_out"]["test_rows"] == 40
    rules = [r["rule"] for r in loaded.metrics["held_out"]["rules"]]
    assert rules[-1].startswith("text model")
    # How each reads this database's customers, against their CSAT.
    assert loaded.metrics["comments_compared"] == 4
    separated = pd.Series([5, 5, 1, 1]).corr(pd.Series([4, 3, 2, 1]), method="spearman")
    assert loaded.metrics["text_model_spearman_with_csat"] == pytest.approx(separated)
    assert loaded.metrics["vader_spearman_with_csat"] < separated

    second = record_feedback(sqlite_engine, customer_id=gold, actor="g", comment=comment)
    stored = dict(fetch_rows(sqlite_engine, select(Feedback.id, Feedback.sentiment)))
    assert stored[first] == pytest.approx(vader)
    assert stored[second] == pytest.approx(float(loaded.model.scores([comment])[0]))
    assert stored[second] < -0.3 < vader
    assert feedback_scores(sqlite_engine, [comment])[0] == pytest.approx(stored[second])

    # Retraining without the reviews keeps the text model rather than falling back to VADER.
    monkeypatch.delenv(train_module.SENTIMENT_REVIEWS_ENV)
    runs = train_module.train_all(sqlite_engine, kinds=("sentiment",), log=lambda _: None)
    assert runs["sentiment"].params["method"] == "kept the newest text model"
    assert isinstance(registry.latest(sqlite_engine, "sentiment").model, TextSentimentModel)
    assert fetch_rows(sqlite_engine, select(ModelRun.kind, ModelRun.status)) == [
        ("sentiment", "ok"),
        ("sentiment", "ok"),
    ]


def test_vader_stays_in_use_when_it_reads_this_databases_feedback_better(
    sqlite_engine, sworld, tmp_path, monkeypatch
):
    """Reviews that call stale bread good teach a model this trade's customers would disagree
    with: on sixty comments with a CSAT, VADER agrees better, so the run keeps VADER."""
    monkeypatch.setattr(registry, "ARTIFACT_DIR", tmp_path / "artifacts")
    gold = sworld.customers["gold"]
    texts, labels = _feedback(60, seed=9)
    for text, good in zip(texts, labels, strict=True):
        phrase = "great, really good" if good else "terrible, really bad"
        record_feedback(
            sqlite_engine,
            customer_id=gold,
            actor="g",
            csat=5 if good else 1,
            comment=f"{text}: {phrase}",
        )
    backwards = tmp_path / "backwards.csv"
    review_texts, review_labels = _feedback(200, seed=5)
    pd.DataFrame(
        {"review": review_texts, "score": np.where(review_labels, "other", "great")}
    ).to_csv(backwards, index=False)
    monkeypatch.setenv(train_module.SENTIMENT_REVIEWS_ENV, str(backwards))
    runs = train_module.train_all(sqlite_engine, kinds=("sentiment",), log=lambda _: None)
    assert runs["sentiment"].status == "ok"
    assert runs["sentiment"].params["method"] == "VADER compound"
    loaded = registry.latest(sqlite_engine, "sentiment")
    assert loaded.metrics["comments_compared"] == 60
    assert loaded.metrics["vader_spearman_with_csat"] > 0.5
    assert (
        loaded.metrics["text_model_spearman_with_csat"] < loaded.metrics["vader_spearman_with_csat"]
    )
    assert trained_model(sqlite_engine) is None
    comment = "The croissants came stale and soggy this week"
    assert feedback_scores(sqlite_engine, [comment])[0] == pytest.approx(
        float(sentiment_scores([comment])[0])
    )
