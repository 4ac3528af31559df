"""Bounded input everywhere: every field of every API schema and every event contract has a bound,
no string is allowed longer than the column it lands in, and the kernel's fields refuse what a
database cannot hold (NUL, lone surrogates, out-of-range integers and times) before it gets there."""
from __future__ import annotations

import json
import random
import re
from re import _parser as regex_parser

import pytest
from marshmallow import Schema, fields as ma, validate

from facilities import models as fm, schemas as fs
from intake import models as im, schemas as ins
from intake.domain.common import name_key
from rehsos import registry
from rehsos.api.http import ApiEntrypoint
from rehsos.contracts import InvalidEvent, envelope, events as ev, fields as f, jsontext, parse_event
from rehsos.privacy import nik_problem
from reporting import models as rm, schemas as rs
from training import models as tm, schemas as ts
from training.domain.common import fold_name


def _api_schemas() -> set[type[Schema]]:
    """The body and query schemas of every ``@api`` route of every service."""
    found = set()
    for spec in registry.SERVICES:
        for member in vars(spec.load()).values():
            for entrypoint in getattr(member, "nameko_entrypoints", ()):
                if isinstance(entrypoint, ApiEntrypoint):
                    found |= {s for s in (entrypoint.body_schema, entrypoint.query_schema) if s is not None}
    return found


CONTRACTS = set(ev.PAYLOAD_SCHEMAS.values()) | {envelope.EventSchema}


def _walk(schema: type[Schema], seen=None):
    """(schema, name, field) for every field a schema loads, nested schemas included; a field's
    inner fields (list items, dict keys and values) come under the field's own name."""
    seen = set() if seen is None else seen
    if schema in seen:
        return
    seen.add(schema)
    for name, field in schema().load_fields.items():
        yield from _walk_field(schema, name, field, seen)


def _walk_field(schema, name, field, seen):
    yield schema, name, field
    if isinstance(field, ma.Nested):
        yield from _walk(type(field.schema), seen)
    elif isinstance(field, ma.List):
        yield from _walk_field(schema, name, field.inner, seen)
    elif isinstance(field, ma.Dict):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                yield from _walk_field(schema, name, inner, seen)


def _pattern_width(validator) -> int | None:
    """The longest text an anchored ``^...$`` pattern matches, if it has a longest."""
    pattern = validator.regex.pattern
    if not (pattern.startswith("^") and pattern.endswith("$")):
        return None
    longest = regex_parser.parse(pattern).getwidth()[1]
    return None if longest >= regex_parser.MAXREPEAT else longest


def max_length(field) -> int | None:
    """The longest text a string field accepts, from its validators."""
    bounds = []
    for v in field.validators:
        if isinstance(v, validate.Length) and (v.equal or v.max) is not None:
            bounds.append(v.equal or v.max)
        elif isinstance(v, validate.OneOf):
            bounds.append(max(len(str(c)) for c in v.choices))
        elif isinstance(v, validate.Equal):
            bounds.append(len(str(v.comparable)))
        elif isinstance(v, validate.Regexp) and _pattern_width(v) is not None:
            bounds.append(_pattern_width(v))
    return min(bounds) if bounds else None


def _ranged(field) -> bool:
    return any(isinstance(v, validate.Range) and v.min is not None and v.max is not None for v in field.validators)


def _sized(field) -> bool:
    return any(isinstance(v, validate.Length) and (v.max is not None or v.equal is not None)
               for v in field.validators)


def unbounded(field) -> str | None:
    if isinstance(field, ma.String) and not isinstance(field, ma.UUID) and max_length(field) is None:
        return "text without a maximum length"
    if isinstance(field, ma.Number) and not _ranged(field):
        return "number without a range"
    if isinstance(field, (ma.List, ma.Dict)) and not _sized(field):
        return "collection without a maximum size"
    if isinstance(field, ma.Dict) and (field.key_field is None or field.value_field is None):
        return "dict with unchecked keys or values"
    return None


def _every_input_field():
    seen: set = set()
    for schema in sorted(_api_schemas() | CONTRACTS, key=lambda s: s.__qualname__):
        yield from _walk(schema, seen)


