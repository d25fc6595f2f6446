"""RFM scores and segment schemes: hand-computed scores, the tie rule, every degenerate
case, and proof that each built-in scheme is a partition of the 125 score cells."""

from __future__ import annotations

import itertools
import tomllib
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custintel.errors import ConfigError, InputError, MissingColumns, NotEnoughData
from custintel.segmentation import (
    SCHEMES,
    DegenerateDataWarning,
    Rule,
    Scheme,
    Segment,
    assign_segments,
    get_scheme,
    rfm_scores,
    scheme_from_dict,
)

CELLS = list(itertools.product(range(1, 6), repeat=3))


def features(**columns: list[object]) -> pd.DataFrame:
    """A features frame with ids c01, c02, ... unless given."""
    n = len(next(iter(columns.values())))
    columns.setdefault("customer_id", [f"c{i:02d}" for i in range(1, n + 1)])
    return pd.DataFrame(columns)


# Ten customers with ties in every column. Expected scores worked by hand with
# score = min(5, 1 + floor(5 * below / 9)), below = customers with a strictly worse value.
TINY = features(
    recency_days=[1, 1, 5, 10, 10, 10, 30, 60, 90, 365],
    frequency=[10, 1, 3, 1, 1, 1, 2, 1, 0, 5],
    # 20.004 is 20.00 to the cent, so it ties with the two 20.0s.
    monetary=[500.0, 20.0, 80.0, 20.0, 35.5, 20.004, 60.0, 15.0, -12.0, 250.0],
)
TINY_EXPECTED = pd.DataFrame(
    {
        "customer_id": TINY["customer_id"],
        # below (larger recency): 8 8 7 4 4 4 3 2 1 0
        "r_score": [5, 5, 4, 3, 3, 3, 2, 2, 1, 1],
        # below (fewer orders): 9 1 7 1 1 1 6 1 0 8
        "f_score": [5, 1, 4, 1, 1, 1, 4, 1, 1, 5],
        # below (less spend): 9 2 7 2 5 2 6 1 0 8
        "m_score": [5, 2, 4, 2, 3, 2, 4, 1, 1, 5],
    }
)
TINY_STANDARD = [
    "Champions",
    "New Customers",
    "Loyal Customers",
    "About to Sleep",
    "About to Sleep",
    "About to Sleep",
    "At Risk",
    "Hibernating",
    "Hibernating",
    "Cannot Lose Them",
]


# --- scores ---------------------------------------------------------------------------


def test_scores_match_hand_computed_values() -> None:
    pd.testing.assert_frame_equal(rfm_scores(TINY), TINY_EXPECTED)


def test_segments_of_the_tiny_fixture() -> None:
    segments = assign_segments(rfm_scores(TINY), get_scheme("standard"))
    assert segments.tolist() == TINY_STANDARD
    assert segments.name == "rfm_segment"


def test_output_keeps_rows_order_and_index() -> None:
    shuffled = TINY.iloc[::-1].set_index(pd.Index(range(100, 110)))
    scores = rfm_scores(shuffled)
    assert scores.index.tolist() == list(range(100, 110))
    assert scores["customer_id"].tolist() == shuffled["customer_id"].tolist()
    assert list(scores.columns) == ["customer_id", "r_score", "f_score", "m_score"]
    assert all(scores[c].dtype == np.int64 for c in ("r_score", "f_score", "m_score"))


def test_arrow_table_and_decimal_money_give_the_same_scores() -> None:
    table = pa.Table.from_pandas(TINY.assign(as_of=pd.Timestamp("2025-01-01")))
    pd.testing.assert_frame_equal(rfm_scores(table), TINY_EXPECTED)
    as_decimal = TINY.assign(monetary=[Decimal(str(v)) for v in TINY["monetary"]])
    pd.testing.assert_frame_equal(rfm_scores(as_decimal), TINY_EXPECTED)


def test_distinct_values_give_exact_quintiles() -> None:
    scores = rfm_scores(
        features(recency_days=range(100), frequency=range(1, 101), monetary=range(1, 101))
    )
    for column in ("r_score", "f_score", "m_score"):
        assert scores[column].value_counts().to_dict() == {1: 20, 2: 20, 3: 20, 4: 20, 5: 20}
    # Best values score 5: the 20 most recent, the 20 most frequent.
    assert (scores["r_score"].iloc[:20] == 5).all()
    assert (scores["f_score"].iloc[80:] == 5).all()


