"""Verified reviews: one per order line by its buyer, moderated by staff, counted in the product rating."""
