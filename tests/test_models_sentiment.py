"""Sentiment of feedback text."""

import pytest

from models.sentiment import clean_text, sentiment_label, sentiment_score, sentiment_scores


def test_scores_order_from_angry_to_delighted():
    scores = sentiment_scores(
        [
            "Terrible service, the order was late again and half of it missing. Awful.",
            "The delivery arrived.",
            "Great products and lovely staff, thank you so much!",
        ]
    )
    assert scores[0] < scores[1] < scores[2]
    assert scores.min() >= -1 and scores.max() <= 1


def test_html_line_breaks_are_removed():
    assert clean_text("Good.<br /><br />Really good &amp; fresh") == "Good. Really good & fresh"


@pytest.mark.parametrize("missing", [None, float("nan"), ""])
def test_missing_text_scores_zero(missing):
    assert sentiment_score(missing) == 0.0


@pytest.mark.parametrize(
    ("score", "label"), [(0.6, "positive"), (0.0, "neutral"), (-0.3, "negative")]
)
def test_labels(score, label):
    assert sentiment_label(score) == label
