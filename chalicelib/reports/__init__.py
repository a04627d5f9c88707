"""Reports: finance's sales reports, built on schedule from per-day rollups into S3 (CSV, XLSX, manifest)."""