def test_every_field_of_every_api_schema_and_event_contract_has_a_bound():
    problems = [f"{schema.__module__}.{schema.__qualname__}.{name}: {why}"
                for schema, name, field in _every_input_field() if (why := unbounded(field))]
    assert not problems, "\n".join(problems)


# -- strings against the columns they land in ------------------------------------------------------
# Every schema that loads input (nested ones too), and the tables its fields are written to; a
# field is held against the column of the same name there. Queries and lookups land nowhere.
LANDS_IN: dict[type[Schema], tuple] = {
    ins.PersonRegistrationSchema: (im.Person,), ins.PersonUpdateSchema: (im.Person,),
    ins.CaseRegistrationSchema: (im.Person, im.Case), ins.CaseOpenSchema: (im.Case,), ins.NikSchema: (im.Person,),
    ins.DuplicateDecisionSchema: (im.DuplicateReview,), ins.ConsentSchema: (im.Consent,),
    ins.ConsentWithdrawalSchema: (im.Consent,), ins.StageChangeSchema: (im.Case,),
    ins.AssessmentSchema: (im.Assessment,), ins.PlanSchema: (im.InterventionPlan,),
    ins.ServiceSchema: (im.ServiceDelivery,), ins.ClosureRequestSchema: (im.Case,),
    ins.ClosureDecisionSchema: (), ins.ReopenSchema: (), ins.ReferralSchema: (im.Referral,),
    ins.CaseSearchSchema: (), ins.AuditQuerySchema: (),
    fs.FacilityRegistrationSchema: (fm.Facility,), fs.FacilityUpdateSchema: (fm.Facility,),
    fs.UnitSchema: (fm.FacilityUnit,), fs.FacilityQuerySchema: (), fs.AcceptSchema: (fm.ReferralRequest,),
    fs.RejectSchema: (fm.ReferralRequest,), fs.WaitlistSchema: (), fs.AdmissionSchema: (fm.ReferralRequest,),
    fs.DischargeSchema: (fm.ReferralRequest,), fs.ReferralQuerySchema: (), fs.DirectoryQuerySchema: (),
    fs.CentrePlanSchema: (fm.CentrePlan,), fs.CentrePlanUpdateSchema: (fm.CentrePlan,),
    rs.CapacityPlanQuerySchema: (), rs.FiguresQuerySchema: (), rs.PlaceQuerySchema: (), rs.ReferralFlowQuerySchema: (),
    rs.TrainingQuerySchema: (), rs.MonthlyReportQuerySchema: (),
    ts.TrainingEventSchema: (tm.TrainingEvent,), ts.TrainingEventUpdateSchema: (tm.TrainingEvent,),
    ts.RegencyQuotaSchema: (tm.RegencyQuota,), ts.StatusChangeSchema: (tm.TrainingEvent,),
    ts.SpeakerSchema: (tm.Speaker,), ts.AgendaSessionSchema: (tm.AgendaSession,),
    ts.ParticipantSchema: (tm.Participant, tm.Nomination), ts.ParticipantQuerySchema: (),
    ts.EventQuerySchema: (), ts.CheckInSchema: (), ts.AttendanceBatchSchema: (), ts._BatchRow: (),
    ts.ScoresSchema: (tm.Participant,), ts.FeedbackSchema: (tm.Feedback,), ts.RevocationSchema: (),
    ts.NominationQuerySchema: (),
    # event contracts, by where their consumers keep them
    ev.PersonRegisteredV1: (rm.PersonPresence,), ev.PersonIdentifiedV1: (rm.PersonPresence, rm.RegisteredCase),
    ev.CaseOpenedV1: (rm.RegisteredCase,), ev.CaseStageChangedV1: (), ev.AssessmentCompletedV1: (),
    ev.ReferralRequestedV1: (rm.ReferralStatus, rm.ReferralTimeline, fm.ReferralRequest),
    ev.ReferralDossierSentV1: (fm.ReferralDossier,), ev.ReferralDossierWithdrawnV1: (),
    ev.CaseClosedV1: (rm.RegisteredCase,),
    ev.CaseReopenedV1: (rm.RegisteredCase,), ev.ConsentWithdrawnV1: (),
    ev.PersonDuplicateDetectedV1: (im.CrossNodeMatch,),
    **dict.fromkeys((ev.ReferralAcceptedV1, ev.ReferralRejectedV1, ev.ReferralRejectedV2, ev.ReferralWaitlistedV1,
                     ev.AdmissionRecordedV1, ev.DischargeRecordedV1), (rm.ReferralStatus, rm.ReferralTimeline, im.Referral)),
    ev.FacilityV1: (), ev._Unit: (), ev.CapacityChangedV1: (rm.FacilityCapacity, fm.DirectoryEntry),
    ev._UnitBeds: (), ev.CentrePlanV1: (rm.CentrePlan,),
    ev.TrainingEventChangedV1: (rm.TrainingRecord, tm.AnnouncedEvent), ev._RegencyQuota: (),
    ev.TrainingSummaryV1: (rm.TrainingRecord,), ev._TrainingCell: (), ev.StreamResendRequestedV1: (),
    ev.TrainingNominatedV1: (tm.Participant,), ev.TrainingNominationAnsweredV1: (tm.Nomination,),
    ev.NodeHeartbeatV1: (rm.NodeHeartbeat,),
    envelope.EventSchema: (rm.StoredEvent,),
}
# Fields stored under another name: (schema, field) -> columns.
RENAMED = {
    (ins.ClosureRequestSchema, "reason"): (im.Case.closure_reason,),
    (ins.ClosureRequestSchema, "outcome"): (im.Case.closure_outcome,),
    (fs.AcceptSchema, "unit"): (fm.ReferralRequest.unit_name,),
    (fs.AdmissionSchema, "unit"): (fm.ReferralRequest.unit_name,),
    (fs.FacilityRegistrationSchema, "code"): (fm.Facility.code, fm.FacilityUnit.facility_code,
                                              fm.ReferralRequest.facility_code),
    (ts.StatusChangeSchema, "reason"): (tm.TrainingEvent.status_reason,),
    (ts.RevocationSchema, "reason"): (tm.Certificate.revoked_reason,),
    (ev.ReferralRequestedV1, "facility_id"): (rm.ReferralStatus.facility_id, rm.ReferralTimeline.facility_id,
                                              fm.ReferralRequest.facility_code),
    (ev.ReferralRejectedV1, "reason"): (im.Referral.answer_note,),
    (fs.RejectSchema, "note"): (fm.ReferralRequest.reason,),  # the panti's note, kept at its node
}


