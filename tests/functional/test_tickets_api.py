"""Customer service tickets over HTTP under moto: who may open, read and write them (a stranger gets 404), what bad
input gets (a 4xx naming the problem, nothing changed), the staff queue by waiting time, replies that notify the
customer in Bahasa Indonesia, resolve, the rating once, and a reopen by the customer's reply."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import aws as aws_clients
from chalicelib import resources
from chalicelib.notifications import service as notifications
from chalicelib.tickets import repository as tickets
from tests.functional.helpers import body_of, create_product, place_order, send, snapshot
from tests.functional.test_returns_api import delivered_order, guest

OWNER = "cust-1"



def open_as_guest(client: Any, placed: dict[str, Any], body: Any | None = None) -> Any:
    body = body if body is not None else {"category": "shipping", "message": "Paket saya belum sampai"}
    return send(client, "POST", f"/orders/{placed['order_id']}/tickets", body, guest(placed))


def a_ticket(client: Any, placed: dict[str, Any], message: str = "Paket saya belum sampai") -> str:
    answer = open_as_guest(client, placed, {"category": "shipping", "message": message})
    assert answer.status_code == 201, answer.body
    return str(body_of(answer)["ticket_id"])


def queued(aws: Any, event: str) -> list[dict[str, Any]]:
    """The notifications waiting on the queue for `event` (others are received and left to expire)."""
    url = aws_clients.queue_url(resources.NOTIFICATIONS_QUEUE)
    bodies: list[dict[str, Any]] = []
    while True:
        response = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return [body for body in bodies if body["event"] == event]
        bodies.extend(json.loads(message["Body"]) for message in messages)


def test_a_guest_with_the_order_token_opens_a_ticket_with_attachments_and_support_is_told(
        client: Any, auth_header: Any, monkeypatch: pytest.MonkeyPatch, at: Any) -> None:
    monkeypatch.setenv("TOKOFLOW_SUPPORT_EMAIL", "cs@tokokita.test")
    placed = delivered_order(client, auth_header)
    at("2026-12-02T03:00:00.000Z")
    answer = open_as_guest(client, placed, {"category": "return", "message": "Barang rusak, ini fotonya",
                                            "return_id": f"{placed['order_id']}-R1",
                                            "attachments": [{"content_type": "image/jpeg"},
                                                            {"content_type": "application/pdf"}]})
    assert answer.status_code == 201, answer.body
    ticket = body_of(answer)
    ticket_id = ticket["ticket_id"]
    assert ticket_id.startswith("TKT-261202-")
    assert (ticket["status"], ticket["order_id"], ticket["return_id"]) == (
        "open", placed["order_id"], f"{placed['order_id']}-R1")
    assert ticket["waiting_since"] == "2026-12-02T03:00:00.000Z"
    assert ticket["messages"][0]["by"] == "guest"
    uploads = ticket["attachment_uploads"]
    assert [upload["key"] for upload in uploads] == [f"tickets/{ticket_id}/message-1-1.jpg",
                                                     f"tickets/{ticket_id}/message-1-2.pdf"]
    assert uploads[0]["method"] == "POST" and uploads[0]["fields"]["Content-Type"] == "image/jpeg"

    told = [item for item in notifications.outbox(ticket_id) if item["event"] == "ticket_opened"]
    assert len(told) == 1 and told[0]["email"] == "cs@tokokita.test"

    read = send(client, "GET", f"/tickets/{ticket_id}", headers=guest(placed))
    assert read.status_code == 200, read.body
    attachments = body_of(read)["messages"][0]["attachments"]
    assert attachments[0]["key"] == f"tickets/{ticket_id}/message-1-1.jpg" and "http" in attachments[0]["url"]


def test_the_signed_in_owner_opens_a_ticket_on_their_order_and_reads_it(client: Any, auth_header: Any) -> None:
    create_product(client, auth_header("staff"), sku="BTK-O", stock=5, price=100_000)
    placed = place_order(client, "BTK-O", 1, auth_header("customer", OWNER))
    owner = auth_header("customer", OWNER)
    answer = send(client, "POST", f"/orders/{placed['order_id']}/tickets",
                  {"category": "payment", "message": "Sudah transfer, belum terkonfirmasi"}, owner)
    assert answer.status_code == 201, answer.body
    ticket = body_of(answer)
    assert (ticket["customer_id"], ticket["messages"][0]["by"]) == (OWNER, OWNER)
    read = send(client, "GET", f"/tickets/{ticket['ticket_id']}", headers=owner)
    assert read.status_code == 200 and body_of(read)["category"] == "payment"
    mine = body_of(send(client, "GET", "/tickets", headers=owner))
    assert [item["ticket_id"] for item in mine["items"]] == [ticket["ticket_id"]]


def test_a_general_ticket_is_the_signed_in_customers_own_and_replies_are_emailed(
        client: Any, auth_header: Any) -> None:
    me = auth_header("customer", OWNER)
    answer = send(client, "POST", "/tickets", {"category": "product", "message": "Apakah batik ini ada ukuran XL?",
                                               "email": "Sari@Example.com"}, me)
    assert answer.status_code == 201, answer.body
    ticket = body_of(answer)
    ticket_id = ticket["ticket_id"]
    assert (ticket["order_id"], ticket["customer_id"], ticket["email"]) == (None, OWNER, "sari@example.com")

    assert send(client, "GET", f"/tickets/{ticket_id}", headers=auth_header("customer", "cust-9")).status_code == 404
    assert send(client, "GET", f"/tickets/{ticket_id}").status_code == 404
    assert send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": "halo"},
                auth_header("customer", "cust-9")).status_code == 404

    reply = send(client, "POST", f"/admin/tickets/{ticket_id}/messages", {"message": "Ada, stok XL tersedia."},
                 auth_header("staff"))
    assert reply.status_code == 201, reply.body
    emailed = [item for item in notifications.outbox(ticket_id) if item["event"] == "ticket_replied#2"]
    assert len(emailed) == 1 and emailed[0]["email"] == "sari@example.com"
    assert "stok XL tersedia" in emailed[0]["text"]
    assert send(client, "GET", f"/tickets/{ticket_id}", headers=me).status_code == 200


def test_only_customers_open_general_tickets(client: Any, auth_header: Any) -> None:
    body = {"category": "other", "message": "Halo"}
    assert send(client, "POST", "/tickets", body).status_code == 401
    assert send(client, "POST", "/tickets", body, auth_header("finance")).status_code == 403


def test_a_stranger_or_a_wrong_token_gets_404_and_nothing_is_opened(client: Any, auth_header: Any, aws: Any
                                                                    ) -> None:
    placed = delivered_order(client, auth_header)
    ticket_id = a_ticket(client, placed)
    before = snapshot(aws)
    body = {"category": "order", "message": "Halo"}
    order_path = f"/orders/{placed['order_id']}/tickets"
    assert send(client, "POST", order_path, body, auth_header("customer", "cust-9")).status_code == 404
    assert send(client, "POST", order_path, body, {"X-Order-Token": "nope"}).status_code == 404
    assert send(client, "GET", f"/tickets/{ticket_id}", headers={"X-Order-Token": "nope"}).status_code == 404
    assert send(client, "GET", f"/tickets/{ticket_id}", headers=auth_header("customer", "cust-9")).status_code == 404
    assert send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": "x"},
                {"X-Order-Token": "nope"}).status_code == 404
    assert send(client, "GET", "/tickets/TKT-261202-ZZZZZZZZ", headers=guest(placed)).status_code == 404
    assert snapshot(aws) == before


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"message": "Halo"}, 400, "category"),
    ({"category": "complaint", "message": "Halo"}, 400, "category"),
    ({"category": "order"}, 400, "message"),
    ({"category": "order", "message": "   "}, 400, "message"),
    ({"category": "order", "message": "x" * 4001}, 400, "message"),
    ({"category": "order", "message": 5}, 400, "message"),
    ({"category": "order", "message": "Halo", "attachments": [{"content_type": "image/gif"}]}, 400, "content_type"),
    ({"category": "order", "message": "Halo", "attachments": [{"content_type": "image/png"}] * 4}, 400,
     "attachments"),
    ({"category": "order", "message": "Halo", "attachments": [{"content_type": "image/png", "size": 1}]}, 400,
     "size"),
    ({"category": "order", "message": "Halo", "return_id": "TK-999999-ZZZZZZ-R1"}, 422, "return_not_of_order"),
    ({"category": "order", "message": "Halo", "return_id": "../x"}, 400, "return_id"),
    ({"category": "order", "message": "Halo", "priority": "high"}, 400, "priority"),
    ([1, 2], 400, "body"),
])
def test_a_bad_ticket_is_a_4xx_naming_the_problem_and_changes_nothing(
        client: Any, auth_header: Any, aws: Any, body: Any, status: int, field: str) -> None:
    create_product(client, auth_header("staff"), sku="BTK-O", stock=5, price=100_000)
    placed = place_order(client, "BTK-O", 1)  # a question may be about any order, unpaid too
    before = snapshot(aws)
    answer = open_as_guest(client, placed, body)
    assert answer.status_code == status, answer.body
    assert field in answer.body.decode()
    assert snapshot(aws) == before


def test_bad_messages_ratings_and_ids_change_nothing(client: Any, auth_header: Any, aws: Any) -> None:
    placed = delivered_order(client, auth_header)
    ticket_id = a_ticket(client, placed)
    before = snapshot(aws)
    staff = auth_header("staff")
    refused = [
        send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": ""}, guest(placed)),
        send(client, "POST", f"/tickets/{ticket_id}/messages", {"text": "Halo"}, guest(placed)),
        send(client, "POST", f"/tickets/{ticket_id}/rating", {"stars": 5}, guest(placed)),  # not resolved: 409
        send(client, "POST", f"/tickets/{ticket_id}/rating", {"stars": 6}, guest(placed)),
        send(client, "POST", f"/admin/tickets/{ticket_id}/messages", {"message": "x" * 4001}, staff),
        send(client, "POST", f"/admin/tickets/{ticket_id}/resolve", {"note": "done"}, staff),
        send(client, "POST", "/admin/tickets/TKT-bad/messages", {"message": "Halo"}, staff),
        send(client, "POST", "/admin/tickets/TKT-261202-ZZZZZZZZ/resolve", None, staff),
        send(client, "GET", "/admin/tickets?status=closed", headers=staff),
        send(client, "GET", "/admin/tickets?cursor=bm9wZQ", headers=staff),
        send(client, "GET", "/admin/tickets?limit=0", headers=staff),
    ]
    assert [answer.status_code for answer in refused] == [400, 400, 409, 400, 400, 400, 400, 404, 400, 400, 400]
    assert snapshot(aws) == before


def test_finance_and_customers_may_not_see_the_staff_queue(client: Any, auth_header: Any) -> None:
    assert send(client, "GET", "/admin/tickets", headers=auth_header("finance")).status_code == 403
    assert send(client, "GET", "/admin/tickets", headers=auth_header("customer", OWNER)).status_code == 403
    assert send(client, "GET", "/admin/tickets").status_code == 401
    assert send(client, "GET", "/admin/tickets", headers=auth_header("admin")).status_code == 200


def test_the_staff_queue_shows_the_longest_waiting_first_a_page_at_a_time(
        client: Any, auth_header: Any, at: Any) -> None:
    placed = delivered_order(client, auth_header)
    at("2026-12-02T03:00:00.000Z")
    first = a_ticket(client, placed, "Pertama")
    at("2026-12-02T04:00:00.000Z")
    second = a_ticket(client, placed, "Kedua")
    at("2026-12-02T05:00:00.000Z")
    third = a_ticket(client, placed, "Ketiga")
    staff = auth_header("staff")

    at("2026-12-02T06:00:00.000Z")  # staff answer the first: it waits for the customer now
    assert send(client, "POST", f"/admin/tickets/{first}/messages", {"message": "Sedang kami cek"},
                staff).status_code == 201
    at("2026-12-02T07:00:00.000Z")  # the customer answers: waiting again, since 07:00, behind the other two
    assert send(client, "POST", f"/tickets/{first}/messages", {"message": "Baik"}, guest(placed)).status_code == 201

    page = body_of(send(client, "GET", "/admin/tickets?status=open&limit=2", headers=staff))
    assert [item["ticket_id"] for item in page["items"]] == [second, third]
    rest = body_of(send(client, "GET", f"/admin/tickets?status=open&limit=2&cursor={page['next_cursor']}",
                        headers=staff))
    assert [item["ticket_id"] for item in rest["items"]] == [first]
    assert rest["next_cursor"] is None
    default = body_of(send(client, "GET", "/admin/tickets", headers=staff))
    assert [item["ticket_id"] for item in default["items"]] == [second, third, first]


def test_a_reply_notifies_the_customer_then_resolve_rating_once_and_a_reopen(
        client: Any, auth_header: Any, aws: Any, at: Any) -> None:
    placed = delivered_order(client, auth_header)
    order_id = placed["order_id"]
    at("2026-12-02T03:00:00.000Z")
    ticket_id = a_ticket(client, placed)
    staff = auth_header("staff", "staff-7")

    at("2026-12-02T03:30:00.000Z")
    reply = send(client, "POST", f"/admin/tickets/{ticket_id}/messages", {"message": "Paket sedang di kurir JNE."},
                 staff)
    assert reply.status_code == 201, reply.body
    replied = body_of(reply)
    assert (replied["status"], replied["first_response_seconds"]) == ("waiting_for_customer", 1800)
    assert replied["messages"][-1] == {"at": "2026-12-02T03:30:00.000Z", "author": "staff", "by": "staff-7",
                                       "text": "Paket sedang di kurir JNE.", "attachments": []}

    sent = queued(aws, "ticket_replied")
    assert len(sent) == 1 and sent[0]["key"] == f"{ticket_id}#2"
    assert sent[0]["extra"] == {"ticket_id": ticket_id, "reply": "Paket sedang di kurir JNE."}
    assert notifications.deliver(sent[0]) == "sent"
    told = [item for item in notifications.outbox(order_id) if item["event"] == "ticket_replied"]
    assert len(told) == 1 and "Paket sedang di kurir JNE." in told[0]["text"]
    assert told[0]["subject"].startswith("Balasan tim TokoKita")

    at("2026-12-02T04:00:00.000Z")
    resolved = send(client, "POST", f"/admin/tickets/{ticket_id}/resolve", None, staff)
    assert resolved.status_code == 200, resolved.body
    assert (body_of(resolved)["status"], body_of(resolved)["resolution_seconds"]) == ("resolved", 3600)
    assert send(client, "POST", f"/admin/tickets/{ticket_id}/messages", {"message": "x"}, staff).status_code == 409

    rating = send(client, "POST", f"/tickets/{ticket_id}/rating", {"stars": 5, "comment": "Cepat sekali"},
                  guest(placed))
    assert rating.status_code == 200, rating.body
    assert body_of(rating)["rating"]["stars"] == 5
    again = send(client, "POST", f"/tickets/{ticket_id}/rating", {"stars": 1}, guest(placed))
    assert again.status_code == 409 and "ticket_rated" in again.body.decode()

    at("2026-12-03T04:00:00.000Z")  # a day later the customer writes again: reopened
    reopened = send(client, "POST", f"/tickets/{ticket_id}/messages",
                    {"message": "Ternyata isinya kurang satu", "attachments": [{"content_type": "image/png"}]},
                    guest(placed))
    assert reopened.status_code == 201, reopened.body
    data = body_of(reopened)
    assert (data["status"], data["reopened"], data["resolution_seconds"], data["rating"]["stars"]) == (
        "open", 1, None, 5)
    assert data["attachment_uploads"][0]["key"] == f"tickets/{ticket_id}/message-3-1.png"

    at("2026-12-03T04:15:00.000Z")
    final = body_of(send(client, "POST", f"/admin/tickets/{ticket_id}/resolve", None, staff))
    assert final["resolution_seconds"] == 3600 + 900  # the day it sat resolved is not counted
    assert final["first_response_seconds"] == 1800
    stored = tickets.get(ticket_id)
    assert stored is not None and stored.version == 6 and len(stored.messages) == 3


def test_concurrent_customer_messages_are_all_kept(client: Any, auth_header: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A save that loses the version race decides again on a fresh read: no message is lost."""
    placed = delivered_order(client, auth_header)
    ticket_id = a_ticket(client, placed)
    real_save = tickets.save
    raced: list[bool] = []

    def save_after_a_rival(before: Any, after: Any) -> bool:
        if not raced:  # someone else posts between our read and our save
            raced.append(True)
            assert send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": "Pesan pesaing"},
                        guest(placed)).status_code == 201
        return real_save(before, after)

    monkeypatch.setattr(tickets, "save", save_after_a_rival)
    answer = send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": "Pesan saya"}, guest(placed))
    assert answer.status_code == 201, answer.body
    stored = tickets.get(ticket_id)
    assert stored is not None
    assert [message.text for message in stored.messages] == ["Paket saya belum sampai", "Pesan pesaing",
                                                              "Pesan saya"]


def test_a_ticket_past_200_messages_is_refused_with_409(client: Any, auth_header: Any, aws: Any) -> None:
    placed = delivered_order(client, auth_header)
    ticket_id = a_ticket(client, placed)
    from dataclasses import replace

    from chalicelib.tickets.domain import TicketMessage

    current = tickets.get(ticket_id)
    assert current is not None
    filler = tuple(TicketMessage(at=current.created_at, author="customer", by="guest", text=f"#{n}")
                   for n in range(199))
    assert tickets.save(current, replace(current, messages=current.messages + filler, version=current.version + 1))
    before = snapshot(aws)
    answer = send(client, "POST", f"/tickets/{ticket_id}/messages", {"message": "lagi"}, guest(placed))
    assert answer.status_code == 409 and "ticket_full" in answer.body.decode()
    assert snapshot(aws) == before
