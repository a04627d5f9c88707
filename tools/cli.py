"""TokoFlow's command line: import a catalog spreadsheet, mint a development token, read the notification outbox,
drive orders and returns through the local stack, download a sales report.

Chalicelib's AWS-facing modules are imported inside the commands, not at the top, so `--help` and `token` do not
pay for importing pynamodb and boto3.
"""

from __future__ import annotations

import getpass
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chalicelib.auth.domain import ROLES  # pure module: reads no environment at import
from chalicelib.catalog.csv_import import DEFAULT_WORKERS, MAX_WORKERS  # parsing only: no AWS library at import
from tools.drive import (
    courier,
    pack,
    pay,
    payment_fault,
    payout,
    points_due,
    report,
    return_approve,
    return_receive,
    return_request,
    return_send,
    show_returns,
)

if TYPE_CHECKING:
    from chalicelib.catalog.csv_import import RejectedRow

DEV_TOKEN_VARIABLES = ("TOKOFLOW_AUTH_MODE", "TOKOFLOW_DEV_JWT_SECRET")
EXIT_OK, EXIT_REJECTED, EXIT_UNUSABLE, EXIT_UNREACHABLE = 0, 1, 2, 3
MAX_REASON_WIDTH = 90


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """TokoFlow tools for the TokoKita shop."""


def _target() -> str:
    """Where writes go, said before the import starts: the real account and the local stack look alike."""
    from chalicelib import config

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    where = f"endpoint {endpoint}" if endpoint else f"AWS account in {config.region()}"
    return f"tables {config.prefix()}-* at {where}"


