"""Human durations in the policy file: "15m", "1h", "5h30m", "90s", "2d"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.config.durations import Duration, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("5h30m", timedelta(hours=5, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 15m ", timedelta(minutes=15)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=1), "1h"),
        (timedelta(hours=5, minutes=30), "5h30m"),
        (timedelta(days=1), "1d"),
        (timedelta(days=2, seconds=1), "2d1s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration(value: timedelta, expected: str) -> None:
    assert format_duration(value) == expected


def test_timedelta_and_seconds_pass_through() -> None:
    assert parse_duration(timedelta(minutes=5)) == timedelta(minutes=5)
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration(1.5) == timedelta(seconds=1.5)


@pytest.mark.parametrize(
    "value",
    ["15 mins", "15min", "1 hour", "15", "m", "0m", "0h0m", "", "   ", "-5m", "5m-", "1.5h", "15M", "1w",
     True, False, None, [], {"m": 15}],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


def test_rejection_message_shows_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"invalid duration '15 mins': use forms like 90s, 15m, 1h, 5h30m, 2d"):
        parse_duration("15 mins")
    with pytest.raises(ValueError, match="must be longer than zero"):
        parse_duration("0m")


@pytest.mark.parametrize("value", [-300, 0, -0.5])
def test_parse_duration_rejects_non_positive_numbers(value: float) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


class _Timer(BaseModel):
    every: Duration


def test_duration_fields_validate_and_serialise_as_text() -> None:
    timer = _Timer.model_validate({"every": "5h30m"})
    assert timer.every == timedelta(hours=5, minutes=30)
    assert timer.model_dump() == {"every": "5h30m"}
    assert timer.model_dump_json() == '{"every":"5h30m"}'
    with pytest.raises(ValidationError, match="invalid duration"):
        _Timer.model_validate({"every": "soon"})


# -- properties ----------------------------------------------------------------------------------------

whole_seconds = st.integers(min_value=1, max_value=400 * 86400).map(lambda s: timedelta(seconds=s))
# canonical text: units in d, h, m, s order, each present at most once, no zero parts
canonical = st.builds(
    lambda d, h, m, s: f"{d}d" * bool(d) + f"{h}h" * bool(h) + f"{m}m" * bool(m) + f"{s}s" * bool(s),
    st.integers(0, 400), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59),
).filter(bool)


@given(whole_seconds)
def test_parse_of_format_is_identity(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value


@given(canonical)
def test_format_of_parse_gives_back_canonical_text(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


@given(st.lists(st.tuples(st.integers(0, 1000), st.sampled_from("dhms")), min_size=1, max_size=5))
def test_any_well_formed_text_parses_to_its_sum_and_formats_canonically(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    size = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    total = sum(n * size[unit] for n, unit in parts)
    if total == 0:
        with pytest.raises(ValueError, match="longer than zero"):
            parse_duration(text)
        return
    parsed = parse_duration(text)
    assert parsed == timedelta(seconds=total)
    assert parse_duration(format_duration(parsed)) == parsed