def _columns(schema, name):
    if (schema, name) in RENAMED:
        return [c.property.columns[0] for c in RENAMED[(schema, name)]]
    return [model.__table__.c[name] for model in LANDS_IN[schema] if name in model.__table__.c]


def test_every_input_schema_says_where_it_lands():
    schemas = {schema for schema, _, _ in _every_input_field()}
    assert not schemas - set(LANDS_IN), "add to LANDS_IN: " + ", ".join(
        sorted(s.__qualname__ for s in schemas - set(LANDS_IN)))


def test_no_string_is_allowed_longer_than_the_column_it_lands_in():
    problems = []
    for schema, name, field in _every_input_field():
        if not isinstance(field, ma.String) or isinstance(field, ma.UUID):
            continue
        for column in _columns(schema, name):
            length = getattr(column.type, "length", None)
            if length is not None and max_length(field) > length:
                problems.append(f"{schema.__qualname__}.{name}: up to {max_length(field)} characters, "
                                f"column {column.table.name}.{column.name} holds {length}")
    assert not problems, "\n".join(problems)


def test_every_refusal_reason_a_manager_may_choose_is_one_the_contract_carries_and_the_referring_office_names():
    from rehsos import reference
    chosen = set(fs.RejectSchema().fields["reason_code"].validate.choices)
    assert chosen and chosen <= set(ev.ReferralRejectedV2().fields["reason_code"].validate.choices) \
        == set(reference.REJECTION_REASONS)
    assert max(map(len, reference.REJECTION_REASONS.values())) <= im.Referral.__table__.c.answer_note.type.length
    assert max(map(len, reference.REJECTION_REASONS)) <= fm.ReferralRequest.__table__.c.reason_code.type.length


