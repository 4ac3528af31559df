"""The event envelope and the case.opened contract (rehsos/contracts)."""
import json
import uuid

import pytest

from rehsos.contracts import InvalidEvent, make_event, parse_event, payload_schema, routing_key


def payload(**changes):
    body = {
        "case_id": "5f0c8a3e-1f7e-4d0a-9a55-3c8f0f6c2b11",
        "person_key": "ab" * 32,
        "age_band": "30-34",
        "sex": "female",
        "category": "gelandangan",
        "region": "6371",
        "stage": "pendekatan_awal",
    }
    body.update(changes)
    return body


def event(**payload_changes):
    return make_event("case.opened", payload(**payload_changes), node="6371", service="intake").with_sequence(7)


def wire(**envelope_changes):
    """A valid raw message as a dict, with envelope fields changed or (value ``...``) removed."""
    data = json.loads(event().to_json())
    for key, value in envelope_changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return data


def reasons(data):
    with pytest.raises(InvalidEvent) as info:
        parse_event(json.dumps(data))
    return info.value.details


# -- round trip ------------------------------------------------------------------------------------
def test_event_survives_to_json_and_parse_event_unchanged():
    original = event()
    parsed = parse_event(original.to_json())
    assert parsed == original
    assert isinstance(parsed.event_id, uuid.UUID)
    assert parsed.occurred_at.utcoffset() is not None


def test_parse_event_accepts_bytes():
    original = event()
    assert parse_event(original.to_json().encode()) == original


# -- parse_event refuses ---------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", "", "{"])
def test_parse_event_refuses_a_body_that_is_not_json(body):
    with pytest.raises(InvalidEvent, match="not JSON"):
        parse_event(body)


@pytest.mark.parametrize("body", ["[]", "[1, 2]", '"case.opened"', "42", "null"])
def test_parse_event_refuses_json_that_is_not_an_object(body):
    with pytest.raises(InvalidEvent, match="not a JSON object"):
        parse_event(body)


@pytest.mark.parametrize("field", [
    "event_id", "event_type", "schema_version", "node", "service", "sequence", "occurred_at", "payload",
])
def test_parse_event_refuses_a_missing_envelope_field(field):
    assert reasons(wire(**{field: ...}))[field] == ["Wajib diisi."]


def test_parse_event_refuses_an_unknown_event_type():
    assert reasons(wire(event_type="case.deleted")) == {"event_type": ["Jenis event tidak dikenal."]}


def test_parse_event_refuses_an_unknown_schema_version():
    assert reasons(wire(schema_version=2)) == {"schema_version": ["Versi skema event tidak dikenal."]}


def test_parse_event_refuses_sequence_zero():
    assert list(reasons(wire(sequence=0))) == ["sequence"]


def test_parse_event_refuses_an_unknown_node():
    assert reasons(wire(node="9999")) == {"node": ["Node tidak dikenal."]}


def test_parse_event_refuses_a_naive_occurred_at():
    assert reasons(wire(occurred_at="2024-09-26T08:00:00")) == {
        "occurred_at": ["Waktu harus menyertakan zona waktu."]}


def test_parse_event_refuses_an_unknown_envelope_field():
    assert reasons(wire(sender="6371")) == {"sender": ["Kolom tidak dikenal."]}


def test_parse_event_checks_the_payload_against_its_contract():
    data = wire()
    data["payload"]["region"] = "63"
    assert list(reasons(data)) == ["payload"]
    assert list(reasons(data)["payload"]) == ["region"]


# -- the case.opened payload -------------------------------------------------------------------
@pytest.mark.parametrize("field, value", [
    ("name", "Budi Santoso"),
    ("nik", "6371011505900001"),
    ("birth_date", "1990-05-15"),
    ("address", "Jl. Pramuka, Banjarmasin"),
])
def test_case_opened_payload_refuses_personal_data(field, value):
    errors = payload_schema("case.opened", 1).validate(payload(**{field: value}))
    assert errors == {field: ["Kolom tidak dikenal."]}


