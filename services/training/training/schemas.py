"""What training's API accepts and returns."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from rehsos import reference
from rehsos.contracts import fields as f
from rehsos.contracts.events import TRAINING_KINDS, TRAINING_ROLES, TRAINING_STATUSES

OFFICES = tuple(reference.NODES)  # the province office or one of the 13 regency/city offices


class RegencyQuotaSchema(f.Schema):
    regency = f.Str(required=True, validate=f.one_of(OFFICES, "Kode wilayah"))
    quota = f.Int(required=True, strict=True, validate=validate.Range(0, 1000, error="Kuota 0 sampai 1000."))


def _event_fields(required: bool) -> dict:
    need = {"required": True} if required else {}
    return {
        "kind": f.Str(validate=f.one_of(TRAINING_KINDS, "Jenis kegiatan"), **need),
        "title": f.text(3, 300, **need),
        "theme": f.text(3, 300, **need),
        "venue": f.text(3, 300, **need),
        "start_date": f.Date(**need),
        "end_date": f.Date(**need),
        "quota": f.Int(strict=True, validate=validate.Range(1, 1000, error="Kuota 1 sampai 1000."), **need),
        "regency_quotas": f.List(f.Nested(RegencyQuotaSchema),
                                 validate=validate.Length(max=14, error="Paling banyak 14 wilayah.")),
        "target_roles": f.List(f.Str(validate=f.one_of(TRAINING_ROLES, "Peran sasaran")),
                               validate=validate.Length(max=len(TRAINING_ROLES),
                                                        error=f"Paling banyak {len(TRAINING_ROLES)} peran.")),
        "min_attendance": f.Float(validate=validate.Range(0.1, 1.0, error="Antara 0,1 dan 1 (bagian hari yang "
                                                                          "dihadiri).")),
        "min_post_score": f.Int(strict=True, allow_none=True, validate=validate.Range(0, 100, error="0 sampai 100.")),
    }


# Checked against each other, or against the event being changed (training.domain.events).
_EVENT_RULES = {"end_date": "not before start_date, at most 31 days after it",
                "regency_quotas": "one quota per office, none above the event's quota"}

TrainingEventSchema = type("TrainingEventSchema", (f.Schema,), {
    **_event_fields(required=True), "demo": f.Bool(load_default=False), "RULES": _EVENT_RULES,
    "__doc__": "A new event (draft): kind, title, dates, venue, quotas, target roles, completion rule."})
TrainingEventUpdateSchema = type("TrainingEventUpdateSchema", (f.ChangeSchema,), {
    **_event_fields(required=False), "RULES": _EVENT_RULES,
    "__doc__": "Changes to an event while it is a draft or open."})


class StatusChangeSchema(f.Schema):
    status = f.Str(required=True, validate=f.one_of(TRAINING_STATUSES[1:], "Status"))
    reason = f.text(3, 500, load_default=None, allow_none=True)


class SpeakerSchema(f.Schema):
    name = f.text(2, 200, required=True)
    institution = f.text(2, 300, required=True, metadata={"description": "e.g. HIMPSI Kalsel"})


class AgendaSessionSchema(f.Schema):
    RULES = {"day": "within the event's dates", "ends_at": "after starts_at",
             "speaker_ids": "speakers of this event"}

    day = f.Date(required=True)
    starts_at = f.Time(required=True)
    ends_at = f.Time(required=True)
    topic = f.text(3, 300, required=True)
    speaker_ids = f.List(f.Int(strict=True), load_default=list,
                         validate=validate.Length(max=20, error="Paling banyak 20 narasumber."))


class ParticipantSchema(f.Schema):
    name = f.text(2, 200, required=True)
    position = f.text(2, 200, required=True, metadata={"description": "jabatan"})
    office = f.text(2, 200, required=True, metadata={"description": "office or institution"})
    regency = f.Str(required=True, validate=f.one_of(OFFICES, "Kode wilayah"))
    role = f.Str(required=True, validate=f.one_of(TRAINING_ROLES, "Peran"))
    phone = f.Str(load_default=None, allow_none=True, validate=f.PHONE)
    email = f.Email(load_default=None, allow_none=True,
                    validate=validate.Length(max=200, error="Paling panjang 200 karakter."))


class ParticipantQuerySchema(f.Schema):
    status = f.Str(validate=f.one_of(("registered", "waitlisted", "cancelled"), "Status"))
    regency = f.Str(validate=f.one_of(OFFICES, "Kode wilayah"))
    role = f.Str(validate=f.one_of(TRAINING_ROLES, "Peran"))


class EventQuerySchema(f.Schema):
    status = f.Str(validate=f.one_of(TRAINING_STATUSES, "Status"))
    kind = f.Str(validate=f.one_of(TRAINING_KINDS, "Jenis kegiatan"))


class _CheckInRow(f.Schema):
    # Exactly one way of naming the participant.
    JSON_SCHEMA = {"oneOf": [{"required": ["code"]}, {"required": ["participant_id"]}]}

    code = f.Str(validate=validate.Length(1, 16, error="Kode 1 sampai 16 karakter."))
    participant_id = f.Str(validate=validate.Length(36, 36, error="ID peserta 36 karakter."))
    day = f.Date()

    @validates_schema
    def _one_way(self, data, **kwargs):
        if bool(data.get("code")) == bool(data.get("participant_id")):
            raise ValidationError("Isi salah satu: code atau participant_id.", "code")


class CheckInSchema(_CheckInRow):
    """A check-in by code (scanned or typed) or from the list; ``day`` defaults to today."""


class _BatchRow(_CheckInRow):
    day = f.Date(required=True)
    checked_in_at = f.AwareDateTime()


class AttendanceBatchSchema(f.Schema):
    """Check-ins recorded offline; as JSON ``{"rows": [...]}`` or as CSV (header: code,day[,checked_in_at])."""
    rows = f.List(f.Nested(_BatchRow), required=True, validate=validate.Length(1, 5000, error="1 sampai 5000 baris."))


class ScoresSchema(f.ChangeSchema):
    pre_score = f.Int(strict=True, allow_none=True, validate=validate.Range(0, 100, error="0 sampai 100."))
    post_score = f.Int(strict=True, allow_none=True, validate=validate.Range(0, 100, error="0 sampai 100."))


class FeedbackSchema(f.Schema):
    participant_id = f.Str(required=True, validate=validate.Length(36, 36, error="ID peserta 36 karakter."))
    score = f.Int(required=True, strict=True, validate=validate.Range(1, 5, error="1 sampai 5."))


class RevocationSchema(f.Schema):
    reason = f.text(3, 500, required=True)


# -- answers -----------------------------------------------------------------------------------------
class _SpeakerOut(f.Schema):
    id = f.Int()
    name = f.Str()
    institution = f.Str()


class _SessionOut(f.Schema):
    id = f.Int()
    day = f.Date()
    starts_at = f.Time()
    ends_at = f.Time()
    topic = f.Str()
    speakers = f.List(f.Nested(_SpeakerOut))


class _RegencyCount(f.Schema):
    regency = f.Str()
    regency_name = f.Str()
    quota = f.Int(allow_none=True)
    registered = f.Int()
    waitlisted = f.Int()


class _CompletionRule(f.Schema):
    min_attendance = f.Float()
    min_post_score = f.Int(allow_none=True)


class _EventFacts(f.Schema):
    """What an event is, the same at its organiser and in an invitation."""
    organiser_node = f.Str()
    kind = f.Str()
    title = f.Str()
    theme = f.Str()
    venue = f.Str()
    start_date = f.Date()
    end_date = f.Date()
    quota = f.Int()
    target_roles = f.List(f.Str())
    status = f.Str()


class TrainingEventViewSchema(_EventFacts):
    id = f.Str()
    days = f.Int()
    hours = f.Float()
    completion_rule = f.Nested(_CompletionRule)
    status_reason = f.Str(allow_none=True)
    demo = f.Bool()
    registered = f.Int()
    waitlisted = f.Int()
    regencies = f.List(f.Nested(_RegencyCount))
    speakers = f.List(f.Nested(_SpeakerOut))
    sessions = f.List(f.Nested(_SessionOut))


class SpeakerViewSchema(_SpeakerOut):
    pass


class AgendaSessionViewSchema(f.Schema):
    id = f.Int()
    day = f.Date()
    starts_at = f.Time()
    ends_at = f.Time()
    topic = f.Str()
    speaker_ids = f.List(f.Int())


class ParticipantViewSchema(f.Schema):
    id = f.Str()
    event_id = f.Str()
    name = f.Str()
    position = f.Str()
    office = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    role = f.Str()
    phone = f.Str(allow_none=True)
    email = f.Str(allow_none=True)
    status = f.Str()
    waitlist_position = f.Int(allow_none=True)
    checkin_code = f.Str()
    nominating_node = f.Str(allow_none=True)
    days_attended = f.List(f.Date())
    pre_score = f.Int(allow_none=True)
    post_score = f.Int(allow_none=True)
    completed = f.Bool(allow_none=True)


class CheckInResultSchema(f.Schema):
    status = f.Str(metadata={"description": "checked_in, or already_checked_in (nothing changed)"})
    message = f.Str()
    day = f.Date()
    participant_id = f.Str()
    name = f.Str()


class BatchRowReportSchema(f.Schema):
    row = f.Int()
    status = f.Str(metadata={"description": "checked_in, already_checked_in or conflict"})
    code = f.Str(allow_none=True)
    participant_id = f.Str(allow_none=True)
    name = f.Str()
    day = f.Date(allow_none=True)
    reason = f.Str(metadata={"description": "unknown_participant, cancelled, not_registered, day_outside_event"})
    message = f.Str()


class BatchReportSchema(f.Schema):
    applied = f.Int()
    already = f.Int()
    conflicts = f.Int()
    rows = f.List(f.Nested(BatchRowReportSchema))


class AttendanceEntrySchema(f.Schema):
    participant_id = f.Str()
    name = f.Str()
    day = f.Date()
    checked_in_at = f.AwareDateTime()
    source = f.Str()


class _Gain(f.Schema):
    scored = f.Int()
    pre_average = f.Float(allow_none=True)
    post_average = f.Float(allow_none=True)
    gain = f.Float(allow_none=True)


class _RoleGain(_Gain):
    role = f.Str()


class _TopicGain(_Gain):
    session_id = f.Int()
    topic = f.Str()
    day = f.Date()
    feedback_count = f.Int()
    feedback_average = f.Float(allow_none=True)


class LearningReportSchema(_Gain):
    event_id = f.Str()
    by_role = f.List(f.Nested(_RoleGain))
    by_topic = f.List(f.Nested(_TopicGain))


class FeedbackViewSchema(f.Schema):
    participant_id = f.Str()
    session_id = f.Int()
    score = f.Int()


class MaterialViewSchema(f.Schema):
    id = f.Int()
    session_id = f.Int()
    filename = f.Str()
    media_type = f.Str()
    size = f.Int()
    sha256 = f.Str()
    uploaded_at = f.AwareDateTime()


class CertificateViewSchema(f.Schema):
    number = f.Str()
    participant_id = f.Str()
    issued_at = f.AwareDateTime()
    revoked_at = f.AwareDateTime(allow_none=True)
    revoked_reason = f.Str(allow_none=True)


class InvitationSchema(_EventFacts):
    """An event another node organises, as last announced, with this node's quota."""
    event_id = f.Str()
    quota_for_this_node = f.Int(allow_none=True)
    invited = f.Bool()
    topics = f.List(f.Str())
    as_of = f.Str()


class NominationViewSchema(f.Schema):
    id = f.Str()
    event_id = f.Str()
    organiser_node = f.Str()
    name = f.Str()
    position = f.Str()
    office = f.Str()
    regency = f.Str()
    role = f.Str()
    status = f.Str(metadata={"description": "sent, registered, waitlisted, rejected or cancelled"})
    position_on_waitlist = f.Int(allow_none=True)
    reason = f.Str(allow_none=True)
    checkin_code = f.Str(allow_none=True)
    nominated_at = f.AwareDateTime()
    answered_at = f.AwareDateTime(allow_none=True)


class NominationQuerySchema(f.Schema):
    event_id = f.Str(validate=validate.Length(36, 36, error="ID kegiatan 36 karakter."))
