"""The notifier port and its adapters: SES email + SNS SMS on AWS, or the outbox table alone locally.

The service decides what to say and records every notification; a notifier only carries a rendered message
to the customer. Swapping in another provider (WhatsApp, a transactional email API) touches nothing else.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Protocol

from chalicelib import aws, config
from chalicelib.notifications.domain import Message

OUTBOX, AWS = "outbox", "aws"
KINDS = (OUTBOX, AWS)
COUNTRY_CODE = "62"  # Indonesia

_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True)
class OutgoingNotification:
    """A rendered message and where it goes; email or phone may be missing (then that channel is skipped)."""

    notification_id: str
    order_id: str
    event: str
    email: str | None
    phone: str | None
    message: Message


class Notifier(Protocol):
    """Delivers one notification; raises on failure so the queue retries it."""

    def send(self, notification: OutgoingNotification) -> str:
        """The provider's message id(s): space-separated "channel:id" pairs, or "outbox"."""
        ...


def e164(phone: str) -> str:
    """An Indonesian number as SNS wants it: "0812-3456-7890" / "62812..." / "+62812..." -> "+628123456789".

    Customers type numbers the local way (leading 0); SNS only accepts E.164. Raises ValueError for text that
    cannot be a phone number, so a bad number fails loudly instead of texting a stranger.
    """
    digits = _SEPARATORS.sub("", phone.strip())
    if digits.startswith("+"):
        number = digits
    elif digits.startswith("00"):
        number = "+" + digits[2:]
    elif digits.startswith("0"):
        number = f"+{COUNTRY_CODE}{digits[1:]}"
    elif digits.startswith(COUNTRY_CODE):
        number = "+" + digits
    elif digits.startswith("8"):
        number = f"+{COUNTRY_CODE}{digits}"
    else:
        number = "+" + digits
    if not re.fullmatch(r"\+[1-9][0-9]{7,14}", number):
        raise ValueError(f"not a phone number: {phone!r}")
    return number


class OutboxNotifier:
    """Sends nothing: the notification record in the outbox table is the delivery (local stack, demos, tests)."""

    channel = "outbox"

    def send(self, notification: OutgoingNotification) -> str:
        return "outbox"


DEFAULT_SMS_EVENTS = "order_placed,shipped"


def sms_events() -> frozenset[str]:
    """Events worth an SMS: at list price one SMS to Indonesia costs more than all the AWS work of an order,
    so by default only the payment instructions and the waybill go by SMS; every event goes by email (and by
    SMS when there is no email address)."""
    raw = config.get(config.SMS_EVENTS, DEFAULT_SMS_EVENTS)
    return frozenset(event.strip() for event in raw.split(",") if event.strip())


class AwsNotifier:
    """Email through SES and SMS through SNS, each only when the customer gave that address."""

    channel = "email+sms"

    def __init__(self, sender: str | None = None) -> None:
        self.sender = sender if sender is not None else config.get(config.SES_SENDER)
        if not self.sender:
            raise RuntimeError(f"{config.SES_SENDER} must name a verified SES sender to send email")

    def send(self, notification: OutgoingNotification) -> str:
        """Email first, then SMS; if the SMS fails the whole send fails and a retry sends the email again.

        A repeated email is preferred over a customer never learning their VA number.
        """
        ids = []
        if notification.email:
            ids.append(f"ses:{self._email(notification)}")
        if notification.phone and (notification.event in sms_events() or not notification.email):
            ids.append(f"sns:{self._sms(notification)}")
        if not ids:
            raise ValueError(f"notification {notification.notification_id} has neither an email nor a phone number")
        return " ".join(ids)

    def _email(self, notification: OutgoingNotification) -> str:
        message = notification.message
        response = aws.client("ses").send_email(
            Source=self.sender,
            Destination={"ToAddresses": [notification.email]},
            Message={
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"}},
            },
        )
        return str(response["MessageId"])

    def _sms(self, notification: OutgoingNotification) -> str:
        response = aws.client("sns").publish(
            PhoneNumber=e164(notification.phone or ""),
            Message=notification.message.sms,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
        return str(response["MessageId"])


@functools.cache
def _notifier(kind: str) -> Notifier:
    if kind == OUTBOX:
        return OutboxNotifier()
    if kind == AWS:
        return AwsNotifier()
    raise ValueError(f"{config.NOTIFIER}={kind!r}: expected one of {', '.join(KINDS)}")


def notifier() -> Notifier:
    """The configured notifier, one instance per kind; the setting is read on every call, like all config."""
    return _notifier((config.get(config.NOTIFIER) or OUTBOX).strip().lower())


__all__ = ["AwsNotifier", "Notifier", "OutboxNotifier", "OutgoingNotification", "e164", "notifier"]
