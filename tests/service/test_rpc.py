"""The same API over nameko RPC on the node's broker: same auth, schemas and answers."""
import json

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy

from rehsos import auth
from tests.support import case_body

NODE = "6371"


@pytest.fixture
def node(shared_province):
    return shared_province([NODE], start_hub=False)


@pytest.fixture
def rpc(node):
    with ClusterRpcProxy({"AMQP_URI": node.node_amqp(NODE)}, timeout=10) as proxy:
        yield proxy


def error_of(exc_info) -> dict:
    return json.loads(exc_info.value.value)["error"]


def test_a_case_registered_over_rpc_reads_back_like_over_http(node, rpc):
    token = node.tokens[NODE][auth.OPERATOR]
    before = rpc.intake.search_cases(token=token, query={"category": "gelandangan"})["total"]
    created = rpc.intake.register_case(token=token, data=case_body(), purpose="pendaftaran lewat RPC")
    assert created["person"]["name"] == "Muhammad Rizky"
    assert rpc.intake.get_case(token=token, case_id=created["id"]) == created
    page = rpc.intake.search_cases(token=token, query={"category": "gelandangan"})
    assert page["total"] == before + 1


def test_rpc_refusals_carry_the_http_error_body(node, rpc):
    token = node.tokens[NODE][auth.OPERATOR]
    before = node.count(NODE, "intake", "person")
    with pytest.raises(RemoteError) as missing_token:
        rpc.intake.register_case(data=case_body())
    assert error_of(missing_token)["status"] == 401
    with pytest.raises(RemoteError) as wrong_role:
        rpc.intake.register_case(token=node.tokens[NODE][auth.TRAINER], data=case_body())
    assert error_of(wrong_role)["status"] == 403
    with pytest.raises(RemoteError) as invalid:
        rpc.intake.register_case(token=token, data={**case_body(), "category": "preman"})
    assert error_of(invalid)["status"] == 422 and "category" in error_of(invalid)["fields"]
    with pytest.raises(RemoteError) as unknown:
        rpc.intake.get_case(token=token, case_id="00000000-0000-0000-0000-000000000000")
    assert error_of(unknown)["status"] == 404
    assert node.count(NODE, "intake", "person") == before


def test_a_page_session_stands_in_for_the_token_with_its_roles_and_ends_with_it(node, rpc):
    """How one service's page calls another service of its node for the person signed in."""
    from tests.page_client import PageClient

    person = PageClient(node, NODE)
    person.sign_in(auth.FACILITY_MANAGER)
    session = person.http.cookies["rehsos_session"]
    answers = rpc.facilities.find_beds(session=session, query={"category": "gelandangan", "sex": "male"})
    assert isinstance(answers, list)
    with pytest.raises(RemoteError) as refused:  # a facility manager does not read cases
        rpc.intake.search_cases(session=session, query={})
    assert error_of(refused)["status"] == 403
    person.submit("/keluar", {}, page="/")
    with pytest.raises(RemoteError) as ended:
        rpc.facilities.find_beds(session=session, query={"category": "gelandangan", "sex": "male"})
    assert error_of(ended)["status"] == 401 and "Sesi halaman sudah berakhir" in error_of(ended)["message"]
