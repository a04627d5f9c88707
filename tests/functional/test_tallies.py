"""Counters staged into another area's transaction are written with it, or not at all."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib import db
from chalicelib.tallies import repository, service
from chalicelib.vouchers import repository as vouchers
from chalicelib.vouchers.domain import Voucher


def test_counters_staged_in_a_transaction_are_added_with_their_labels(aws: Any) -> None:
    for _ in range(2):
        with TransactWrite(connection=db.connection()) as tx:
            service.stage(tx, "product#P1", {"reviews": 1, "stars": 4}, at="2026-12-01T18:30:00.000Z",
                          labels={"name": "Batik"})
            service.stage_points_outstanding(tx, 25)
    # 18:30 UTC is already the next business day in Jakarta
    assert repository.read_day("2026-12-02") == {"product#P1": {"reviews": 2, "stars": 8, "label_name": "Batik"}}
    assert service.points_outstanding() == 50


def test_counters_are_not_added_when_the_transaction_fails(aws: Any) -> None:
    voucher = Voucher(code="HABIS", kind="fixed", value=1000, min_spend=0, max_discount=None, usage_limit=0,
                      used=0, valid_from=None, valid_until=None, active=True)
    vouchers.create(voucher, actor="test")
    with pytest.raises(TransactWriteError):
        with TransactWrite(connection=db.connection()) as tx:
            service.stage(tx, "summary", {"points_earned": 5}, at="2026-12-01T01:00:00.000Z")
            vouchers.stage_use(tx, voucher)  # the usage limit is 0: the whole transaction is refused
    assert repository.read_day("2026-12-01") == {}
    assert service.points_outstanding() == 0