def _rejection_table(rows: list[RejectedRow]) -> list[str]:
    headers = ("Row", "Handle", "SKU", "Reason")
    cells = [(str(row.row), row.handle or "-", row.sku or "-", _shorten(row.reason)) for row in rows]
    widths = [max(len(header), *(len(cell[index]) for cell in cells)) for index, header in enumerate(headers)]
    lines = ["  ".join(text.ljust(width) for text, width in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines.extend("  ".join(text.ljust(width) for text, width in zip(cell, widths, strict=True)).rstrip()
                 for cell in cells)
    return lines


def _user() -> str:
    """The login name for the ledger; containers often run as a uid without a passwd entry."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


def _search_figures(search: dict[str, Any]) -> str:
    """What the refresh after an import did: changes folded into the index, or an index built from scratch."""
    if "changes" in search:
        return f"{search['changes']} changes folded in"
    return f"built from scratch with {search.get('listed', 0)} listed products"


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_REASON_WIDTH else text[: MAX_REASON_WIDTH - 1] + "…"


@cli.command("import-catalog")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--actor", default=None, help="Name recorded in the stock ledger (default: import:<your user>).")
@click.option("--dry-run", is_flag=True, help="Only check the file; nothing is written and AWS is not contacted.")
@click.option("--workers", default=DEFAULT_WORKERS, show_default=True,
              type=click.IntRange(min=1, max=MAX_WORKERS), help="Transactions written at the same time.")
def import_catalog(path: Path, actor: str | None, dry_run: bool, workers: int) -> None:
    """Create or update products from a catalog CSV (one row per variant).

    Safe to run again: products already in the shop are updated, unchanged ones are not written, and SKUs that
    already exist keep their stock (the file's stock only opens new SKUs). Products are written many to a
    transaction, several transactions at once. Exit code 0 when every row was imported, 1 when some rows were
    rejected, 2 when the file cannot be used at all, 3 when the shop's tables cannot be reached.
    """
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException
    from tqdm import tqdm

    from chalicelib.catalog.csv_import import CatalogFileError, import_products, parse_catalog_csv

    try:
        products, rejected = parse_catalog_csv(path)
    except (CatalogFileError, OSError) as error:
        click.echo(f"error: {path}: {error}", err=True)
        sys.exit(EXIT_UNUSABLE)
    if not products and not rejected:
        click.echo(f"error: {path}: the file has a header but no product rows", err=True)
        sys.exit(EXIT_UNUSABLE)
    sku_count = sum(len(product.skus) for product in products)
    click.echo(f"{path}: {len(products)} products, {sku_count} SKUs, {len(rejected)} rejected rows")

    if dry_run:
        click.echo("Dry run: nothing was written.")
    else:
        actor = actor or f"import:{_user()}"
        click.echo(f"Importing into {_target()} as {actor} ({workers} transactions at a time)", err=True)
        started = time.monotonic()
        try:
            with tqdm(total=len(products), unit="product", desc="Importing", file=sys.stderr) as bar:
                summary = import_products(products, actor=actor, workers=workers,
                                          on_progress=lambda product, outcome: bar.update(1))
        except (PynamoDBException, BotoCoreError, ClientError) as error:
            # Products imported before the failure stay; running the import again picks up where it stopped.
            click.echo(f"error: cannot write to {_target()}: {error}", err=True)
            sys.exit(EXIT_UNREACHABLE)
        rejected = sorted([*rejected, *summary.rejected], key=lambda row: row.row)
        click.echo(f"Created:   {summary.created} products")
        click.echo(f"Updated:   {summary.updated} products")
        click.echo(f"Unchanged: {summary.unchanged} products")
        click.echo(f"New SKUs:  {summary.skus} (opened with the file's stock)")
        if summary.skus_kept:
            click.echo(f"{summary.skus_kept} SKUs already existed: their stock and low-stock threshold were left "
                       "as they are (the file's stock only applies to new SKUs).")
        if summary.search is not None:
            click.echo(f"Search index: {_search_figures(summary.search)}")
        elapsed = time.monotonic() - started
        click.echo(f"Took:      {elapsed:.1f} s ({len(products) / max(elapsed, 1e-3):.1f} products/s)")
    click.echo(f"Rejected:  {len(rejected)} rows")
    if rejected:
        click.echo("")
        for line in _rejection_table(rejected):
            click.echo(line)
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_OK)


@cli.command("reindex-catalog")
def reindex_catalog() -> None:
    """Rebuild the catalog search index and the category counts from every product.

    The running shop keeps both in step by itself; this is for a new engine, a restored table, or doubt.
    Exit code 3 when the shop's tables cannot be reached.
    """
    from botocore.exceptions import BotoCoreError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.catalog import service

    click.echo(f"Rebuilding the search index and category counts from {_target()}", err=True)
    try:
        summary = service.rebuild_search_index()
    except (PynamoDBException, BotoCoreError) as error:
        click.echo(f"error: cannot read {_target()}: {error}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    click.echo(f"Products:   {summary['products']} ({summary['listed']} listed)")
    click.echo(f"Categories: {summary['categories']}")
    size = f", {summary['bytes'] / 1e6:.1f} MB" if "bytes" in summary else ""
    click.echo(f"Index:      {summary['engine']}{size}, in {summary['seconds']} s")


@cli.command("relist-vouchers")
def relist_vouchers() -> None:
    """Give vouchers created before the staff voucher list was paged the key that lists them.

    Run once after deploying the paged list; running it again stamps nothing. Exit code 3 when the shop's tables
    cannot be reached.
    """
    from botocore.exceptions import BotoCoreError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.vouchers import service

    click.echo(f"Listing every voucher of {_target()}", err=True)
    try:
        stamped = service.stamp_listing()
    except (PynamoDBException, BotoCoreError) as error:
        click.echo(f"error: cannot update {_target()}: {error}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    click.echo(f"Vouchers newly listed: {stamped}")


def stage_environment(stage: str = "dev") -> dict[str, str]:
    """The stage's variables from .chalice/config.json, so `make token` works from a fresh shell."""
    from local.offline import stage_environment as read_stage_environment

    try:
        return read_stage_environment(stage)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise click.ClickException(f"cannot read stages.{stage}.environment_variables from .chalice/config.json: "
                                   f"{error}") from None


@cli.command("token")
@click.option("--role", required=True, type=click.Choice(ROLES), help="Role the token carries.")
@click.option("--sub", default=None, help="Subject (user id); default: <role>-<random>.")
@click.option("--email", default="", help="E-mail claim; default: <role>@tokokita.test.")
def token(role: str, sub: str | None, email: str) -> None:
    """Print a development JWT for `Authorization: Bearer ...` (dev auth mode only).

    TOKOFLOW_AUTH_MODE and TOKOFLOW_DEV_JWT_SECRET come from the environment, or else from the dev stage in
    .chalice/config.json, which is what `chalice local` and the local stack use.
    """
    missing = [name for name in DEV_TOKEN_VARIABLES if not os.environ.get(name)]
    if missing:
        stage_variables = stage_environment()
        for name in missing:
            if name in stage_variables:
                os.environ[name] = stage_variables[name]
    from chalicelib.auth import mint_dev_token
    from chalicelib.errors import DomainError

    try:
        click.echo(mint_dev_token(role=role, sub=sub, email=email))
    except (DomainError, RuntimeError, ValueError) as error:
        raise click.ClickException(str(error)) from None


@cli.command("outbox")
@click.option("--order", "order_id", default=None, help="Only this order's notifications (e.g. TK-261123-7QX2MD).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(min=1), help="How many to show.")
def outbox(order_id: str | None, limit: int) -> None:
    """Show the customer notifications the shop sent (or would send), newest first.

    With TOKOFLOW_NOTIFIER=outbox (the local stack) nothing leaves the shop: this is how to read the emails and
    SMS a customer would have received. Reads the tables TOKOFLOW_PREFIX and AWS_ENDPOINT_URL point at.
    """
    from botocore.exceptions import BotoCoreError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib.notifications.domain import format_wib
    from chalicelib.notifications.service import outbox as recent_notifications

    try:
        notifications = recent_notifications(order_id=order_id, limit=limit)
    except (PynamoDBException, BotoCoreError) as error:
        click.echo(f"error: cannot read notifications from {_target()}: {error}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    if not notifications:
        click.echo(f"No notifications for order {order_id}." if order_id else "No notifications yet.")
        return
    for index, item in enumerate(notifications):
        if index:
            click.echo("")
        recipients = " / ".join(address for address in (item["email"], item["phone"]) if address) or "-"
        click.echo(f"{format_wib(item['created_at'])}  {item['event']}  {item['order_id']}  [{item['status']}]")
        click.echo(f"  To:      {recipients}")
        click.echo(f"  Subject: {item['subject']}")
        if item["last_error"] and item["status"] != "sent":
            click.echo(f"  Error:   {item['last_error']}")
        click.echo("")
        for line in item["text"].rstrip("\n").splitlines():
            click.echo(f"    {line}".rstrip())
        click.echo("")
        click.echo(f"  SMS ({len(item['sms'])} chars): {item['sms']}")


for command in (pay, pack, courier, payout, return_request, return_approve, return_send, return_receive, show_returns,
                report, points_due, payment_fault):
    cli.add_command(command)


from tools.sandbox_courier import courier_fault, poll_shipments  # noqa: E402  (imports tools.drive, above)

cli.add_command(courier_fault)
cli.add_command(poll_shipments)


def main() -> None:
    cli(prog_name="python -m tools.cli")


if __name__ == "__main__":
    main()
