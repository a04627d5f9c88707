"""Notifications against a mocked AWS account: the queue message, send-once delivery, SES/SNS, the outbox CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from moto.core import DEFAULT_ACCOUNT_ID

from chalicelib import aws as aws_clients
from chalicelib import clock, config, resources
from chalicelib.notifications import adapters as notifier_module
from chalicelib.notifications import repository, service
from chalicelib.notifications.adapters import AwsNotifier, OutboxNotifier, OutgoingNotification, e164, notifier
from chalicelib.notifications.domain import render
from tests.fakes import SAMPLE_ORDER_ID, sample_order
from tools.cli import cli

ORDER_ID = SAMPLE_ORDER_ID
SENDER = "pesanan@tokokita.test"
REGION = "ap-southeast-3"
VA = "12345678901234567"


PAYMENT = {"payment": {"provider": "sandbox", "method": "bank_transfer", "transaction_id": "trx-1", "amount": 1250000,
                       "expires_at": "2026-11-23T12:05:00.000Z", "bank": "bca", "va_number": VA}}


def body(event: str = "order_placed", order: dict[str, Any] | None = None,
         extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"event": event, "order": order or sample_order(), "extra": PAYMENT if extra is None else extra}


class FakeNotifier:
    """Records what it was asked to send; fails on demand."""

    channel = "email+sms"

    def __init__(self, error: Exception | None = None) -> None:
        self.sent: list[OutgoingNotification] = []
        self.error = error

    def send(self, notification: OutgoingNotification) -> str:
        self.sent.append(notification)
        if self.error:
            raise self.error
        return f"ses:email-{len(self.sent)} sns:sms-{len(self.sent)}"


@pytest.fixture(autouse=True)
def fresh_notifier(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test picks its own notifier kind; the cached instances must not leak between tests."""
    monkeypatch.delenv(config.NOTIFIER, raising=False)
    monkeypatch.delenv(config.SES_SENDER, raising=False)
    notifier_module._notifier.cache_clear()
    yield
    notifier_module._notifier.cache_clear()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNotifier:
    sender = FakeNotifier()
    monkeypatch.setattr(service, "notifier", lambda: sender)
    return sender


def at(monkeypatch: pytest.MonkeyPatch, iso: str) -> None:
    """Freeze the service's clock."""
    monkeypatch.setattr(clock, "now", lambda: clock.parse_iso(iso))


def receive_all(aws: Any) -> list[dict[str, Any]]:
    url = aws_clients.queue_url(resources.NOTIFICATIONS_QUEUE)
    response = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    return [json.loads(message["Body"]) for message in response.get("Messages", [])]


# --- request --------------------------------------------------------------------------------------------------------


def test_request_puts_a_well_formed_message_on_the_notifications_queue(aws: Any) -> None:
    order = sample_order()
    service.request("order_placed", order, PAYMENT)

    [message] = receive_all(aws)
    assert message["event"] == "order_placed"
    assert message["order"] == order
    assert message["extra"] == PAYMENT
    assert message["order"]["customer"] == {"name": "Sari", "email": "sari@example.com", "phone": "0812-3456-7890"}
    assert message["requested_at"].endswith("Z")
    # What the queue carries is exactly what the consumer renders.
    assert render(message["event"], message["order"], message["extra"]).sms.startswith("TokoKita:")


def test_request_without_extra_sends_an_empty_extra(aws: Any) -> None:
    service.request("delivered", sample_order(status="CONFIRMED"))
    [message] = receive_all(aws)
    assert message["extra"] == {}


def test_request_refuses_programming_errors_before_queueing(aws: Any) -> None:
    with pytest.raises(ValueError, match="unknown notification event"):
        service.request("order_paid", sample_order())
    with pytest.raises(ValueError, match="order_id"):
        service.request("delivered", {"customer": {"name": "Sari"}})
    assert receive_all(aws) == []


# --- deliver --------------------------------------------------------------------------------------------------------


