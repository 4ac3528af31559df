"""One web server per node process, the OpenAPI documents, and the hub's pages: sign-in with a
server-side session, CSRF on the forms, security headers."""
import base64
import hashlib
import re

import pytest
import requests
from openapi_spec_validator import validate

from rehsos import auth
from tests.support import case_body, wait_until


@pytest.fixture
def province(shared_province):
    return shared_province(["6371"])


def test_every_request_reaches_its_own_service_when_services_share_the_node_port(province):
    # Three services run in the node process; nameko alone would let the kernel pick one at random.
    url = province.url("6371", "/api/v1/cases")
    statuses = {requests.post(url, json={}, headers=province.headers("6371", auth.OPERATOR), timeout=5).status_code
                for _ in range(40)}
    assert statuses == {422}
    health = requests.get(province.url("6371", "/api/v1/health"), timeout=5).json()
    assert (health["status"], health["node"], health["services"]) == ("ok", "6371", ["facilities", "intake", "training"])


@pytest.mark.parametrize("name,path", [("6371", "/api/v1/cases"), ("6371", "/api/v1/trainings/{event_id}/attendance/batch"),
                                       ("hub", "/api/v1/summary"), ("hub", "/api/v1/training")])
def test_node_and_hub_serve_a_valid_openapi_3_document_generated_from_their_schemas(province, name, path):
    resp = requests.get(province.url(name, "/api/v1/openapi.json"), timeout=5)
    assert resp.status_code == 200
    spec = resp.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    assert path in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/" not in spec["paths"]  # pages are not API


def test_the_openapi_document_describes_the_registration_schema_and_its_errors(province):
    spec = requests.get(province.url("6371", "/api/v1/openapi.json"), timeout=5).json()
    post = spec["paths"]["/api/v1/cases"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) == {"category", "name", "sex", "regency", "kecamatan"}
    assert {"birth_date", "estimated_age", "nik", "guardian_name"} <= set(schema["properties"])
    assert len(schema["properties"]["category"]["enum"]) == 26
    assert {"201", "400", "401", "403", "409", "422"} <= set(post["responses"])
    assert "/api/v1/cases/{case_id}" in spec["paths"]


def sign_in_form(browser, province) -> str:
    """Open the sign-in page; returns the CSRF token of its form (its cookie is in ``browser``)."""
    page = browser.get(province.url("hub", "/masuk"), timeout=5)
    assert page.status_code == 200
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def sign_in(browser, province, token) -> requests.Response:
    csrf = sign_in_form(browser, province)
    return browser.post(province.url("hub", "/masuk"), data={"csrf": csrf, "token": token}, timeout=5)


def test_the_hub_dashboard_asks_for_sign_in_then_shows_counts_in_indonesian(province):
    cases = province.hub_cases() + 1
    assert province.register("6371", case_body(nik=None)).status_code == 201
    wait_until(lambda: province.hub_cases() == cases, message="case at the hub")
    hub = province.url("hub", "/")
    anonymous = requests.get(hub, allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"

    browser = requests.Session()
    refused = sign_in(browser, province, "salah")
    assert refused.status_code == 401 and "Token akses tidak valid" in refused.text
    signed_in = sign_in(browser, province, province.tokens["hub"][auth.ANALYST])
    assert signed_in.status_code == 200
    page = signed_in.text
    assert '<html lang="id">' in page
    assert "Kasus per kabupaten/kota" in page and "Kota Banjarmasin" in page and "Tuna Sosial" in page
    assert f"Jumlah kasus terdaftar: <b>{cases}</b>" in page
    assert "Muhammad" not in page


def test_signing_in_needs_the_forms_csrf_token(province):
    browser = requests.Session()
    token = province.tokens["hub"][auth.ANALYST]
    no_form = browser.post(province.url("hub", "/masuk"), data={"token": token}, allow_redirects=False, timeout=5)
    assert no_form.status_code == 403 and "Formulir masuk tidak sah" in no_form.text
    assert "rehsos_session" not in browser.cookies
    # A form from elsewhere: the right cookie name with another value than the form's.
    sign_in_form(browser, province)
    forged = browser.post(province.url("hub", "/masuk"), data={"token": token, "csrf": "dari-situs-lain"},
                          allow_redirects=False, timeout=5)
    assert forged.status_code == 403 and "rehsos_session" not in browser.cookies


def test_the_browser_holds_a_session_id_not_the_token_and_sign_out_ends_the_session(province):
    browser = requests.Session()
    token = province.tokens["hub"][auth.ADMIN]
    csrf = sign_in_form(browser, province)
    signed_in = browser.post(province.url("hub", "/masuk"), data={"csrf": csrf, "token": token},
                             allow_redirects=False, timeout=5)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
    cookie = next(h for h in signed_in.raw.headers.getlist("Set-Cookie") if h.startswith("rehsos_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie  # plain http here
    session_id = browser.cookies["rehsos_session"]
    assert token not in session_id and token not in str(browser.cookies.values())

    dashboard = browser.get(province.url("hub", "/"), allow_redirects=False, timeout=5)
    assert dashboard.status_code == 200
    sign_out_csrf = re.search(r'action="/keluar">.*?name="csrf" value="([^"]+)"', dashboard.text).group(1)
    assert browser.get(province.url("hub", "/keluar"), allow_redirects=False, timeout=5).status_code == 405
    forged = browser.post(province.url("hub", "/keluar"), data={"csrf": "palsu"}, allow_redirects=False, timeout=5)
    assert forged.status_code == 403
    assert browser.get(province.url("hub", "/"), allow_redirects=False, timeout=5).status_code == 200

    out = browser.post(province.url("hub", "/keluar"), data={"csrf": sign_out_csrf}, allow_redirects=False,
                       timeout=5)
    assert out.status_code == 303 and out.headers["Location"] == "/masuk"
    # The old cookie, replayed, opens nothing: the session ended on the server.
    replayed = requests.get(province.url("hub", "/"), cookies={"rehsos_session": session_id},
                            allow_redirects=False, timeout=5)
    assert replayed.status_code == 303 and replayed.headers["Location"] == "/masuk"


def test_pages_and_answers_carry_a_content_security_policy_and_no_sniffing_or_framing(province):
    browser = requests.Session()
    page = sign_in(browser, province, province.tokens["hub"][auth.ANALYST])
    summary = requests.get(province.url("hub", "/api/v1/summary"), headers=province.headers("hub", auth.ANALYST),
                           timeout=5)
    missing = requests.get(province.url("6371", "/api/v1/nothing"), timeout=5)
    for resp in (page, summary, missing):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        policy = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "script-src" not in policy
    style = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text


def test_the_summary_is_for_hub_analysts_and_admins_only(province):
    url = province.url("hub", "/api/v1/summary")
    assert requests.get(url, timeout=5).status_code == 401
    node_token = {"Authorization": f"Bearer {province.tokens['6371'][auth.ADMIN]}"}
    assert requests.get(url, headers=node_token, timeout=5).status_code == 403  # a node token, not the hub's
    assert requests.get(url, headers=province.headers("hub", auth.ADMIN), timeout=5).status_code == 200
