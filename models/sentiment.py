"""Sentiment of feedback text on a -1 (very negative) .. 1 (very positive) scale.

VADER's compound score is the baseline that needs no training; :class:`TextSentimentModel` is
trained on labelled review text and used for feedback once a sentiment run has stored one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own cut-offs for calling a text positive or negative.
POSITIVE_FROM = 0.05
NEGATIVE_UNTIL = -0.05
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    # Loading the lexicon takes a while; one analyzer per process is enough.
    return SentimentIntensityAnalyzer()


def clean_text(text: object) -> str:
    """Text without HTML tags (reviews carry ``<br />``) or entities; '' for missing values."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    plain = html.unescape(_TAG.sub(" ", str(text)))
    return _SPACE.sub(" ", plain).strip()


def sentiment_score(text: object) -> float:
    """VADER compound score of one text; 0.0 for empty text."""
    cleaned = clean_text(text)
    if not cleaned:
        return 0.0
    return float(_analyzer().polarity_scores(cleaned)["compound"])


def sentiment_scores(texts: Iterable[object]) -> np.ndarray:
    """Compound scores of many texts."""
    return np.array([sentiment_score(t) for t in texts], dtype=float)


def sentiment_label(score: float) -> str:
    """'positive', 'neutral' or 'negative' by VADER's usual cut-offs."""
    if score >= POSITIVE_FROM:
        return "positive"
    if score <= NEGATIVE_UNTIL:
        return "negative"
    return "neutral"


# --- a model trained on labelled review text ------------------------------------------------


class TextSentimentModel:
    """Positive-or-not from review text: TF-IDF of words (1-2) and characters (3-4) within words,
    logistic regression.

    Trained on labelled food reviews, it reads what VADER's general lexicon misses ("stale",
    "arrived crushed", "tastes like cardboard"). The cut-off on the predicted probability is
    tuned for macro-F1 on out-of-fold predictions over the training rows only (the vocabulary
    and weights are learnt from them too), so nothing of a held-out set shapes it.

    :meth:`scores` maps the probability onto VADER's -1..1 scale, piecewise linearly with the
    tuned cut-off at :data:`POSITIVE_FROM`, so the app's thresholds and labels keep their meaning.
    """

    def __init__(self, C: float = 4.0, folds: int = 4, max_features: int = 100_000, seed: int = 0):
        self.C = C
        self.folds = folds
        self.max_features = max_features
        self.seed = seed

    def _features(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion(
            [
                (
                    "words",
                    TfidfVectorizer(
                        ngram_range=(1, 2),
                        min_df=2,
                        sublinear_tf=True,
                        max_features=self.max_features,
                        token_pattern=r"(?u)\b\w[\w']*\b",
                    ),
                ),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(3, 4),
                        min_df=3,
                        sublinear_tf=True,
                        max_features=self.max_features,
                    ),
                ),
            ]
        )

    def _classifier(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced")

    def fit(self, texts: Iterable[object], positive: Iterable[bool]) -> TextSentimentModel:
        """Learn from texts and whether each is positive; tunes the cut-off on these rows only."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        cleaned = [clean_text(t).lower() for t in texts]
        truth = np.asarray(list(positive), dtype=bool)
        if len(cleaned) != truth.size:
            raise ValueError("texts and labels differ in length")
        minority = int(min(truth.sum(), (~truth).sum()))
        if minority < 2:
            raise ValueError("training needs at least two texts of each class")
        self.features_ = self._features()
        matrix = self.features_.fit_transform(cleaned)
        for _, vectorizer in self.features_.transformer_list:
            vectorizer.stop_words_ = None  # the n-grams left out: large, and not needed to predict
        folds = StratifiedKFold(
            n_splits=max(2, min(self.folds, minority)), shuffle=True, random_state=self.seed
        )
        out_of_fold = cross_val_predict(
            self._classifier(), matrix, truth, cv=folds, method="predict_proba"
        )[:, 1]
        self.cutoff_ = tune_cutoff(truth, out_of_fold, np.round(np.arange(0.05, 0.96, 0.01), 2))
        self.classifier_ = self._classifier().fit(matrix, truth)
        self.n_train_ = int(truth.size)
        return self

    def probabilities(self, texts: Iterable[object]) -> np.ndarray:
        """The probability that each text is positive."""
        cleaned = [clean_text(t).lower() for t in texts]
        if not cleaned:
            return np.zeros(0)
        return self.classifier_.predict_proba(self.features_.transform(cleaned))[:, 1]

    def predict(self, texts: Iterable[object]) -> np.ndarray:
        """Whether each text is positive (probability at or above the tuned cut-off)."""
        return self.probabilities(texts) >= self.cutoff_

    def scores(self, texts: Iterable[object]) -> np.ndarray:
        """Scores on VADER's -1..1 scale (the cut-off lands on POSITIVE_FROM); 0.0 for no text."""
        texts = list(texts)
        p = self.probabilities(texts)
        c = self.cutoff_
        below = -1 + (POSITIVE_FROM + 1) * p / c
        above = POSITIVE_FROM + (1 - POSITIVE_FROM) * (p - c) / (1 - c)
        out = np.where(p < c, below, above).clip(-1, 1)
        empty = np.array([not clean_text(t) for t in texts], dtype=bool)
        return np.where(empty, 0.0, out)


def tune_cutoff(truth: np.ndarray, scores: np.ndarray, grid: np.ndarray) -> float:
    """The cut-off in ``grid`` with the best macro-F1 of ``scores >= cut-off`` against ``truth``."""
    from sklearn.metrics import f1_score

    best = max(grid, key=lambda t: f1_score(truth, scores >= t, average="macro", zero_division=0))
    return float(best)


def feedback_scores(engine_or_session, texts: Iterable[object]) -> np.ndarray:
    """Sentiment of feedback texts by the newest trained text model, else by VADER.

    ``engine_or_session`` is where the model runs are recorded (see models.registry).
    """
    texts = list(texts)
    model = trained_model(engine_or_session)
    if model is None:
        return sentiment_scores(texts)
    return model.scores(texts)


def trained_model(engine_or_session) -> TextSentimentModel | None:
    """The newest successful sentiment run's text model, or None (VADER is used then)."""
    from models.registry import latest

    loaded = latest(engine_or_session, SENTIMENT_KIND)
    if loaded is None or not isinstance(loaded.model, TextSentimentModel):
        return None
    return loaded.model


SENTIMENT_KIND = "sentiment"