@pytest.mark.parametrize("field", ["name", "nik"])
def test_consumer_refuses_an_event_carrying_personal_data(field):
    data = wire()
    data["payload"][field] = "6371011505900001"
    assert reasons(data) == {"payload": {field: ["Kolom tidak dikenal."]}}


def test_case_opened_region_must_be_a_regency_not_the_province():
    errors = payload_schema("case.opened", 1).validate(payload(region="63"))
    assert list(errors) == ["region"]


@pytest.mark.parametrize("category", ["tunawisma", "GELANDANGAN", ""])
def test_case_opened_refuses_an_unknown_category(category):
    errors = payload_schema("case.opened", 1).validate(payload(category=category))
    assert list(errors) == ["category"]


def test_valid_case_opened_payload_has_no_errors():
    assert payload_schema("case.opened", 1).validate(payload()) == {}


# -- make_event ------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes", [
    {"region": "63"},
    {"category": "tunawisma"},
    {"person_key": "6371011505900001"},
    {"age_band": "33"},
    {"case_id": "not-a-uuid"},
], ids=lambda c: next(iter(c)))
def test_make_event_raises_value_error_on_a_payload_that_breaks_the_contract(changes):
    with pytest.raises(ValueError, match="does not match its contract"):
        make_event("case.opened", payload(**changes), node="6371", service="intake")


def test_make_event_raises_value_error_on_a_missing_payload_field():
    body = payload()
    del body["sex"]
    with pytest.raises(ValueError, match="sex"):
        make_event("case.opened", body, node="6371", service="intake")


@pytest.mark.parametrize("field", ["name", "nik"])
def test_make_event_refuses_personal_data_in_the_payload_instead_of_dropping_it(field):
    with pytest.raises(ValueError, match=field):
        make_event("case.opened", payload(**{field: "6371011505900001"}), node="6371", service="intake")


def test_make_event_uses_the_latest_schema_version_and_has_no_sequence_yet():
    made = make_event("case.opened", payload(), node="6371", service="intake")
    assert made.schema_version == 1
    assert made.sequence is None
    assert made.payload == payload()


# -- routing ---------------------------------------------------------------------------------------
def test_routing_key_without_target_is_node_service_event_type():
    assert routing_key(event()) == "6371.intake.case.opened"


def test_routing_key_with_target_ends_in_to_target():
    assert routing_key(event(), "63") == "6371.intake.case.opened.to.63"
    assert routing_key(event(), "all") == "6371.intake.case.opened.to.all"


def test_a_refusal_says_why_as_a_code_and_version_1_with_its_text_is_still_read():
    """``referral.rejected`` reaches the hub: v2 has no free text a name could be typed into."""
    answer = {"referral_id": str(uuid.uuid4()), "case_id": str(uuid.uuid4()), "referring_node": "6371",
              "facility_id": "prsts-barakat"}
    event = make_event("referral.rejected", {**answer, "reason_code": "no_bed"}, node="63", service="facilities")
    assert event.schema_version == 2 and set(event.payload) == set(answer) | {"reason_code"}
    assert set(payload_schema("referral.rejected", 2).validate({**answer, "reason_code": "no_bed",
                                                                "reason": "Budi"})) == {"reason"}
    assert "reason_code" in payload_schema("referral.rejected", 2).validate({**answer, "reason_code": "penuh"})
    old = make_event("referral.rejected", {**answer, "reason": "Penuh"}, node="63", service="facilities",
                     schema_version=1).with_sequence(3)
    assert parse_event(old.to_json()).payload["reason"] == "Penuh"


def test_the_referring_office_reads_why_a_referral_was_refused_in_words():
    from intake.pages import timeline_text
    assert timeline_text("referral_rejected", {"facility_id": "prsts", "reason_code": "no_bed"}) == \
        "Rujukan ditolak oleh prsts: Tidak ada tempat tidur kosong"
    assert timeline_text("referral_rejected", {"facility_id": "prsts", "reason": "Penuh"}) == \
        "Rujukan ditolak oleh prsts: Penuh"  # v1, from a node not upgraded yet