def test_an_api_schema_never_allows_more_than_the_event_contract_that_carries_it():
    # A value the API took but the contract refuses fails make_event: a 500 after the write.
    pairs = [(fs.FacilityRegistrationSchema, "code", ev.FacilityV1, "facility_id"),
             (fs.FacilityRegistrationSchema, "name", ev.FacilityV1, "name"),
             (fs.UnitSchema, "name", ev._Unit, "name"),
             (fs.CentrePlanSchema, "name", ev.CentrePlanV1, "name"),
             (ins.ReferralSchema, "facility_id", ev.ReferralRequestedV1, "facility_id"),
             (ts.TrainingEventSchema, "title", ev.TrainingEventChangedV1, "title"),
             (ts.TrainingEventSchema, "theme", ev.TrainingEventChangedV1, "theme"),
             (ts.TrainingEventSchema, "venue", ev.TrainingEventChangedV1, "venue"),
             (ts.AgendaSessionSchema, "topic", ev.TrainingEventChangedV1, "topics"),
             (ts.ParticipantSchema, "name", ev.TrainingNominatedV1, "name"),
             (ts.ParticipantSchema, "position", ev.TrainingNominatedV1, "position"),
             (ts.ParticipantSchema, "office", ev.TrainingNominatedV1, "office"),
             (ts.ParticipantSchema, "phone", ev.TrainingNominatedV1, "phone"),
             (ts.ParticipantSchema, "email", ev.TrainingNominatedV1, "email")]
    for api, api_field, contract, contract_field in pairs:
        carried = contract().fields[contract_field]
        carried = carried.inner if isinstance(carried, ma.List) else carried
        assert max_length(api().fields[api_field]) <= max_length(carried), (api.__qualname__, api_field)