def test_deliver_sends_once_and_records_the_notification(aws: Any, fake: FakeNotifier,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2026-11-23T11:05:01.000Z")
    assert service.deliver(body()) == "sent"

    [sent] = fake.sent
    assert sent.notification_id == f"{ORDER_ID}#order_placed" == service.notification_id(ORDER_ID, "order_placed")
    assert (sent.email, sent.phone) == ("sari@example.com", "0812-3456-7890")
    assert VA in sent.message.text
    record = repository.NotificationModel.get(f"{ORDER_ID}#order_placed", consistent_read=True)
    assert record.status == "sent"
    assert record.channel == "email+sms"
    assert record.order_id == ORDER_ID and record.event == "order_placed"
    assert record.created_at == record.sent_at == "2026-11-23T11:05:01.000Z"
    assert record.provider_ids == ["ses:email-1", "sns:sms-1"]
    assert int(record.attempts) == 1
    assert record.subject == sent.message.subject and record.sms == sent.message.sms
    assert record.last_error is None


def test_a_redelivered_event_is_a_duplicate_and_sends_nothing(aws: Any, fake: FakeNotifier) -> None:
    assert service.deliver(body()) == "sent"
    assert service.deliver(body()) == "duplicate"
    assert len(fake.sent) == 1
    assert int(repository.NotificationModel.get(f"{ORDER_ID}#order_placed").attempts) == 1


def test_each_event_of_an_order_is_its_own_notification(aws: Any, fake: FakeNotifier) -> None:
    assert service.deliver(body()) == "sent"
    assert service.deliver(body("payment_received", sample_order(status="CONFIRMED"), {"amount": 1250000})) == "sent"
    assert [item.event for item in fake.sent] == ["order_placed", "payment_received"]


def test_a_failing_notifier_marks_the_record_failed_and_reraises(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = FakeNotifier(error=ConnectionError("SES unreachable"))
    monkeypatch.setattr(service, "notifier", lambda: broken)

    with pytest.raises(ConnectionError, match="SES unreachable"):
        service.deliver(body())

    record = repository.NotificationModel.get(f"{ORDER_ID}#order_placed", consistent_read=True)
    assert record.status == "failed"
    assert "SES unreachable" in record.last_error
    assert record.sent_at is None


def test_a_failed_notification_is_sent_on_the_next_delivery(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at(monkeypatch, "2026-11-23T11:05:01.000Z")
    monkeypatch.setattr(service, "notifier", lambda: FakeNotifier(error=TimeoutError("throttled")))
    with pytest.raises(TimeoutError):
        service.deliver(body())

    at(monkeypatch, "2026-11-23T11:06:31.000Z")
    working = FakeNotifier()
    monkeypatch.setattr(service, "notifier", lambda: working)
    assert service.deliver(body()) == "sent"

    record = repository.NotificationModel.get(f"{ORDER_ID}#order_placed", consistent_read=True)
    assert record.status == "sent"
    assert int(record.attempts) == 2
    assert record.created_at == "2026-11-23T11:05:01.000Z"  # the first attempt, kept for the by-order index
    assert record.sent_at == "2026-11-23T11:06:31.000Z"
    assert len(working.sent) == 1


def test_a_fresh_pending_claim_is_left_to_its_consumer(aws: Any, fake: FakeNotifier,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Two consumers got the same SQS message: the second must not send while the first may be sending."""
    at(monkeypatch, "2026-11-23T11:05:01.000Z")
    outgoing = OutgoingNotification(f"{ORDER_ID}#order_placed", ORDER_ID, "order_placed", "sari@example.com", None,
                                    render("order_placed", sample_order(), PAYMENT))
    assert repository.claim(outgoing, channel="email+sms", now="2026-11-23T11:05:00.000Z")

    with pytest.raises(service.DeliveryInProgress):
        service.deliver(body())
    assert fake.sent == []

    # A consumer that died mid-send leaves its claim; once the lease has run out the message is taken over.
    later = clock.parse_iso("2026-11-23T11:05:00.000Z") + repository.CLAIM_LEASE + timedelta(seconds=1)
    at(monkeypatch, clock.iso(later))
    assert service.deliver(body()) == "sent"
    assert len(fake.sent) == 1


def test_deliver_with_the_default_outbox_notifier_records_without_sending(aws: Any) -> None:
    assert isinstance(notifier(), OutboxNotifier)
    assert service.deliver(body("cancelled", extra={"reason": "stok habis"})) == "sent"

    [item] = service.outbox(ORDER_ID)
    assert item["channel"] == "outbox"
    assert item["provider_ids"] == ["outbox"]
    assert item["status"] == "sent"
    assert "Alasan: stok habis" in item["text"]


def test_an_unknown_event_in_a_message_fails_for_the_dead_letter_queue(aws: Any, fake: FakeNotifier) -> None:
    with pytest.raises(ValueError, match="no template"):
        service.deliver(body("order_paid"))
    assert fake.sent == []
    assert service.outbox() == []


# --- outbox ---------------------------------------------------------------------------------------------------------


def deliver_story(monkeypatch: pytest.MonkeyPatch) -> None:
    """One order's life plus another order, at distinct times."""
    at(monkeypatch, "2026-11-23T11:05:00.000Z")
    service.deliver(body())
    at(monkeypatch, "2026-11-23T11:20:00.000Z")
    service.deliver(body("payment_received", sample_order(status="CONFIRMED"), {"amount": 1250000}))
    at(monkeypatch, "2026-11-23T11:30:00.000Z")
    other = sample_order(order_id="TK-261123-ABCDEF", customer={"name": "Budi", "email": "budi@example.com",
                                                               "phone": "+6281111111111"})
    service.deliver(body("expired", other, {}))
    at(monkeypatch, "2026-11-24T02:00:00.000Z")
    service.deliver(body("shipped", sample_order(status="CONFIRMED"),
                         {"shipment": {"courier": "JNE", "service": "REG", "waybill": "JNE0123456789"}}))


def test_outbox_lists_newest_first_for_an_order_or_everything(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver_story(monkeypatch)

    assert [item["event"] for item in service.outbox(ORDER_ID)] == ["shipped", "payment_received", "order_placed"]
    assert [item["event"] for item in service.outbox(ORDER_ID, limit=2)] == ["shipped", "payment_received"]
    assert [item["event"] for item in service.outbox()] == ["shipped", "expired", "payment_received", "order_placed"]
    assert [item["order_id"] for item in service.outbox(limit=2)] == [ORDER_ID, "TK-261123-ABCDEF"]
    assert service.outbox("TK-000000-NOTHING") == []
    assert service.outbox(limit=0) == []


def test_outbox_command_prints_the_messages(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver_story(monkeypatch)

    result = CliRunner().invoke(cli, ["outbox", "--order", ORDER_ID, "--limit", "2"])

    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("shipped") < out.index("payment_received")
    assert "order_placed" not in out  # beyond --limit 2
    assert "24 Nov 2026 09:00 WIB  shipped  TK-261123-7QX2MD  [sent]" in out
    assert "To:      sari@example.com / 0812-3456-7890" in out
    assert "Subject: Pesanan TK-261123-7QX2MD sedang dikirim" in out
    assert "    Halo Sari," in out
    assert "    Nomor resi: JNE0123456789" in out
    assert "SMS (" in out


def test_outbox_command_without_order_shows_everything(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    deliver_story(monkeypatch)
    result = CliRunner().invoke(cli, ["outbox"])
    assert result.exit_code == 0, result.output
    assert "Halo Budi," in result.output and "Halo Sari," in result.output


def test_outbox_command_with_nothing_to_show(aws: Any) -> None:
    result = CliRunner().invoke(cli, ["outbox", "--order", "TK-000000-NOTHING"])
    assert result.exit_code == 0
    assert "No notifications for order TK-000000-NOTHING." in result.output


# --- adapters -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "number"), [
    ("081234567890", "+6281234567890"),
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("6281234567890", "+6281234567890"),
    ("81234567890", "+6281234567890"),
    ("(021) 555-0199", "+62215550199"),
])
def test_e164_turns_local_numbers_into_international_ones(typed: str, number: str) -> None:
    assert e164(typed) == number


@pytest.mark.parametrize("typed", ["", "halo", "+0812345678", "12"])
def test_e164_refuses_what_is_not_a_phone_number(typed: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        e164(typed)


def test_notifier_is_chosen_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(notifier(), OutboxNotifier)
    assert notifier() is notifier()

    monkeypatch.setenv(config.NOTIFIER, "aws")
    with pytest.raises(RuntimeError, match=config.SES_SENDER):
        notifier()
    monkeypatch.setenv(config.SES_SENDER, SENDER)
    chosen = notifier()
    assert isinstance(chosen, AwsNotifier) and chosen.sender == SENDER
    assert notifier() is chosen

    monkeypatch.setenv(config.NOTIFIER, "pigeon")
    with pytest.raises(ValueError, match="pigeon"):
        notifier()


def test_aws_notifier_emails_through_ses_and_texts_through_sns(aws: Any) -> None:
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    aws_clients.client("ses").verify_email_identity(EmailAddress=SENDER)
    message = render("order_placed", sample_order(), PAYMENT)
    outgoing = OutgoingNotification(f"{ORDER_ID}#order_placed", ORDER_ID, "order_placed", "sari@example.com",
                                    "0812-3456-7890", message)

    provider_ids = AwsNotifier(sender=SENDER).send(outgoing).split()

    assert [item.split(":", 1)[0] for item in provider_ids] == ["ses", "sns"]
    [email] = ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages
    assert email.source == SENDER
    assert email.destinations["ToAddresses"] == ["sari@example.com"]
    assert email.subject == message.subject
    assert email.body == message.text
    assert email.id == provider_ids[0].removeprefix("ses:")
    sms = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    assert sms[provider_ids[1].removeprefix("sns:")] == ("+6281234567890", message.sms)


def test_aws_notifier_skips_a_missing_channel(aws: Any) -> None:
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    outgoing = OutgoingNotification(f"{ORDER_ID}#delivered", ORDER_ID, "delivered", None, "+6281234567890",
                                    render("delivered", sample_order(), {}))
    provider_id = AwsNotifier(sender=SENDER).send(outgoing)

    assert provider_id.startswith("sns:") and " " not in provider_id
    assert ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages == []
    assert len(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages) == 1


def test_aws_notifier_texts_only_the_events_worth_an_sms(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    aws_clients.client("ses").verify_email_identity(EmailAddress=SENDER)

    def send(event: str) -> str:
        outgoing = OutgoingNotification(f"{ORDER_ID}#{event}", ORDER_ID, event, "sari@example.com",
                                        "+6281234567890", render(event, sample_order(), {}))
        return AwsNotifier(sender=SENDER).send(outgoing)

    assert send("delivered").startswith("ses:") and "sns:" not in send("delivered")
    assert "sns:" in send("shipped")
    monkeypatch.setenv("TOKOFLOW_SMS_EVENTS", "delivered")
    assert "sns:" in send("delivered")
    assert len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == 4
    assert len(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages) == 2


def test_aws_notifier_refuses_an_unverified_sender(aws: Any) -> None:
    from botocore.exceptions import ClientError

    outgoing = OutgoingNotification(f"{ORDER_ID}#delivered", ORDER_ID, "delivered", "sari@example.com", None,
                                    render("delivered", sample_order(), {}))
    with pytest.raises(ClientError, match="not verified"):
        AwsNotifier(sender="someone@else.test").send(outgoing)


def test_deliver_through_the_configured_aws_notifier(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    monkeypatch.setenv(config.NOTIFIER, "aws")
    monkeypatch.setenv(config.SES_SENDER, SENDER)
    aws_clients.client("ses").verify_email_identity(EmailAddress=SENDER)

    assert service.deliver(body()) == "sent"
    assert service.deliver(body()) == "duplicate"

    assert len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages) == 1
    assert len(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages) == 1
    [item] = service.outbox(ORDER_ID)
    assert item["channel"] == "email+sms"
    assert [provider.split(":")[0] for provider in item["provider_ids"]] == ["ses", "sns"]
