"""Sentiment of feedback text: VADER's compound score (-1 very negative .. 1 very positive)."""

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
