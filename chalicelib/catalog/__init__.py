"""Catalog: products, their variants (one SKU each), categories, images and public browsing."""
