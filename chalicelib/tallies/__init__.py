"""Tallies: per-day counters for reports (the `report-rollups` table), low in the layers so that any area can
count what only it sees (carts created, product views) and the reports area can apply order facts once."""
