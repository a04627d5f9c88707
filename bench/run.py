"""`make bench`: print the cold import cost of the app, the AWS requests each API operation makes, what one
order's whole journey costs and what one return costs (requests, state transitions, invocations, dollars per
1,000 orders and per 1,000 returns), and a month's sales report built at 10,000 and 100,000 orders with what
keeping its rollups costs per 1,000 orders, the Lambda zip size against its 15 MB budget,
the local stack under connection bursts and a bounded checkout load, and the catalog's pages and searches at
1,000, 10,000 and 50,000 products.

Usage: python -m bench.run [--runs 15] [--importtime-runs 3] [--skip-cold-import] [--skip-requests]
                           [--skip-journey] [--skip-returns] [--skip-reports] [--skip-package] [--skip-load]
                           [--skip-catalog] [--catalog-sizes 1000,10000,50000]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence

from bench import cold_import


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def print_cold_import(runs: int, importtime_runs: int) -> None:
    """Section (a): app vs bare import times, the ratio, and where the app's import time goes."""
    app, bare = cold_import.compare(runs)
    print(f"(a) Cold import: `import app` in a fresh interpreter, {runs} runs each, alternating order")
    print(f"    {'':<34}{'median ms':>10}{'p90 ms':>10}{'min ms':>10}")
    for samples, title in ((app, "tokoflow app.py"), (bare, "bare Chalice + boto3 app")):
        print(f"    {title:<34}{_ms(samples.median):>10}{_ms(samples.p90):>10}{_ms(min(samples.seconds)):>10}")
    print(f"    ratio median(app) / median(bare): {app.median / bare.median:.2f}x")
    print()

    modules = cold_import.import_profile(importtime_runs)
    total = next((module.cumulative_us for module in modules if module.name == "app"), 0)
    print(f"    Heaviest modules under `python -X importtime -c \"import app\"` (median of {importtime_runs} runs;"
          f" app total {total / 1000:.1f} ms with importtime overhead)")
    print(f"    {'module':<52}{'cumulative us':>14}{'self us':>10}{'depth':>7}")
    for module in cold_import.heaviest(modules, 8):
        print(f"    {module.name:<52}{module.cumulative_us:>14}{module.self_us:>10}{module.depth:>7}")
    print()
    print(f"    Self time by top-level package (top 8 of {len({m.name.split('.')[0] for m in modules})})")
    print(f"    {'package':<52}{'self us':>14}{'modules':>10}")
    for package, self_us, count in cold_import.self_time_by_package(modules)[:8]:
        print(f"    {package:<52}{self_us:>14}{count:>10}")
    print()


def print_requests() -> None:
    """Section (b): AWS requests per operation, second call of each kind on a warm instance."""
    from bench import request_count

    measurements = request_count.measure_operations()
    print("(b) AWS requests per operation (moto in-process, chalice.test.Client, warm instance: 2nd call counted)")
    print(f"    {'operation':<42}{'requests':>9}  breakdown")
    for measurement in measurements:
        breakdown = ", ".join(f"{name} x{count}" for name, count in sorted(measurement.requests.items()))
        print(f"    {measurement.operation:<42}{measurement.requests.total():>9}  {breakdown or '-'}")
        for note in measurement.notes:
            print(f"    {'':<42}{'':>9}  ({note})")
    print()


def print_journeys(*, orders: bool = True, returns: bool = True) -> None:
    """Section (c): two complete order journeys (bank transfer, cash on delivery) and their cost per 1,000 orders;
    section (d): two returns (card refunded by the gateway, bank transfer by a payout) and their cost per 1,000
    returns. Both measured in one mocked account."""
    from dataclasses import replace

    from bench import journey

    measured = journey.measure(orders=orders, returns=returns)
    if orders:
        journey.print_journeys(measured.orders)
    if returns:  # the prices and assumptions are printed once, in (c) when there is one
        section = journey.RETURNS if orders else replace(journey.RETURNS, prices_in="")
        journey.print_journeys(measured.returns, section=section)


def print_reports() -> None:
    """Section (e): the monthly report built at 10,000 and 100,000 orders (time, memory, requests, S3 bytes) and
    the cost per 1,000 orders of keeping the rollups, with the real collector."""
    from bench import reports

    reports.print_report_builds(reports.measure())


def print_package() -> None:
    """Section (f): the Lambda zip from `chalice package`, as shipped, against its 15 MB budget."""
    from bench import package_size

    try:
        package_size.print_package_size(package_size.measure())
    except RuntimeError as error:  # chalice package needs the package index for Linux wheels
        print(f"(f) Lambda package: not measured, {str(error).splitlines()[0]}\n")


def print_catalog(sizes: str | None) -> None:
    """Section (h): catalogs generated at each size, their first and fifth pages, a category page by price, two
    searches and /categories (time, read units, requests), the goal's ratios, and a walk through every page."""
    from bench import catalog

    catalog.print_catalog(catalog.measure(catalog.sizes_from(sizes)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run",
                                     description="cold import cost, AWS requests per operation, per order journey,"
                                                 " per return, report build at scale, catalog at scale")
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per app (default 15)")
    parser.add_argument("--importtime-runs", type=int, default=3, help="-X importtime runs (default 3)")
    parser.add_argument("--skip-cold-import", action="store_true")
    parser.add_argument("--skip-requests", action="store_true")
    parser.add_argument("--skip-journey", action="store_true", help="no (c), the per order journeys")
    parser.add_argument("--skip-returns", action="store_true", help="no (d), the per return costs")
    parser.add_argument("--skip-reports", action="store_true",
                        help="no (e), the report build at 10,000 and 100,000 orders and the rollups' cost")
    parser.add_argument("--skip-package", action="store_true",
                        help="no (f), the Lambda zip size (runs chalice package)")
    parser.add_argument("--skip-load", action="store_true", help="no (g), bursts and checkout load on a local stack")
    parser.add_argument("--skip-catalog", action="store_true", help="no (h), the catalog at scale")
    parser.add_argument("--catalog-sizes", default=os.environ.get("TOKOFLOW_BENCH_CATALOG_SIZES"),
                        help="(h)'s catalog sizes, comma separated (default 1000,10000,50000, or"
                             " TOKOFLOW_BENCH_CATALOG_SIZES)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not args.skip_catalog:
        from bench.catalog import sizes_from

        try:
            sizes_from(args.catalog_sizes)
        except ValueError as error:
            parser.error(str(error))

    started = time.perf_counter()
    print(f"TokoFlow bench: Python {platform.python_version()} on {platform.machine()}, {sys.executable}")
    print()
    if not args.skip_cold_import:
        print_cold_import(args.runs, args.importtime_runs)
    if not args.skip_requests:
        print_requests()
    if not (args.skip_journey and args.skip_returns):
        print_journeys(orders=not args.skip_journey, returns=not args.skip_returns)
    if not args.skip_reports:
        print_reports()
    if not args.skip_package:
        print_package()
    if not args.skip_load:
        # A process of its own: the sections above ran against in-process moto, whose cached clients and
        # connections must not meet the local stack's servers.
        sys.stdout.flush()
        subprocess.run([sys.executable, "-m", "bench.load"], check=False)
    if not args.skip_catalog:
        print_catalog(args.catalog_sizes)
    print(f"bench finished in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
