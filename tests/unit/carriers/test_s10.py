import pytest
from hypothesis import given
from hypothesis import strategies as st

from carriers.ratecard.s10 import (
    InMemorySerialAllocator,
    S10Series,
    check_digit,
    is_valid_s10,
    s10_identifier,
)


def test_published_example_from_the_standard() -> None:
    # UPU S10 worked example: serial 47312482, S = 200, C = 11 - (200 mod 11) = 9.
    assert check_digit("47312482") == 9
    assert s10_identifier("RR", 47312482, "GB") == "RR473124829GB"
    assert is_valid_s10("RR473124829GB")
    assert is_valid_s10("RR 473 124 829 GB")  # as printed under barcodes


def test_second_worked_example() -> None:
    # 1*8 + 2*6 + 3*4 + 4*2 + 5*3 + 6*5 + 7*9 + 8*7 = 204; 204 mod 11 = 6; 11 - 6 = 5.
    assert s10_identifier("EE", 12345678, "US") == "EE123456785US"


def test_remainder_zero_gives_five() -> None:
    # S = 0 -> C = 11 -> 5.
    assert check_digit("00000000") == 5


def test_remainder_one_gives_zero() -> None:
    # 6 at the fourth position (weight 2): S = 12, 12 mod 11 = 1, C = 10 -> 0.
    assert check_digit("00060000") == 0


def test_wrong_check_digit_or_format_is_invalid() -> None:
    assert not is_valid_s10("RR473124828GB")
    assert not is_valid_s10("RR47312482GB")
    assert not is_valid_s10("R1473124829GB")


def test_identifier_rejects_bad_parts() -> None:
    with pytest.raises(ValueError, match="service indicator"):
        s10_identifier("R", 1, "GB")
    with pytest.raises(ValueError, match="serial"):
        s10_identifier("RR", 100_000_000, "GB")
    with pytest.raises(ValueError, match="unknown country"):
        s10_identifier("RR", 1, "XX")


@given(st.integers(min_value=0, max_value=99_999_999))
def test_every_issued_identifier_validates_and_a_changed_digit_does_not(serial: int) -> None:
    identifier = s10_identifier("CT", serial, "NL")
    assert is_valid_s10(identifier)
    digit = int(identifier[10])
    assert not is_valid_s10(identifier[:10] + str((digit + 1) % 10) + identifier[11:])


async def test_series_issues_consecutive_numbers_within_its_range() -> None:
    series = S10Series("CT", "NL", first_serial=10_000_000, last_serial=10_000_001)
    allocator = InMemorySerialAllocator()
    first = series.identifier(await allocator.next_ordinal("CTNL"))
    second = series.identifier(await allocator.next_ordinal("CTNL"))
    assert (first, second) == (s10_identifier("CT", 10_000_000, "NL"), s10_identifier("CT", 10_000_001, "NL"))
    assert series.contains(first)
    assert not series.contains(s10_identifier("CT", 10_000_002, "NL"))
    assert not series.contains(s10_identifier("CT", 10_000_000, "DE"))
    with pytest.raises(ValueError, match="exhausted"):
        series.identifier(await allocator.next_ordinal("CTNL"))
