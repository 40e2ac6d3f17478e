"""The backtest command on hand-made files with the quirks of real public histories."""

import json

import numpy as np
import pandas as pd
import pytest

from models.backtest import main
from models.tabular import (
    InputError,
    Notes,
    clean_demand,
    clean_durations,
    filter_rows,
    join_table,
    melt_wide,
    parse_dates,
    read_table,
    sort_key,
)

FAST = ["--max-iter", "20"]


def _json(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jan-98", "1998-01-01"),
        ("Dec-05", "2005-12-01"),
        ("2-Jun-06", "2006-06-02"),
        ("15-Dec-2006", "2006-12-15"),
        ("Mar 2017", "2017-03-01"),
    ],
)
def test_month_labels_and_day_month_names_read_as_dates(text, expected):
    dates, _ = parse_dates(pd.Series([text]))
    assert dates.iloc[0] == pd.Timestamp(expected)


def test_a_date_format_reads_only_that_format():
    dates, used = parse_dates(pd.Series(["2006.032", "2006.001", "01/02/2006"]), "%Y.%j")
    assert list(dates[:2]) == [pd.Timestamp("2006-02-01"), pd.Timestamp("2006-01-01")]
    assert pd.isna(dates.iloc[2])
    assert used == "%Y.%j (2)"


def _odd_dated_leadtimes(path, fmt="%Y.%j", bad_row=None):
    rows = []
    for i in range(80):
        start = pd.Timestamp("2006-01-01") + pd.Timedelta(days=i)
        days = 3 if i % 2 else 9
        rows.append(
            (
                "quick" if i % 2 else "slow",
                "dairy" if i % 3 else "dry",
                start.strftime(fmt),
                (start + pd.Timedelta(days=days)).strftime(fmt),
            )
        )
    frame = pd.DataFrame(rows, columns=["vendor", "group", "ordered", "received"])
    if bad_row is not None:
        frame.loc[bad_row, "ordered"] = "soon"
    frame.to_csv(path, index=False)
    return path