# Derived keys are longer than what they come from: "M." becomes "muhammad", "ⅷ" becomes "viii".
def test_the_longest_name_key_fits_its_column():
    longest = ins.PersonRegistrationSchema().fields["name"]
    worst = name_key("m " * (max_length(longest) // 2))
    assert len(worst) <= im.Person.__table__.c.name_key.type.length


def test_the_longest_participant_identity_key_fits_its_column():
    name = max_length(ts.ParticipantSchema().fields["name"])
    worst = f"{fold_name(chr(0x33AF) * name)}:6371"  # SQUARE RAD OVER S SQUARED folds to "rad s"
    assert len(worst) <= tm.Participant.__table__.c.identity_key.type.length


# -- what the kernel's fields refuse ---------------------------------------------------------------
class _Probe(f.Schema):
    text = f.Str()
    email = f.Email()
    number = f.Int()
    query_number = f.Int(strict=False)
    share = f.Float()
    flag = f.Bool()
    at = f.AwareDateTime()


@pytest.mark.parametrize("value", ["Ahmad\x00", "\x00", "Siti \ud800 Aminah", "\udfff"])
def test_text_with_nul_or_a_lone_surrogate_is_refused_in_indonesian(value):
    errors = _Probe().validate({"text": value, "email": f"a{value}@contoh.id"})
    assert errors["text"] == ["Teks berisi karakter yang tidak diizinkan (NUL atau kode Unicode yang tidak valid)."]
    assert "email" in errors


def test_ordinary_indonesian_text_with_accents_and_emoji_is_accepted():
    assert _Probe().validate({"text": "Ni Luh Putu Ayu Déwi 🙏\tcatatan\nbaris dua"}) == {}


@pytest.mark.parametrize("value", [2**31, -2**31 - 1, 10**30])
def test_integers_beyond_an_integer_column_are_refused(value):
    assert _Probe().validate({"number": value, "query_number": str(value)}).keys() == {"number", "query_number"}


@pytest.mark.parametrize("data", [{"number": "12"}, {"number": True}, {"share": "0.5"}, {"flag": 1},
                                  {"flag": "true"}, {"flag": 0}])
def test_json_values_of_the_wrong_type_are_refused_not_converted(data):
    assert _Probe().validate(data).keys() == data.keys()


def test_a_query_string_number_is_read_from_its_text():
    assert _Probe().load({"query_number": "12"}) == {"query_number": 12}


@pytest.mark.parametrize("value", ["0001-01-01T00:00+05:00", "9999-12-31T23:59-05:00"])
def test_a_time_without_a_utc_equivalent_is_refused(value):
    assert _Probe().validate({"at": value}) == {"at": ["Waktu di luar rentang yang dapat disimpan."]}


def test_the_default_integer_range_is_what_the_document_shows():
    rng = [v for v in _Probe().fields["number"].validators if isinstance(v, validate.Range)][0]
    assert (rng.min, rng.max) == (f.INT_MIN, f.INT_MAX) == (-2**31, 2**31 - 1)


# -- nesting ------------------------------------------------------------------------------------------
def test_json_nested_deeper_than_the_bound_is_refused_before_parsing():
    with pytest.raises(jsontext.TooDeep):
        jsontext.loads("[" * 100_000 + "]" * 100_000)  # json.loads would raise RecursionError
    assert jsontext.loads('{"a": [[["[[[[[[[[[[[[[[[[[[[["]]]}') == {"a": [[["[[[[[[[[[[[[[[[[[[[["]]]}


def test_brackets_inside_strings_do_not_count_towards_the_depth():
    assert jsontext.depth(r'{"a": "[{\"[[[", "b": [1, {"c": "]]]"}]}') == 3


def test_a_deeply_nested_event_is_an_invalid_event_for_the_quarantine():
    body = '{"event_id": "x", "payload": ' + "[" * 50_000 + "]" * 50_000 + "}"
    with pytest.raises(InvalidEvent, match="nested too deep"):
        parse_event(body.encode())


def test_an_event_with_null_payload_values_still_parses():
    from rehsos.contracts import make_event

    event = make_event("training.nominated", {
        "nomination_id": "0b8d2f0c-5d8c-4a47-9a44-1d7a5a1b3d11", "event_id": "5e0c1a52-0f5b-4a0e-8a56-2f2f4f1d9c10",
        "name": "Budi Santoso", "position": "Staf", "office": "Dinas Sosial", "regency": "6371", "role": "tksk",
        "phone": None, "email": None}, node="6371", service="training").with_sequence(1)
    assert parse_event(event.to_json()).payload["phone"] is None


def test_an_event_with_nul_in_a_payload_string_is_an_invalid_event():
    from rehsos.contracts import make_event

    event = make_event("plan.proposed", {"plan_id": "0b8d2f0c-5d8c-4a47-9a44-1d7a5a1b3d11", "regency": "6371",
                                         "name": "Sentra Banjarmasin", "kind": "sentra", "categories": ["odha"],
                                         "planned_capacity": 40, "target_year": 2027, "status": "usulan"},
                       node="6371", service="facilities").with_sequence(1)
    wire = json.loads(event.to_json())
    wire["payload"]["name"] = "Sentra\x00"
    with pytest.raises(InvalidEvent) as caught:
        parse_event(json.dumps(wire))
    assert "name" in caught.value.details["payload"]


# -- the NIK pattern in the document is nik_problem's rule --------------------------------------------
def test_the_nik_pattern_of_the_document_accepts_exactly_the_plausible_niks():
    pattern = re.compile(ins.NIK_PATTERN)
    rng = random.Random(11)
    samples = ["6371011705800001", "6371015705800001", "6371013102000001", "6371013002000001", "6371012902000001",
               "6371010000000001", "6300011705800001", "6371001705800001", "6371011705800000", "9971011705800001"]
    samples += ["".join(rng.choice("0123456789") for _ in range(16)) for _ in range(20_000)]
    samples += [f"63{rng.randint(1, 99):02d}{rng.randint(0, 99):02d}{rng.randint(1, 71):02d}{rng.randint(1, 12):02d}"
                f"{rng.randint(0, 99):02d}{rng.randint(0, 9999):04d}" for _ in range(20_000)]
    disagreements = [nik for nik in samples if bool(pattern.fullmatch(nik)) != (nik_problem(nik) is None)]
    assert not disagreements, disagreements[:10]
