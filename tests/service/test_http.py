"""One web server per node process, the OpenAPI documents, and the hub's pages."""
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
    assert health == {"status": "ok", "node": "6371", "services": ["facilities", "intake", "training"]}


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


def test_the_hub_dashboard_asks_for_sign_in_then_shows_counts_in_indonesian(province):
    cases = province.hub_cases() + 1
    assert province.register("6371", case_body(nik=None)).status_code == 201
    wait_until(lambda: province.hub_cases() == cases, message="case at the hub")
    hub = province.url("hub", "/")
    anonymous = requests.get(hub, allow_redirects=False, timeout=5)
    assert anonymous.status_code == 303 and anonymous.headers["Location"] == "/masuk"

    session = requests.Session()
    refused = session.post(province.url("hub", "/masuk"), data={"token": "salah"}, timeout=5)
    assert refused.status_code == 401 and "Token akses tidak valid" in refused.text
    signed_in = session.post(province.url("hub", "/masuk"), data={"token": province.tokens["hub"][auth.ANALYST]},
                             timeout=5)
    assert signed_in.status_code == 200
    page = signed_in.text
    assert '<html lang="id">' in page
    assert "Kasus per kabupaten/kota" in page and "Kota Banjarmasin" in page and "Tuna Sosial" in page
    assert f"Jumlah kasus terdaftar: <b>{cases}</b>" in page
    assert "Muhammad" not in page


def test_the_summary_is_for_hub_analysts_and_admins_only(province):
    url = province.url("hub", "/api/v1/summary")
    assert requests.get(url, timeout=5).status_code == 401
    node_token = {"Authorization": f"Bearer {province.tokens['6371'][auth.ADMIN]}"}
    assert requests.get(url, headers=node_token, timeout=5).status_code == 403  # a node token, not the hub's
    assert requests.get(url, headers=province.headers("hub", auth.ADMIN), timeout=5).status_code == 200