def test_leadtime_with_no_parseable_date_names_the_first_value_not_still_open(tmp_path, capsys):
    csv = _odd_dated_leadtimes(tmp_path / "lead.csv")
    argv = ["leadtime", "--history", str(csv), "--group-col", "vendor"]
    argv += ["--start-col", "ordered", "--end-col", "received"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "dropped 80 rows with unparseable dates in 'ordered'" in err
    assert "(first: '2006.001' in row 1 (line 2))" in err
    assert "give --date-format" in err
    assert "still open" not in err
    # Told the format, the same file works.
    result = _json(capsys, [*argv, "--date-format", "%Y.%j"])
    assert result["rows_tested"] > 0
    assert "read dates as %Y.%j (80) / %Y.%j (80)" in result["notes"]


def test_a_date_format_names_the_one_value_that_does_not_fit(tmp_path, capsys):
    csv = _odd_dated_leadtimes(tmp_path / "lead.csv", fmt="%d/%m/%Y", bad_row=4)
    result = _json(
        capsys,
        [
            "transit",
            "--history",
            str(csv),
            "--group-col",
            "vendor",
            "--start-col",
            "ordered",
            "--end-col",
            "received",
            "--date-format",
            "%d/%m/%Y",
        ],
    )
    assert (
        "dropped 1 rows with unparseable dates in 'ordered' (first: 'soon' in row 5 (line 6))"
        in result["notes"]
    )


def test_an_end_date_that_does_not_parse_is_not_called_open(tmp_path):
    frame = pd.DataFrame(
        {
            "supplier": ["a", "a", "a"],
            "sent": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "received": ["2024-01-05", "", "next week"],
        }
    )
    clean, notes = clean_durations(frame, "supplier", "sent", "received")
    assert clean["days"].tolist() == [4.0]
    assert "dropped 1 rows with no 'received' yet (still open)" in notes.lines
    assert any(
        line.startswith("dropped 1 rows with unparseable dates in 'received' (first: 'next week'")
        for line in notes.lines
    )


# --- wide panels ----------------------------------------------------------------------------


def _wide_csv(path):
    rng = np.random.default_rng(3)
    months = pd.date_range("1998-01-01", periods=24, freq="MS")
    header = ["Part", "Description", *(m.strftime("%b-%y") for m in months)]
    rows = []
    for p in range(3):
        season = 1 + 0.4 * np.sin(np.arange(24) * 2 * np.pi / 12)
        rows.append([f"P{p}", f"part {p}", *rng.poisson(20 * season)])
    pd.DataFrame(rows, columns=header).to_csv(path, index=False)
    return path, rows


def test_melt_wide_keeps_every_cell_as_one_long_row(tmp_path):
    path, rows = _wide_csv(tmp_path / "wide.csv")
    notes = Notes()
    long = melt_wide(read_table(path), ["Part"], notes)
    assert len(long) == 3 * 24
    feb_p1 = long[(long["Part"] == "P1") & (long["date"] == "Feb-98")]["qty"]
    assert feb_p1.tolist() == [str(rows[1][3])]
    assert "--wide: left out 1 columns whose header is no date: Description" in notes.lines


def test_wide_panel_backtest_writes_scores_and_forecasts(tmp_path, capsys):
    path, rows = _wide_csv(tmp_path / "wide.csv")
    scores, forecasts = tmp_path / "scores.csv", tmp_path / "forecasts.csv"
    result = _json(
        capsys,
        [
            "demand",
            "--history",
            str(path),
            "--wide",
            "--item-col",
            "Part",
            "--freq",
            "M",
            "--horizon",
            "3",
            "--origins",
            "1",
            *FAST,
            "--scores-out",
            str(scores),
            "--forecasts-out",
            str(forecasts),
        ],
    )
    assert result["series"] == 3 and result["periods"] == 24
    assert result["origins"] == ["1999-10-01"]
    assert result["methods"]["model"]["rmse"] > 0
    table = pd.read_csv(scores)
    overall = table[table["series"] == "(all)"].set_index("method")
    assert overall.loc["model", "rmse"] == pytest.approx(result["methods"]["model"]["rmse"])
    assert set(table.loc[table["series"] != "(all)", "series"]) == {"P0", "P1", "P2"}
    fc = pd.read_csv(forecasts)
    model = fc[fc["method"] == "model"]
    assert len(model) == 3 * 3
    assert (model["p90"] >= model["p50"]).all()
    # The actuals written beside the forecasts are the file's cells.
    dec_p2 = model[(model["series"] == "P2") & (model["period"] == "1999-12-01")]["actual"]
    assert dec_p2.tolist() == [float(rows[2][2 + 23])]
    # RMSE of the model recomputed from the forecasts file.
    rmse = float(np.sqrt(np.mean((model["actual"] - model["mean"]) ** 2)))
    assert rmse == pytest.approx(result["methods"]["model"]["rmse"])


# --- receipt lines: one row per unit --------------------------------------------------------


def _receipts_csv(path):
    """Bakery receipts: one line per unit sold, identical lines for two of the same loaf."""
    lines = ["Date,Time,Transaction,Item"]
    expected = {"Bread": 0, "Coffee": 0}
    rng = np.random.default_rng(4)
    for day in pd.date_range("2006-01-02", periods=16 * 7, freq="D"):
        for t in range(int(rng.integers(2, 5))):
            for item in ("Bread", "Bread", "Coffee", "NONE")[: int(rng.integers(1, 5))]:
                lines.append(
                    f"{day.day}-{day.strftime('%b-%y')},09:1{t},{day.day_of_year * 10 + t},{item}"
                )
                if item in expected:
                    expected[item] += 1
    path.write_text("\n".join(lines) + "\n")
    return path, expected


def test_count_rows_counts_identical_receipt_lines_as_units(tmp_path):
    path, expected = _receipts_csv(tmp_path / "receipts.csv")
    frame = filter_rows(read_table(path), exclude=["Item=NONE"])
    clean, notes = clean_demand(frame, "Item", "Date", None, count_rows=True)
    assert clean.groupby("item")["qty"].sum().to_dict() == expected
    identical = int(frame.duplicated().sum())
    assert identical > 0
    assert f"kept {identical} rows identical to an earlier one (each counts)" in notes.lines
    dropped, notes = clean_demand(
        frame, "Item", "Date", None, count_rows=True, drop_duplicate_rows=True
    )
    assert dropped["qty"].sum() == sum(expected.values()) - identical
    assert f"dropped {identical} duplicate rows (asked to)" in notes.lines


def test_receipts_backtest_with_exclude_cut_and_count_rows(tmp_path, capsys):
    path, expected = _receipts_csv(tmp_path / "receipts.csv")
    none_rows = sum(1 for line in path.read_text().splitlines() if line.endswith(",NONE"))
    argv = ["demand", "--history", str(path), "--item-col", "Item", "--date-col", "Date"]
    argv += ["--count-rows", "--exclude", "Item=none", "--freq", "W", *FAST]
    result = _json(capsys, [*argv, "--cut", "2006-04-03"])
    assert f"left out {none_rows} rows where 'Item' is 'none'" in result["notes"]
    assert f"counted each of the {sum(expected.values())} rows as one unit" in result["notes"]
    assert result["series"] == 2
    assert result["origins"] == ["2006-04-03"]
    assert result["horizon"] == 16 - 13


def test_a_split_column_cuts_where_the_test_rows_begin(tmp_path, capsys):
    path, _ = _receipts_csv(tmp_path / "receipts.csv")
    frame = pd.read_csv(path, dtype=str)
    dates, _ = parse_dates(frame["Date"])
    frame["part"] = np.where(dates >= pd.Timestamp("2006-04-03"), "test", "train")
    frame.to_csv(path, index=False)
    argv = ["demand", "--history", str(path), "--item-col", "Item", "--date-col", "Date"]
    argv += ["--count-rows", "--exclude", "Item=NONE", "--freq", "W", *FAST]
    by_split = _json(capsys, [*argv, "--split-col", "part"])
    by_cut = _json(capsys, [*argv, "--cut", "2006-04-03"])
    assert by_split["origins"] == by_cut["origins"] == ["2006-04-03"]
    assert by_split["methods"] == by_cut["methods"]


def test_where_keeps_only_the_named_values():
    frame = pd.DataFrame({"item": ["a", "b", "c", "NONE"], "shop": ["x", "y", "x", "x"]})
    kept = filter_rows(frame, where=["shop=X"], exclude=["item=none"])
    assert kept["item"].tolist() == ["a", "c"]
    with pytest.raises(InputError, match="COLUMN=VALUE"):
        filter_rows(frame, where=["shop"])
    with pytest.raises(InputError, match="no rows left"):
        filter_rows(frame, where=["shop=z"])


# --- joins and nested groups ----------------------------------------------------------------


def test_join_adds_group_columns_by_key_and_notes_misses():
    frame = pd.DataFrame({"item": ["a", "b", "z"], "qty": ["1", "2", "3"]})
    other = pd.DataFrame({"item": ["a", "b"], "vendor": ["V1", "V2"]})
    notes = Notes()
    joined = join_table(frame, other, "item", notes)
    assert joined["vendor"].tolist()[:2] == ["V1", "V2"] and pd.isna(joined["vendor"].iloc[2])
    assert "--join: 1 rows whose 'item' is not in the joined file" in notes.lines
    with pytest.raises(InputError, match="repeats"):
        join_table(frame, pd.concat([other, other]), "item")


def test_leadtime_with_a_joined_file_and_nested_groups(tmp_path, capsys):
    csv = _odd_dated_leadtimes(tmp_path / "lead.csv", fmt="%Y-%m-%d")
    frame = pd.read_csv(csv).drop(columns=["vendor"])
    frame.insert(0, "sku", [f"S{i % 4}" for i in range(len(frame))])
    frame.to_csv(csv, index=False)
    pd.DataFrame({"sku": ["S0", "S1", "S2", "S3"], "vendor": ["slow", "quick"] * 2}).to_csv(
        tmp_path / "skus.csv", index=False
    )
    scores, forecasts = tmp_path / "scores.csv", tmp_path / "p.csv"
    result = _json(
        capsys,
        [
            "leadtime",
            "--history",
            str(csv),
            "--join",
            str(tmp_path / "skus.csv"),
            "--join-on",
            "sku",
            "--group-col",
            "vendor",
            "--group-col",
            "group",
            "--start-col",
            "ordered",
            "--end-col",
            "received",
            "--cut",
            "2006-02-20",
            "--scores-out",
            str(scores),
            "--forecasts-out",
            str(forecasts),
        ],
    )
    assert result["folds"] == 1
    assert {g["group"] for g in result["groups"]} == {
        "slow / dairy",
        "slow / dry",
        "quick / dairy",
        "quick / dry",
    }
    assert result["by_group"]["mae_days"] < result["no_grouping"]["mae_days"]
    predictions = pd.read_csv(forecasts)
    assert len(predictions) == result["rows_tested"]
    assert (pd.to_datetime(predictions["start"]) >= pd.Timestamp("2006-02-20")).all()
    assert pd.read_csv(scores)["group"].iloc[0] == "(all, by group)"


# --- headerless text ------------------------------------------------------------------------


def test_headerless_tab_separated_sentences(tmp_path, capsys):
    good = ["Great taste, fresh and crunchy.", 'The "best" coffee, I love it', "Lovely bread!"]
    bad = ["Stale, broken on arrival.", "Tasted like cardboard, awful", 'Not "fresh" at all']
    lines = [f"{t}\t1" for t in good] + [f"{t}\t0" for t in bad]
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(lines * 8) + "\n")
    frame = read_table(path, header=False)
    assert list(frame.columns) == ["0", "1"] and len(frame) == 48
    assert frame["0"].iloc[1] == 'The "best" coffee, I love it'
    result = _json(
        capsys,
        [
            "sentiment",
            "--history",
            str(path),
            "--no-header",
            "--text-col",
            "0",
            "--label-col",
            "1",
            "--positive",
            "1",
        ],
    )
    assert result["rows"] == 48
    assert result["train_rows"] == 38 and result["test_rows"] == 10
    rules = [r["rule"] for r in result["held_out"]]
    assert rules[0] == "VADER cut-off 0.05" and rules[2].startswith("text model")
    # Every sentence of the held-out tail was seen in training: the model must get them right.
    assert result["held_out"][2]["accuracy"] == 1.0


