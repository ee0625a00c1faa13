"""Uploads over HTTP go through the sandbox: a hostile file is answered within the issue's bound
(10 s), refused by a reader's cap with the limit named or read in linear time, and a normal
upload is answered promptly while hostile ones are still being read.

Since the parser caps were merged the readers answer the former worst cases themselves (README,
"Hostile files"): the PDF bomb is refused by the stream cap before anything inflates it, and the
OFD whose signature lists one 50 MB member 400 times is judged before any hashing. What still
keeps a worker busy for seconds is a page of 100,000 text objects; two of those hold the warm
workers while the normal upload arrives.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests import hostile
from tests.api.conftest import OFD_WUXI, Server

BUSY = ("objects0.ofd", "objects1.ofd")


def _post(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/api/v1/invoices", files=[("files", (name, data, "application/octet-stream"))])


def test_hostile_uploads_do_not_hold_up_a_normal_one(server: Server) -> None:
    clerk, _ = server.as_role("clerk")
    _post(clerk, "warm-up.txt", b"not an invoice")  # the pool has started
    busy = hostile.ofd_many_objects()
    uploads = {BUSY[0]: busy, BUSY[1]: busy, "refs.ofd": hostile.ofd_many_references(),
               "bomb.pdf": hostile.pdf_bomb()}
    answers: dict[str, httpx.Response] = {}
    done: dict[str, float] = {}
    took: dict[str, float] = {}

    def upload(name: str, data: bytes) -> None:
        c = server.client(clerk.headers["Authorization"].split()[1])
        start = time.monotonic()
        answers[name] = _post(c, name, data)
        done[name] = time.monotonic()
        took[name] = done[name] - start

    hostile_threads = [threading.Thread(target=upload, args=item) for item in uploads.items()]
    for t in hostile_threads:
        t.start()
    time.sleep(0.5)  # the hostile files are in the workers
    upload(OFD_WUXI.name, OFD_WUXI.read_bytes())
    for t in hostile_threads:
        t.join()

    normal = answers[OFD_WUXI.name]
    assert normal.status_code == 200 and len(normal.json()["imported"]) == 1, normal.text
    assert took[OFD_WUXI.name] < 2.0, took
    # the premise: the busy uploads were still being read when the normal one was answered
    assert all(done[name] > done[OFD_WUXI.name] for name in BUSY), took
    for name in uploads:
        assert answers[name].status_code == 200 and took[name] < 10, (name, took[name], answers[name].text)

    # the page of 100,000 objects is read (layout is linear); the second copy is a duplicate
    bodies = [answers[name].json() for name in BUSY]
    assert all(b["rejected"] == [] and len(b["imported"]) + len(b["duplicates"]) == 1 for b in bodies), bodies
    assert sum(len(b["imported"]) for b in bodies) == 1, bodies

    # 400 references to one member: refused before hashing (references_too_many), so the
    # signature is not valid and the invoice is registered as invalid
    refs = answers["refs.ofd"].json()
    assert refs["rejected"] == [] and [e["status"] for e in refs["imported"]] == ["invalid"], refs

    bomb = answers["bomb.pdf"].json()
    assert bomb["imported"] == [] and len(bomb["rejected"]) == 1, bomb
    (err,) = [e["error"] for e in bomb["rejected"]]
    assert err["code"] == "too_complex" and err["limit"] == "pdf_stream", err
    assert "bomb.pdf" in err["message"] and "FAPIAO_MAX_PDF_STREAM_BYTES" in err["message"], err
