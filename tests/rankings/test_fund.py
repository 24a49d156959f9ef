"""The fund's arithmetic (``split_fund``): to the fen, adding up exactly, the remainder
one fen each to the best-ranked, nothing for an account without positive points in
proportion."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import ValidationFailed
from app.rankings.awards import parse_fund, split_fund

funds = st.integers(min_value=1, max_value=99_999_999_999_999).map(lambda fen: Decimal(fen) / 100)
points = st.lists(st.integers(min_value=-50, max_value=10_000), min_size=1, max_size=60)


def fen(amount: Decimal) -> int:
    assert amount == amount.quantize(Decimal("0.01"))  # two decimals, no more
    return int(amount * 100)


@given(fund=funds, pts=points)
def test_equal_shares_add_up_with_the_remainder_to_the_best_ranked(fund, pts):
    amounts = split_fund(fund, pts, "equal")
    assert len(amounts) == len(pts) and sum(amounts) == fund
    shares = [fen(a) for a in amounts]
    base, left = divmod(fen(fund), len(pts))
    assert shares == [base + 1] * left + [base] * (len(pts) - left)


@given(fund=funds, pts=points.filter(lambda ps: any(p > 0 for p in ps)))
def test_proportional_shares_follow_the_points(fund, pts):
    amounts = split_fund(fund, pts, "proportional")
    assert len(amounts) == len(pts) and sum(amounts) == fund
    shares = [fen(a) for a in amounts]
    total = sum(p for p in pts if p > 0)
    left_over = fen(fund) - sum(fen(fund) * p // total for p in pts if p > 0)
    positive = [i for i, p in enumerate(pts) if p > 0]
    assert 0 <= left_over < len(positive)
    extra = set(positive[:left_over])  # one fen each, best-ranked first
    for i, (share, p) in enumerate(zip(shares, pts, strict=True)):
        if p <= 0:
            assert share == 0  # no positive points: nothing
        else:
            assert share == fen(fund) * p // total + (i in extra)  # its part, to the fen


@given(fund=funds, pts=points, allocation=st.sampled_from(["equal", "proportional"]))
def test_equal_points_differ_by_a_fen_at_most(fund, pts, allocation):
    if allocation == "proportional" and not any(p > 0 for p in pts):
        return
    amounts = split_fund(fund, pts, allocation)
    for i in range(len(pts)):
        for j in range(len(pts)):
            if pts[i] == pts[j] or allocation == "equal":
                assert abs(amounts[i] - amounts[j]) <= Decimal("0.01")


def test_worked_examples():
    assert split_fund(Decimal("100.00"), [30, 20, 20], "equal") == [
        Decimal("33.34"),
        Decimal("33.33"),
        Decimal("33.33"),
    ]
    assert split_fund(Decimal("100.00"), [30, 20, 0], "proportional") == [Decimal("60.00"), Decimal("40.00"), 0]
    assert split_fund(Decimal("0.05"), [1, 1, 1], "proportional") == [Decimal("0.02"), Decimal("0.02"), Decimal("0.01")]
    assert split_fund(Decimal("10000000"), [0, 5, 5], "proportional") == [0, Decimal("5000000"), Decimal("5000000")]
    with pytest.raises(ValueError):
        split_fund(Decimal("10"), [0, -3], "proportional")
    assert split_fund(Decimal("10"), [], "equal") == []


@pytest.mark.parametrize(
    ("fund", "allocation", "expected"),
    [
        (100, "equal", Decimal("100.00")),
        ("1000000.5", "proportional", Decimal("1000000.50")),
        (0.1, "equal", Decimal("0.10")),  # a JSON number: read through its text, not as a binary float
        (None, None, None),
    ],
)
def test_funds_as_given(fund, allocation, expected):
    assert parse_fund(fund, allocation)[0] == expected


@pytest.mark.parametrize(
    ("fund", "allocation", "field"),
    [
        (0, "equal", "fund_yuan"),
        ("0.001", "equal", "fund_yuan"),
        ("NaN", "equal", "fund_yuan"),
        ("Infinity", "equal", "fund_yuan"),
        ([1], "equal", "fund_yuan"),
        (10, None, "allocation"),
        (None, "equal", "fund_yuan"),
    ],
)
def test_funds_refused(fund, allocation, field):
    with pytest.raises(ValidationFailed) as exc:
        parse_fund(fund, allocation)
    assert field in exc.value.details