def test_existing_reader_calls_still_work(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("item,date,qty\na,2024-01-01,2\na,2024-01-01,2\n")
    clean, notes = clean_demand(read_table(path), "item", "date", "qty")
    assert clean["qty"].sum() == 4.0


def test_an_order_column_sorts_by_its_dates_or_numbers_not_its_text():
    dates = pd.Series(["10-Jan-06", "2-Feb-06", "3-Jan-06"])
    assert sort_key(dates).sort_values().index.tolist() == [2, 0, 1]
    ids = pd.Series(["10", "9", "100"])
    assert sort_key(ids).sort_values().index.tolist() == [1, 0, 2]
    products = pd.Series(["B2", "A1", "B10"])
    assert sort_key(products).sort_values().index.tolist() == [1, 2, 0]


def test_sentiment_split_follows_the_order_column(tmp_path, capsys):
    # The file lists the newest reviews first; ordered by date the last two (good) are held out.
    rows = [
        ("3-Mar-06", "Lovely, fresh and tasty", "good"),
        ("2-Mar-06", "Wonderful bread, great value", "good"),
        ("1-Jan-06", "Awful, stale", "bad"),
        ("2-Jan-06", "Great, I love it", "good"),
        ("3-Jan-06", "Terrible and broken", "bad"),
        ("4-Jan-06", "Horrible taste", "bad"),
    ]
    path = tmp_path / "r.csv"
    pd.DataFrame(rows, columns=["when", "review", "stars"]).to_csv(path, index=False)
    argv = ["sentiment", "--history", str(path), "--text-col", "review", "--label-col", "stars"]
    argv += ["--positive", "good", "--test-share", "0.34", "--vader-only"]
    result = _json(capsys, [*argv, "--order-col", "when"])
    assert "sorted rows by 'when' before the split" in result["notes"]
    assert result["test_rows"] == 2
    assert result["test_positive_share"] == 1.0  # the two March reviews
    # In file order the last two rows (both bad) would be held out instead.
    assert _json(capsys, argv)["test_positive_share"] == 0.0


def test_leadtime_split_column_trains_on_train_rows_and_scores_test_rows(tmp_path, capsys):
    rows = []
    for i in range(10):
        day = pd.Timestamp("2024-03-01") + pd.Timedelta(days=i)
        rows.append(("A", day, 2, "train"))
        rows.append(("B", day, 6, "train"))
    for i in range(2):  # the test rows come first in time: the split, not the dates, decides
        day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=i)
        rows.append(("A", day, 3, "test"))
        rows.append(("B", day, 6, "test"))
    frame = pd.DataFrame(
        {
            "supplier": [r[0] for r in rows],
            "sent": [r[1].date().isoformat() for r in rows],
            "received": [(r[1] + pd.Timedelta(days=r[2])).date().isoformat() for r in rows],
            "part": [r[3] for r in rows],
        }
    )
    path = tmp_path / "lead.csv"
    frame.to_csv(path, index=False)
    result = _json(
        capsys,
        [
            "leadtime",
            "--history",
            str(path),
            "--group-col",
            "supplier",
            "--start-col",
            "sent",
            "--end-col",
            "received",
            "--split-col",
            "part",
            "--shrinkage",
            "0",
        ],
    )
    assert result["rows_tested"] == 4 and result["folds"] == 1
    # A learnt 2 days and took 3 twice; B learnt 6 and took 6.
    assert result["by_group"]["mae_days"] == pytest.approx(0.5)
    assert result["by_group"]["rmse_days"] == pytest.approx(np.sqrt(0.5))
