"""The backtest command line on messy CSVs it has never seen, and on the shared real data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.backtest import main

REPO = Path(__file__).resolve().parents[1]
# Beside the checkout, or wherever LARDER_REALDATA points (a worktree elsewhere, say).
REALDATA = Path(os.environ.get("LARDER_REALDATA", REPO.parent / "shared" / "realdata"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "models.backtest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _messy_demand_csv(path: Path) -> Path:
    """Weekly demand of 3 items with a BOM, two date styles and every kind of bad row."""
    rng = np.random.default_rng(1)
    weeks = pd.date_range("2024-01-05", periods=30, freq="7D")
    lines = ["product;week;units"]
    for item in ("A", "B", "C"):
        for i, day in enumerate(weeks):
            date = day.strftime("%d/%m/%Y") if i % 2 else day.strftime("%Y-%m-%dT00:00:00Z")
            lines.append(f"{item};{date};{rng.poisson(20)}")
    lines += [
        "A;not a date;5",  # unparseable date
        "B;31/02/2024;5",  # impossible date
        "C;2024-03-01;NA",  # missing quantity
        "C;2024-03-08;lots",  # text quantity
        "A;2024-03-15;-4",  # a return
        ";2024-03-15;3",  # no item
        lines[1],  # an exact duplicate
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def test_demand_on_a_messy_csv_reports_every_dropped_row(tmp_path):
    csv = _messy_demand_csv(tmp_path / "messy.csv")
    done = _cli(
        "demand",
        "--history",
        str(csv),
        "--item-col",
        "product",
        "--date-col",
        "week",
        "--qty-col",
        "units",
        "--freq",
        "W",
        "--horizon",
        "2",
        "--origins",
        "1",
        "--max-iter",
        "40",
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # Two identical lines are two sales: kept, and said so.
    assert "kept 1 rows identical to an earlier one (each counts)" in out
    assert "duplicate" not in out
    assert "dropped 2 rows with unparseable dates in 'week'" in out
    assert "dropped 2 rows with a missing or non-numeric 'units'" in out
    assert "left out 1 rows with negative quantity" in out
    assert "dropped 1 rows with no item in 'product'" in out
    assert "3 series, 30 periods (W)" in out
    assert "seasonal_naive" in out and "tsb" in out


def test_a_missing_column_exits_2_and_names_the_columns(tmp_path):
    csv = _messy_demand_csv(tmp_path / "messy.csv")
    done = _cli(
        "demand",
        "--history",
        str(csv),
        "--item-col",
        "sku",
        "--date-col",
        "week",
        "--qty-col",
        "units",
        "--horizon",
        "2",
    )
    assert done.returncode == 2
    assert "column 'sku' not found; the columns are: product, week, units" in done.stderr


def test_an_empty_file_exits_2(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    done = _cli(
        "sentiment",
        "--history",
        str(empty),
        "--text-col",
        "t",
        "--label-col",
        "l",
        "--positive",
        "x",
    )
    assert done.returncode == 2
    assert "is empty" in done.stderr


def test_a_header_without_rows_exits_2(tmp_path, capsys):
    csv = tmp_path / "header.csv"
    csv.write_text("item,date,qty\n")
    assert (
        main(
            [
                "demand",
                "--history",
                str(csv),
                "--item-col",
                "item",
                "--date-col",
                "date",
                "--qty-col",
                "qty",
                "--horizon",
                "2",
            ]
        )
        == 2
    )
    assert "no rows" in capsys.readouterr().err


def test_a_history_too_short_for_the_horizon_exits_2(tmp_path, capsys):
    csv = tmp_path / "short.csv"
    csv.write_text("item,date,qty\na,2024-01-01,1\na,2024-01-08,2\n")
    assert (
        main(
            [
                "demand",
                "--history",
                str(csv),
                "--item-col",
                "item",
                "--date-col",
                "date",
                "--qty-col",
                "qty",
                "--horizon",
                "4",
            ]
        )
        == 2
    )
    assert "too few for a horizon of 4" in capsys.readouterr().err


def _transit_csv(path: Path) -> Path:
    rng = np.random.default_rng(2)
    rows = []
    start = pd.Timestamp("2024-01-01")
    for i in range(200):
        carrier = "fast" if i % 2 else "slow"
        shipped = start + pd.Timedelta(days=i)
        days = rng.integers(1, 3) if carrier == "fast" else rng.integers(3, 8)
        delivered = shipped + pd.Timedelta(days=int(days), hours=5)
        promised = shipped + pd.Timedelta(days=4)
        rows.append(
            (
                carrier,
                shipped.strftime("%m/%d/%Y %H:%M"),
                delivered.isoformat(),
                promised.date().isoformat(),
            )
        )
    frame = pd.DataFrame(rows, columns=["carrier", "shipped", "delivered", "promised"])
    frame.loc[3, "delivered"] = ""  # still in transit
    frame.loc[5, "shipped"] = "yesterday"
    frame.loc[7, "delivered"] = "2023-01-01"  # before it was shipped
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_transit_reports_mae_coverage_and_on_time_rate(tmp_path, capsys):
    csv = _transit_csv(tmp_path / "transit.csv")
    code = main(
        [
            "transit",
            "--history",
            str(csv),
            "--group-col",
            "carrier",
            "--start-col",
            "shipped",
            "--end-col",
            "delivered",
            "--promised-col",
            "promised",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        "dropped 1 rows with unparseable dates in 'shipped' (first: 'yesterday' in row 6 (line 7))"
        in result["notes"]
    )
    assert "dropped 1 rows with no 'delivered' yet (still open)" in result["notes"]
    assert "dropped 1 rows where 'delivered' is before 'shipped'" in result["notes"]
    # Knowing the carrier must beat ignoring it on such different carriers.
    assert result["by_group"]["mae_days"] < result["no_grouping"]["mae_days"]
    assert result["by_group"]["coverage_p90"] >= 0.8
    slow = next(g for g in result["groups"] if g["group"] == "slow")
    assert slow["on_time_rate"] < 1.0


def test_leadtime_prints_a_table(tmp_path, capsys):
    csv = _transit_csv(tmp_path / "lead.csv")
    assert (
        main(
            [
                "leadtime",
                "--history",
                str(csv),
                "--group-col",
                "carrier",
                "--start-col",
                "shipped",
                "--end-col",
                "delivered",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "by group (shrunk)" in out and "coverage_p90" in out


def test_sentiment_on_a_small_labelled_file(tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    pd.DataFrame(
        {
            "review": [
                "Wonderful, fresh and tasty!",
                "Awful, stale and broken.<br />Bad.",
                "I love it, great value",
                "Terrible taste, horrible",
                None,
            ],
            "stars": ["good", "bad", "good", "bad", "bad"],
        }
    ).to_csv(csv, index=False)
    assert (
        main(
            [
                "sentiment",
                "--history",
                str(csv),
                "--text-col",
                "review",
                "--label-col",
                "stars",
                "--positive",
                "good",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert "1 rows have empty text (score 0)" in result["notes"]
    assert result["cutoffs"][0]["accuracy"] == 1.0
    assert result["mean_score"]["good"] > 0.5 > result["mean_score"]["bad"]


def test_sentiment_with_an_unknown_positive_label_exits_2(tmp_path, capsys):
    csv = tmp_path / "reviews.csv"
    csv.write_text("review,stars\nnice,good\n")
    assert (
        main(
            [
                "sentiment",
                "--history",
                str(csv),
                "--text-col",
                "review",
                "--label-col",
                "stars",
                "--positive",
                "great",
            ]
        )
        == 2
    )
    assert "labels are: good" in capsys.readouterr().err


@pytest.mark.slow
def test_real_walmart_sales_backtest(capsys):
    path = REALDATA / "walmart_sales_weekly.csv"
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    assert (
        main(
            [
                "demand",
                "--history",
                str(path),
                "--item-col",
                "id",
                "--date-col",
                "Date",
                "--qty-col",
                "Weekly_Sales",
                "--freq",
                "W",
                "--horizon",
                "8",
                "--origins",
                "1",
                "--max-iter",
                "60",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["series"] == 7
    assert result["methods"]["model"]["rmsse"] < result["methods"]["seasonal_naive"]["rmsse"]


def test_real_fine_food_reviews_separate_great_from_other(capsys):
    path = REALDATA / "fine_food_reviews.csv"
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    assert (
        main(
            [
                "sentiment",
                "--history",
                str(path),
                "--text-col",
                "review",
                "--label-col",
                "score",
                "--positive",
                "great",
                "--max-train-rows",
                "1200",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["mean_score"]["great"] > result["mean_score"]["other"] + 0.2
    # Trained on 1,200 of the first 3,200 reviews, scored on the last 800 (file order).
    assert (result["train_rows"], result["test_rows"]) == (1200, 800)
    vader, vader_tuned, model = result["held_out"]
    assert model["macro_f1"] > vader_tuned["macro_f1"] >= vader["macro_f1"] - 0.05
    assert model["accuracy"] > vader["accuracy"]