def test_sixty_percent_with_one_order_all_get_f1() -> None:
    frequency = [1] * 60 + [2] * 20 + [3] * 10 + [4] * 5 + [8] * 5
    scores = rfm_scores(features(recency_days=range(100), frequency=frequency, monetary=range(100)))
    f = scores["f_score"]
    assert (f.iloc[:60] == 1).all()
    # Two orders beat 60 of 99 others: 1 + floor(5 * 60 / 99) = 4; and so on up.
    assert (f.iloc[60:80] == 4).all()
    assert (f.iloc[80:90] == 5).all()
    assert f.iloc[95:].eq(5).all()


def test_all_refund_customers_get_f1_and_m1_and_a_segment() -> None:
    # c03 has net spend 0 but two customers below it: by rank alone it would score
    # 1 + floor(5 * 2 / 5) = 3; having spent nothing it gets M1.
    frame = features(
        recency_days=[5, 9, 2, 30, 40, 50],
        frequency=[0, 0, 1, 2, 3, 4],
        monetary=[-5.0, -3.0, 0.0, 10.0, 20.0, 30.0],
    )
    scores = rfm_scores(frame)
    assert scores["f_score"].iloc[:2].eq(1).all()
    assert scores["m_score"].iloc[:3].eq(1).all()
    assert assign_segments(scores, get_scheme("standard")).notna().all()


def test_scores_on_several_dates_are_ranked_per_date() -> None:
    early = TINY.assign(as_of=pd.Timestamp("2025-01-01"))
    late = TINY.assign(
        as_of=pd.Timestamp("2025-02-01"), frequency=TINY["frequency"][::-1].to_numpy()
    )
    both = pd.concat([early, late], ignore_index=True)
    scores = rfm_scores(both)
    pd.testing.assert_frame_equal(scores.iloc[:10], rfm_scores(early))
    pd.testing.assert_frame_equal(scores.iloc[10:], rfm_scores(late).set_axis(range(10, 20)))


row = st.tuples(
    st.integers(0, 30), st.integers(0, 6), st.sampled_from([-5.0, 0.0, 9.99, 10.0, 250.5])
)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(row, min_size=5, max_size=40), seed=st.integers(0, 2**32 - 1))
def test_scores_do_not_depend_on_row_order(rows: list[tuple[int, int, float]], seed: int) -> None:
    recency, frequency, monetary = (list(c) for c in zip(*rows, strict=True))
    frame = features(recency_days=recency, frequency=frequency, monetary=monetary)
    # Hypothesis finds frames where a column has one value; those warn (tested below).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        scores = rfm_scores(frame).set_index("customer_id")
        permuted = frame.sample(frac=1.0, random_state=seed)
        again = rfm_scores(permuted).set_index("customer_id")
    pd.testing.assert_frame_equal(again.loc[scores.index], scores)
    # Equal values get equal scores, and a better value never a lower score.
    for column, score, sign in [
        ("recency_days", "r_score", -1),
        ("frequency", "f_score", 1),
        ("monetary", "m_score", 1),
    ]:
        pairs = pd.DataFrame({"v": sign * frame[column].to_numpy(), "s": scores[score].to_numpy()})
        by_value = pairs.groupby("v")["s"]
        assert (by_value.nunique() == 1).all()
        assert by_value.first().is_monotonic_increasing


# --- degenerate data ------------------------------------------------------------------


def test_empty_frame_is_not_enough_data() -> None:
    with pytest.raises(NotEnoughData, match="no customers to score"):
        rfm_scores(TINY.iloc[:0])


def test_one_customer_gets_threes_with_a_warning() -> None:
    with pytest.warns(DegenerateDataWarning, match="only one customer"):
        scores = rfm_scores(TINY.iloc[:1])
    assert scores[["r_score", "f_score", "m_score"]].iloc[0].tolist() == [3, 3, 3]


def test_fewer_than_five_customers_warn_but_score() -> None:
    with pytest.warns(DegenerateDataWarning, match="only 3 customers"):
        scores = rfm_scores(
            features(recency_days=[1, 2, 3], frequency=[3, 2, 1], monetary=[3, 2, 1])
        )
    assert scores["r_score"].tolist() == [5, 3, 1]


