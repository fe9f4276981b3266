"""The health check: 200 "ok" as plain text, without touching the database."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse


@pytest.mark.django_db
def test_healthz_answers_ok_as_plain_text_without_a_query(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]
    assert len(queries) == 0


def test_healthz_answers_head_and_refuses_post(client):
    assert client.head("/healthz/").status_code == 200
    assert client.post("/healthz/").status_code == 405
