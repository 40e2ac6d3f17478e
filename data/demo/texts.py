"""Words for the demo: feedback comments and the subjects of calls and mails, from templates."""

from __future__ import annotations

import numpy as np

POSITIVE = (
    "Delivery arrived on time and the driver was really helpful.",
    "Great quality {product}, our chef was impressed.",
    "Everything we ordered arrived complete. Thank you!",
    "Quick and friendly answer when we called about our order.",
    "Reliable as always, the kitchen never ran short this month.",
    "Fresh produce was excellent this week.",
    "Our rep sorted out the order the same day, much appreciated.",
)
SUBSTITUTE_POSITIVE = (
    "The substitute you offered for {product} worked perfectly.",
    "Happy with the alternative you sent while {product} was out of stock.",
)
NEUTRAL = (
    "Order arrived as expected, nothing special to report.",
    "Fine overall, although earlier delivery slots would help us.",
    "Prices are reasonable and delivery was as promised.",
    "One item came a day later than the rest, otherwise fine.",
    "Good service, the website could be easier to search.",
)
BACKORDER_NEGATIVE = (
    "{product} was on backorder again and nobody told us until the day of delivery.",
    "Third backorder this month, we are starting to look at other suppliers.",
    "We had to buy {product} at the cash and carry because it was out of stock.",
    "The backorder date kept moving and we planned a menu around it.",
    "Very disappointed: half the order was missing for our event.",
)
CANCEL_NEGATIVE = (
    "We gave up waiting for {product} and cancelled. Not good enough.",
    "Cancelled the backorder after two weeks without a firm date.",
)
LATE_NEGATIVE = (
    "Delivery was late and the kitchen was waiting for it.",
    "The van arrived after lunch service instead of the morning.",
    "Late again, please give us a realistic delivery time.",
)
QUALITY_NEGATIVE = (
    "Some of the {product} arrived damaged.",
    "The {product} was close to its use-by date when it arrived.",
)

INBOUND_SUBJECTS = (
    "Where is order {order}?",
    "When will {product} be back in stock?",
    "Can we get an alternative to {product}?",
    "Question about delivery time for {order}",
)
GENERAL_SUBJECTS = (
    "Copy of invoice for {order}",
    "Change of delivery address",
    "Question about prices",
    "Request for a product catalogue",
    "Delivery slot for next week",
)
OUTBOUND_SUBJECTS = (
    "Backorder notice: {product}",
    "Update on your backordered {product}",
    "New delivery date for {order}",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def feedback_comment(
    rng: np.random.Generator,
    csat: int,
    product: str,
    had_backorder: bool,
    had_cancel: bool,
    late: bool,
) -> str:
    """A short customer comment that fits the score and what happened to the order."""
    parts: list[str] = []
    if had_cancel:
        parts.append(_pick(rng, CANCEL_NEGATIVE))
    elif had_backorder and csat <= 3:
        parts.append(_pick(rng, BACKORDER_NEGATIVE))
    elif had_backorder:
        parts.append(_pick(rng, SUBSTITUTE_POSITIVE))
    if late and csat <= 3:
        parts.append(_pick(rng, LATE_NEGATIVE))
    if not parts:
        if csat >= 4:
            parts.append(_pick(rng, POSITIVE))
        elif csat == 3:
            parts.append(_pick(rng, NEUTRAL))
        else:
            parts.append(_pick(rng, QUALITY_NEGATIVE))
    if csat >= 4 and rng.random() < 0.3:
        parts.append(_pick(rng, POSITIVE))
    if rng.random() < 0.1:  # some customers leave the box empty
        return ""
    return " ".join(dict.fromkeys(p.format(product=product) for p in parts))


def subject(rng: np.random.Generator, options: tuple[str, ...], order: str, product: str) -> str:
    return _pick(rng, options).format(order=order, product=product)