def test_identical_customers_get_threes_with_a_warning() -> None:
    frame = features(recency_days=[7] * 6, frequency=[2] * 6, monetary=[50.0] * 6)
    with pytest.warns(DegenerateDataWarning) as record:
        scores = rfm_scores(frame)
    message = str(record[0].message)
    for text in ("recency_days = 7", "frequency = 2", "monetary = 50", "everyone gets R3"):
        assert text in message
    assert (scores[["r_score", "f_score", "m_score"]] == 3).all().all()


def test_single_order_customers_all_get_f3_with_a_warning() -> None:
    frame = features(recency_days=range(10), frequency=[1] * 10, monetary=range(10, 20))
    with pytest.warns(DegenerateDataWarning, match="frequency = 1, so F carries no information"):
        scores = rfm_scores(frame)
    assert scores["f_score"].eq(3).all()
    assert scores["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_only_refunds_everywhere_gives_f1_m1() -> None:
    frame = features(recency_days=range(6), frequency=[0] * 6, monetary=[-10.0] * 6)
    with pytest.warns(DegenerateDataWarning, match="everyone gets F1"):
        scores = rfm_scores(frame)
    assert scores["f_score"].eq(1).all() and scores["m_score"].eq(1).all()


@pytest.mark.parametrize(
    ("column", "bad"),
    [("recency_days", np.nan), ("frequency", np.inf), ("monetary", -np.inf), ("monetary", None)],
    ids=["nan-recency", "inf-frequency", "minus-inf-monetary", "missing-monetary"],
)
def test_nan_or_infinite_features_name_customers_and_column(column: str, bad: object) -> None:
    frame = TINY.astype({column: "float64"})
    frame.loc[[2, 7], column] = bad
    with pytest.raises(NotEnoughData, match=rf"{column}: 2 customer\(s\), e.g. 'c03', 'c08'"):
        rfm_scores(frame)


def test_missing_column_is_named() -> None:
    with pytest.raises(MissingColumns, match="'monetary'"):
        rfm_scores(TINY.drop(columns="monetary"))


def test_text_column_is_refused() -> None:
    with pytest.raises(InputError, match="'frequency' is not numeric"):
        rfm_scores(TINY.assign(frequency="many"))


def test_customer_listed_twice_is_refused() -> None:
    frame = TINY.assign(customer_id=["a", "b", "c", "a", "d", "e", "f", "g", "h", "i"])
    with pytest.raises(InputError, match=r"repeat a customer_id.*'a'"):
        rfm_scores(frame)


# --- schemes --------------------------------------------------------------------------


def _owners(scheme: Scheme, cell: tuple[int, int, int]) -> list[str]:
    """Segments whose rules contain ``cell``, worked out without the scheme's lookup."""
    r, f, m = cell
    owners = [
        s.name
        for s in scheme.segments
        if any(r in rule.r and f in rule.f and m in rule.m for rule in s.rules)
    ]
    return owners or [s.name for s in scheme.segments if s.rest]


@pytest.mark.parametrize("scheme", SCHEMES.values(), ids=list(SCHEMES))
def test_builtin_scheme_covers_every_cell_exactly_once(scheme: Scheme) -> None:
    for cell in CELLS:
        owners = _owners(scheme, cell)
        assert len(owners) == 1, f"{scheme.name}: R{cell[0]} F{cell[1]} M{cell[2]} -> {owners}"
        assert scheme.segment_for(*cell) == owners[0]
    scores = pd.DataFrame(CELLS, columns=["r_score", "f_score", "m_score"])
    labels = assign_segments(scores, scheme)
    assert labels.tolist() == [_owners(scheme, c)[0] for c in CELLS]
    assert set(labels) == set(scheme.segment_names), "every segment is reachable"


@pytest.mark.parametrize("scheme", SCHEMES.values(), ids=list(SCHEMES))
def test_builtin_segments_explain_themselves(scheme: Scheme) -> None:
    assert scheme.description
    for segment in scheme.segments:
        assert segment.description and segment.action, segment.name


# The issue's R x F table: rows R5..R1, columns F1..F5.
STANDARD_GRID = {
    5: ["New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
    4: [
        "Promising",
        "Potential Loyalists",
        "Potential Loyalists",
        "Loyal Customers",
        "Loyal Customers",
    ],
    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"],
    1: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"],
}


def test_standard_scheme_is_the_issue_table() -> None:
    standard = get_scheme("standard")
    assert standard is get_scheme()
    for r, f, m in CELLS:
        assert standard.segment_for(r, f, m) == STANDARD_GRID[r][f - 1]


@pytest.mark.parametrize(
    ("r", "f", "segment"),
    [
        pytest.param(5, 5, "Champions", id="R5F5-Champions"),
        pytest.param(5, 4, "Champions", id="R5F4-Champions"),
        pytest.param(4, 5, "Loyal Customers", id="R4F5-Loyal_Customers"),
        pytest.param(3, 4, "Loyal Customers", id="R3F4-Loyal_Customers"),
        pytest.param(5, 2, "Potential Loyalists", id="R5F2-Potential_Loyalists"),
        pytest.param(4, 3, "Potential Loyalists", id="R4F3-Potential_Loyalists"),
        pytest.param(5, 1, "New Customers", id="R5F1-New_Customers"),
        pytest.param(4, 1, "Promising", id="R4F1-Promising"),
        pytest.param(3, 3, "Need Attention", id="R3F3-Need_Attention"),
        pytest.param(3, 2, "About to Sleep", id="R3F2-About_to_Sleep"),
        pytest.param(2, 4, "At Risk", id="R2F4-At_Risk"),
        pytest.param(1, 3, "At Risk", id="R1F3-At_Risk"),
        pytest.param(1, 5, "Cannot Lose Them", id="R1F5-Cannot_Lose_Them"),
        pytest.param(2, 2, "Hibernating", id="R2F2-Hibernating"),
        pytest.param(1, 1, "Hibernating", id="R1F1-Hibernating"),
    ],
)
@pytest.mark.parametrize("m", [1, 5], ids=["M1", "M5"])
def test_standard_cells(r: int, f: int, m: int, segment: str) -> None:
    scores = pd.DataFrame({"r_score": [r], "f_score": [f], "m_score": [m]})
    assert assign_segments(scores, get_scheme("standard")).iloc[0] == segment


def test_eleven_splits_lost_off_hibernating() -> None:
    eleven, standard = get_scheme("eleven"), get_scheme("standard")
    assert len(eleven.segments) == 11
    for r, f, m in CELLS:
        got = eleven.segment_for(r, f, m)
        if r == 1 and f <= 2:
            assert got == "Lost"
        else:
            assert got == standard.segment_for(r, f, m)


def test_value_tiers_follow_recency_then_f_plus_m() -> None:
    tiers = get_scheme("value_tiers")
    assert tiers.segment_names == ["Premium", "High", "Medium", "Low", "Inactive"]
    for r, f, m in CELLS:
        if r == 1:
            expected = "Inactive"
        else:
            expected = {2: "Low", 3: "Low", 4: "Low", 5: "Medium", 6: "Medium"}.get(
                f + m, "High" if f + m <= 8 else "Premium"
            )
        assert tiers.segment_for(r, f, m) == expected, (r, f, m)


def test_segments_are_categories_in_scheme_order() -> None:
    labels = assign_segments(TINY_EXPECTED, get_scheme("eleven"))
    assert isinstance(labels.dtype, pd.CategoricalDtype)
    assert list(labels.cat.categories) == get_scheme("eleven").segment_names
    assert labels.value_counts()["Promising"] == 0  # empty segments still counted


@pytest.mark.parametrize("bad", [0, 6, 2.5, None], ids=["zero", "six", "fraction", "missing"])
def test_assign_refuses_scores_outside_1_to_5(bad: object) -> None:
    scores = TINY_EXPECTED.astype({"f_score": "float64"})
    scores.loc[3, "f_score"] = bad
    with pytest.raises(InputError, match="f_score are not whole numbers 1-5"):
        assign_segments(scores, get_scheme("standard"))


# --- user schemes ---------------------------------------------------------------------

USER_TOML = """
[segmentation.schemes.my_scheme]
"Best" = { r = [4, 5], f = "4-5", description = "Our best", action = "Thank them" }
"Slipping" = { any = [{ r = 3, f = "3-5" }, { r = "1-2", f = 5 }] }
"Big spenders" = [{ r = [1, 2], f = "1-4", m = 5 }]
"Others" = "rest"
"""


def test_user_scheme_from_toml() -> None:
    table = tomllib.loads(USER_TOML)["segmentation"]["schemes"]
    scheme = get_scheme("my_scheme", user_schemes=table)
    assert scheme.segment_names == ["Best", "Slipping", "Big spenders", "Others"]
    assert scheme.segments[0].action == "Thank them"
    assert scheme.segment_for(5, 4, 1) == "Best"
    assert scheme.segment_for(3, 3, 5) == "Slipping"
    assert scheme.segment_for(2, 5, 5) == "Slipping"
    assert scheme.segment_for(2, 4, 5) == "Big spenders"
    assert scheme.segment_for(2, 4, 4) == "Others"
    assert scheme.segment_for(5, 1, 5) == "Others"


def test_user_scheme_with_a_gap_names_the_cells() -> None:
    data = {"Best": {"r": [4, 5], "f": [4, 5]}, "Low": {"r": "1-3", "f": "1-5"}}
    with pytest.raises(ConfigError, match=r"not covered: R4 F1 \(any M\)") as info:
        scheme_from_dict(data, name="my_scheme")
    assert info.value.where == "custintel.toml [segmentation.schemes.my_scheme]"
    assert '"Others" = "rest"' in str(info.value.hint)


def test_user_scheme_with_a_partial_gap_names_the_m_cells() -> None:
    data = {"Most": {"r": "1-5", "f": "1-5", "m": "1-4"}, "Some": {"r": 1, "f": 1, "m": 5}}
    with pytest.raises(ConfigError, match="not covered: R1 F2 M5, R1 F3 M5, R1 F4 M5, R1 F5 M5"):
        scheme_from_dict(data)


def test_user_scheme_with_an_overlap_names_the_cell_and_both_segments() -> None:
    data = {"Best": {"r": [4, 5], "f": [4, 5]}, "Others": {"r": "1-5", "f": [1, 2, 3, 4, 5]}}
    with pytest.raises(
        ConfigError, match=r"covered twice: R4 F4 \(any M\) is in 'Best' and 'Others'"
    ):
        scheme_from_dict(data, name="my_scheme")


def test_overlapping_rules_of_one_segment_are_fine() -> None:
    data = {"A": [{"r": "1-5", "f": "1-3"}, {"r": 1, "f": "1-5"}], "B": "rest"}
    assert scheme_from_dict(data).segment_for(1, 5, 1) == "A"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "a scheme must be a table of segments"),
        ({"A": {"r": "1-5"}}, "missing 'f'"),
        ({"A": {"r": "1-5", "F": "1-5"}}, "unknown key 'F' \\(did you mean 'f'\\?\\)"),
        ({"A": {"r": "0-5", "f": "1-5"}}, r"scores must be 1-5, got \[0\]"),
        ({"A": {"r": "1-6", "f": "1-5"}}, r"scores must be 1-5, got \[6\]"),
        ({"A": {"r": "high", "f": "1-5"}}, "cannot read 'high'"),
        ({"A": {"r": [], "f": "1-5"}}, "the list of scores is empty"),
        ({"A": {"r": True, "f": "1-5"}}, "expected scores 1-5"),
        ({"A": {"r": 1, "f": 1, "rest": True}}, "exactly one of"),
        ({"A": "rest", "B": {"rest": True}}, "only one segment can be the rest"),
        ({"A": "everything"}, "expected a table"),
        ({"A": {"rest": True, "action": 3}}, "action must be text"),
        ({"A": {"any": []}}, "the list of rules is empty"),
    ],
    ids=[
        "empty",
        "no-f",
        "typo-key",
        "score-0",
        "score-6",
        "bad-range",
        "empty-list",
        "bool",
        "rest-and-cells",
        "two-rests",
        "bad-value",
        "action-not-text",
        "empty-any",
    ],
)
def test_user_scheme_errors(data: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        scheme_from_dict(data)


def test_scheme_refuses_repeated_segment_names() -> None:
    everything = (Rule(),)
    with pytest.raises(ConfigError, match="used twice: A"):
        Scheme("twice", (Segment("A", everything), Segment("A", everything)))


def test_unknown_scheme_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="'standrad' \\(did you mean 'standard'\\?\\)"):
        get_scheme("standrad")
    with pytest.raises(ConfigError, match="known schemes: standard, eleven, value_tiers, mine"):
        get_scheme("nothing", user_schemes={"mine": {"All": "rest"}})


def test_user_scheme_may_not_shadow_a_builtin() -> None:
    with pytest.raises(ConfigError, match="'standard' reuse a built-in scheme name"):
        get_scheme("standard", user_schemes={"standard": {"All": "rest"}})
