"""Which way money goes back: the refund capability table (Midtrans' facts by default) and its configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.payments.refunds import (
    DEFAULT_CAPABILITIES,
    GATEWAY,
    PAYOUT,
    account_number,
    capabilities_from,
    quiet_until,
    route,
)

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(("payment_type", "days_ago", "expected"), [
    ("credit_card", 200, GATEWAY),  # no published window
    ("gopay", 30, GATEWAY),
    ("qris", 6, GATEWAY),
    ("qris", 8, PAYOUT),  # QRIS off-us: 7 days
    ("ovo", 8, PAYOUT),
    ("dana", 44, GATEWAY),
    ("kredivo", 15, PAYOUT),
    ("bank_transfer", 0, PAYOUT),  # virtual accounts have no refund API at all
    ("echannel", 0, PAYOUT),
    ("cstore", 0, PAYOUT),
    ("cod", 0, PAYOUT),
    ("a_new_wallet", 0, PAYOUT),  # unknown: never tried as if the gateway could
])
def test_each_payment_type_goes_back_the_way_midtrans_allows(payment_type: str, days_ago: int,
                                                               expected: str) -> None:
    paid_at = NOW - timedelta(days=days_ago)
    assert route(payment_type, paid_at=paid_at, now=NOW, amount=100_000, paid=100_000,
                 capabilities=DEFAULT_CAPABILITIES) == expected


def test_a_windowed_type_with_no_known_payment_time_is_paid_out() -> None:
    assert route("qris", paid_at=None, now=NOW, amount=1, paid=1, capabilities=DEFAULT_CAPABILITIES) == PAYOUT


def test_a_partial_refund_of_a_type_that_allows_none_is_paid_out() -> None:
    table = capabilities_from('[{"payment_type": "qris", "by_gateway": true, "window_days": 7, "partial": false}]')
    assert route("qris", paid_at=NOW, now=NOW, amount=50_000, paid=100_000, capabilities=table) == PAYOUT
    assert route("qris", paid_at=NOW, now=NOW, amount=100_000, paid=100_000, capabilities=table) == GATEWAY


def test_configuration_overrides_one_type_and_keeps_the_other_defaults() -> None:
    table = capabilities_from('[{"payment_type": "bank_transfer", "by_gateway": true}]')
    assert table["bank_transfer"].by_gateway and table["qris"] == DEFAULT_CAPABILITIES["qris"]
    assert capabilities_from("") == dict(DEFAULT_CAPABILITIES)


@pytest.mark.parametrize("text", [
    '{"payment_type": "qris"}',
    '[{"payment_type": "qris"}]',
    '[{"payment_type": "qris", "by_gateway": "yes"}]',
    '[{"payment_type": "qris", "by_gateway": true, "window_days": -1}]',
    '[{"payment_type": "qris", "by_gateway": true, "partial": "no"}]',
    'not json',
])
def test_a_bad_capability_setting_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError):
        capabilities_from(text)


@pytest.mark.parametrize(("given", "expected"), [("1234 5678 90", "1234567890"), ("123-456-7890", "1234567890")])
def test_account_numbers_are_kept_as_digits(given: str, expected: str) -> None:
    assert account_number(given) == expected


@pytest.mark.parametrize("given", ["12345", "1" * 21, "12345a7", "١٢٣٤٥٦٧", 1234567])
def test_an_account_number_that_is_not_6_to_20_digits_is_refused(given: object) -> None:
    with pytest.raises(ValueError):
        account_number(given)


WIB_NIGHT = datetime(2026, 12, 1, 16, 58, tzinfo=UTC)  # 23:58 WIB


@pytest.mark.parametrize(("utc", "opens"), [
    (datetime(2026, 12, 1, 16, 55, tzinfo=UTC), "2026-12-02T06:00:00+07:00"),  # 23:55 WIB: closed from the start
    (WIB_NIGHT, "2026-12-02T06:00:00+07:00"),
    (datetime(2026, 12, 1, 20, 0, tzinfo=UTC), "2026-12-02T06:00:00+07:00"),  # 03:00 WIB, after midnight
    (datetime(2026, 12, 1, 22, 59, tzinfo=UTC), "2026-12-02T06:00:00+07:00"),  # 05:59 WIB
    (datetime(2026, 12, 1, 23, 0, tzinfo=UTC), None),  # 06:00 WIB: open again
    (datetime(2026, 12, 1, 16, 54, tzinfo=UTC), None),  # 23:54 WIB
    (NOW, None),  # 10:00 WIB
])
def test_shopeepay_takes_no_refunds_between_2355_and_0600_jakarta_time(utc: datetime, opens: str | None) -> None:
    until = quiet_until(DEFAULT_CAPABILITIES["shopeepay"], utc)
    assert (until.isoformat() if until else None) == opens


def test_other_types_have_no_quiet_hours_and_configuration_may_set_them() -> None:
    assert quiet_until(DEFAULT_CAPABILITIES["gopay"], WIB_NIGHT) is None
    table = capabilities_from('[{"payment_type": "gopay", "by_gateway": true, "quiet_hours": ["01:00", "02:00"]}]')
    assert quiet_until(table["gopay"], datetime(2026, 12, 1, 18, 30, tzinfo=UTC)) is not None  # 01:30 WIB
    assert quiet_until(table["gopay"], WIB_NIGHT) is None
    with pytest.raises(ValueError, match="quiet_hours"):
        capabilities_from('[{"payment_type": "gopay", "by_gateway": true, "quiet_hours": ["25:00", "02:00"]}]')
