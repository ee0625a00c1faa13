"""Uploads over HTTP go through the sandbox: a hostile file is a ``rejected`` entry naming the
limit, and a normal upload is answered promptly while hostile ones are still being read."""

from __future__ import annotations

import threading
import time

import httpx

from tests import hostile
from tests.api.conftest import OFD_WUXI, Server


def _post(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/api/v1/invoices", files=[("files", (name, data, "application/octet-stream"))])


def test_hostile_uploads_do_not_hold_up_a_normal_one(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    _post(clerk, "warm-up.txt", b"not an invoice")  # the pool has started
    slow = hostile.ofd_many_references()
    bomb = hostile.pdf_bomb()
    answers: dict[str, httpx.Response] = {}
    started: dict[str, float] = {}
    took: dict[str, float] = {}

    def upload(name: str, data: bytes) -> None:
        c = server.client(clerk.headers["Authorization"].split()[1])
        started[name] = time.monotonic()
        answers[name] = _post(c, name, data)
        took[name] = time.monotonic() - started[name]

    hostile_threads = [threading.Thread(target=upload, args=(f"slow{i}.ofd", slow)) for i in range(2)]
    hostile_threads.append(threading.Thread(target=upload, args=("bomb.pdf", bomb)))
    for t in hostile_threads:
        t.start()
    time.sleep(1.5)
    upload(OFD_WUXI.name, OFD_WUXI.read_bytes())
    for t in hostile_threads:
        t.join()

    normal = answers[OFD_WUXI.name]
    assert normal.status_code == 200 and len(normal.json()["imported"]) == 1, normal.text
    assert took[OFD_WUXI.name] < 2.0, took
    for name in ("slow0.ofd", "slow1.ofd", "bomb.pdf"):
        r = answers[name]
        # the wall limit (9 s) plus HTTP and the kill; the bound is 10 s
        assert r.status_code == 200 and took[name] < 11, (name, took[name], r.text)
        body = r.json()
        assert body["imported"] == [] and len(body["rejected"]) == 1, body
    (bomb_entry,) = answers["bomb.pdf"].json()["rejected"]
    assert bomb_entry["error"]["code"] == "too_complex" and bomb_entry["error"]["limit"] in ("memory", "crash")
    assert "bomb.pdf" in bomb_entry["error"]["message"] and "FAPIAO_SANDBOX_MEMORY_MB" in bomb_entry["error"]["message"]
