"""Vouchers: percentage or fixed discounts with a minimum spend, a usage limit and a validity window."""
