"""What intake's HTTP API accepts and returns."""
from __future__ import annotations

from datetime import date

from marshmallow import ValidationError, pre_load, validate, validates, validates_schema

from intake.domain.consent import CONSENT_PURPOSES, LEGAL_BASES
from rehsos import reference
from rehsos.contracts import fields as f
from rehsos.privacy import PROVINCE_CODES, SEXES, nik_problem

OLDEST_AGE_YEARS = 120
ATENSI = tuple(reference.ATENSI_COMPONENTS)
RISK_LEVELS = ("low", "medium", "high")
OUTCOMES = ("positive", "neutral", "negative")
_TEXT_FIELDS = ("name", "nik", "kecamatan", "desa", "address", "phone", "category", "regency", "worker",
                "guardian_name", "guardian_relationship", "guardian_phone")
_FREE_TEXT = {"name", "desa", "address", "worker", "guardian_name", "guardian_relationship"}


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


CATEGORY = validate.OneOf(tuple(reference.PPKS_CATEGORIES),
                          error="Kategori PPKS tidak dikenal; gunakan salah satu dari 26 kode PPKS.")
DISABILITY = f.one_of(tuple(reference.DISABILITY_TYPES), "Ragam disabilitas")
ALL_CATEGORIES = validate.Length(max=len(reference.PPKS_CATEGORIES), error="Paling banyak {max} kategori.")
ALL_DISABILITIES = validate.Length(max=len(reference.DISABILITY_TYPES), error="Paling banyak {max} ragam disabilitas.")
ALL_ATENSI = validate.Length(max=len(ATENSI), error="Paling banyak {max} komponen ATENSI.")
KECAMATAN = validate.OneOf(tuple(reference.KECAMATAN),
                           error="Kode kecamatan tidak dikenal; pilih dari daftar kecamatan (6 digit, mis. 637103).")


def _kecamatan(**kwargs):
    return f.Str(validate=KECAMATAN, metadata={
        "description": "Kemendagri code of the kecamatan (6 digits, e.g. 637103), from the office's list",
        "enum": list(reference.KECAMATAN)}, **kwargs)


def _nik_pattern() -> str:
    """``nik_problem``'s rule as a regular expression, for the OpenAPI document: province code,
    regency and kecamatan not 00, a day of birth (plus 40 for women) that the month has, two
    digits of the year, a sequence number other than 0000."""
    province = "|".join(sorted(PROVINCE_CODES))
    not_00 = "(?:0[1-9]|[1-9][0-9])"
    day_month = ("(?:(?:0[1-9]|[12][0-9]|4[1-9]|[56][0-9])(?:0[1-9]|1[0-2])"  # 1-29: any month (2000 had 29 Feb)
                 "|(?:30|70)(?:0[13-9]|1[0-2])"  # 30: all but February
                 "|(?:31|71)(?:0[13578]|1[02]))")  # 31: the long months
    sequence = "(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
    return f"(?:{province}){not_00}{not_00}{day_month}[0-9]{{2}}{sequence}"


NIK_PATTERN = f"^{_nik_pattern()}$"
_NIK_LENGTH = validate.Length(max=16, error="NIK harus terdiri dari 16 digit angka.")


def _text(lo: int, hi: int, **kwargs):
    return f.text(lo, hi, stripped=True, **kwargs)


class _Stripped(f.Schema):
    @pre_load
    def _strip_text(self, data, **kwargs):
        if isinstance(data, dict):
            return {k: self._trimmed(k, v) for k, v in data.items()}
        return data

    def _trimmed(self, key, value):
        if not isinstance(value, str) or key not in _TEXT_FIELDS:
            return value
        longest = min((v.max for v in getattr(self.fields.get(key), "validators", ())
                       if isinstance(v, validate.Length) and v.max is not None), default=None)
        # Free text too long as sent stays as sent: refused by its length, as the document's
        # maxLength says. (A NIK or phone number with spaces around it is still trimmed.)
        if key in _FREE_TEXT and longest is not None and len(value) > longest:
            return value
        return value.strip(f.BLANKS)


# A birth date, or an estimated age when it is unknown: exactly one of them (absent counts as null).
_AGE_KNOWN = {"anyOf": [
    {"required": ["birth_date"], "properties": {"birth_date": {"type": "string"}, "estimated_age": {"enum": [None]}}},
    {"required": ["estimated_age"], "properties": {"estimated_age": {"type": "integer"},
                                                   "birth_date": {"enum": [None]}}}]}
_BIRTH_DATE_RULE = {"birth_date": "not after today, nor more than 120 years ago"}


class PersonRegistrationSchema(_Stripped):
    """A person, with or without identity papers."""

    JSON_SCHEMA = _AGE_KNOWN
    RULES = {**_BIRTH_DATE_RULE, "kecamatan": "a kecamatan of the regency given (its code begins with the regency's)"}
    name = _text(2, 200, required=True)
    nik = f.Str(load_default=None, allow_none=True, validate=_NIK_LENGTH,
                metadata={"description": "16-digit NIK; omit for people found without papers (attach it later)",
                          "pattern": f"^(?:{_nik_pattern()})?$"})
    sex = f.Str(required=True, validate=validate.OneOf(SEXES, error="Jenis kelamin harus 'male' atau 'female'."))
    birth_date = f.Date(load_default=None, allow_none=True)
    estimated_age = f.Int(load_default=None, allow_none=True, strict=True,
                          validate=validate.Range(0, OLDEST_AGE_YEARS, error="Perkiraan umur harus 0 sampai 120."),
                          metadata={"description": "years, when the birth date is unknown"})
    regency = f.Str(required=True, validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"),
                    metadata={"description": "Kemendagri code of the kabupaten/kota, e.g. 6371"})
    kecamatan = _kecamatan(required=True)
    desa = _text(2, 100, load_default=None, allow_none=True)
    address = _text(3, 300, load_default=None, allow_none=True)
    phone = f.Str(load_default=None, allow_none=True,
                  validate=f.PHONE)
    categories = f.List(f.Str(validate=CATEGORY), load_default=list, validate=ALL_CATEGORIES,
                        metadata={"description": "PPKS categories (codes of the 26)", "uniqueItems": True})
    disabilities = f.List(f.Str(validate=DISABILITY), load_default=list, validate=ALL_DISABILITIES)
    guardian_name = _text(2, 200, load_default=None, allow_none=True)
    guardian_relationship = _text(2, 50, load_default=None, allow_none=True)
    guardian_phone = f.Str(load_default=None, allow_none=True,
                           validate=f.PHONE)

    @validates("nik")
    def _nik_plausible(self, value, **kwargs):
        if value not in (None, ""):
            problem = nik_problem(value)
            if problem:
                raise ValidationError(problem)

    @validates("birth_date")
    def _birth_date_plausible(self, value, **kwargs):
        if value is None:
            return
        today = date.today()
        if value > today:
            raise ValidationError("Tanggal lahir tidak boleh di masa depan.")
        if value < _years_before(today, OLDEST_AGE_YEARS):
            raise ValidationError(f"Tanggal lahir lebih dari {OLDEST_AGE_YEARS} tahun yang lalu.")

    @validates_schema
    def _age_known(self, data, **kwargs):
        if data.get("birth_date") is None and data.get("estimated_age") is None:
            raise ValidationError("Isi tanggal lahir, atau perkiraan umur bila tidak diketahui.", "birth_date")
        if data.get("birth_date") is not None and data.get("estimated_age") is not None:
            raise ValidationError("Isi salah satu: tanggal lahir atau perkiraan umur.", "estimated_age")
        if len(set(data.get("categories") or [])) != len(data.get("categories") or []):
            raise ValidationError("Kategori tidak boleh berulang.", "categories")


class PersonUpdateSchema(_Stripped, f.ChangeSchema):
    """Corrections and changes to a person's record; the NIK has its own route, the regency
    stays (a move to another regency is a new registration there)."""

    # Never both a birth date and an estimated age; a birth date taken away needs an age instead.
    JSON_SCHEMA = {**f.ChangeSchema.JSON_SCHEMA, "allOf": [
        {"not": {"required": ["birth_date", "estimated_age"],
                 "properties": {"birth_date": {"type": "string"}, "estimated_age": {"type": "integer"}}}},
        {"not": {"required": ["birth_date"], "properties": {"birth_date": {"enum": [None]},
                                                             "estimated_age": {"enum": [None]}}}}]}
    RULES = {**_BIRTH_DATE_RULE, "kecamatan": "a kecamatan of the person's regency"}
    name = _text(2, 200)
    sex = f.Str(validate=validate.OneOf(SEXES, error="Jenis kelamin harus 'male' atau 'female'."))
    birth_date = f.Date(allow_none=True)
    estimated_age = f.Int(allow_none=True, strict=True,
                          validate=validate.Range(0, OLDEST_AGE_YEARS, error="Perkiraan umur harus 0 sampai 120."))
    kecamatan = _kecamatan()
    desa = _text(2, 100, allow_none=True)
    address = _text(3, 300, allow_none=True)
    phone = f.Str(allow_none=True,
                  validate=f.PHONE)
    categories = f.List(f.Str(validate=CATEGORY), validate=ALL_CATEGORIES)
    disabilities = f.List(f.Str(validate=DISABILITY), validate=ALL_DISABILITIES)
    guardian_name = _text(2, 200, allow_none=True)
    guardian_relationship = _text(2, 50, allow_none=True)
    guardian_phone = f.Str(allow_none=True,
                           validate=f.PHONE)

    _birth_date_plausible = PersonRegistrationSchema._birth_date_plausible

    @validates_schema
    def _age_consistent(self, data, **kwargs):
        if data.get("birth_date") is not None and data.get("estimated_age") is not None:
            raise ValidationError("Isi salah satu: tanggal lahir atau perkiraan umur.", "estimated_age")
        if "birth_date" in data and data["birth_date"] is None and data.get("estimated_age") is None:
            raise ValidationError("Isi tanggal lahir, atau perkiraan umur bila tidak diketahui.", "birth_date")


class CaseRegistrationSchema(PersonRegistrationSchema):
    """A new person and their first case, in one step."""
    category = f.Str(required=True, validate=CATEGORY,
                     metadata={"description": "PPKS category of the case (one of the 26)",
                               "enum": list(reference.PPKS_CATEGORIES)})
    worker = _text(2, 200, load_default=None, allow_none=True, metadata={"description": "responsible social worker"})


class CaseOpenSchema(_Stripped):
    """A further case for a person already registered."""
    category = f.Str(required=True, validate=CATEGORY)
    worker = _text(2, 200, load_default=None, allow_none=True)


class NikSchema(_Stripped):
    nik = f.Str(required=True, validate=_NIK_LENGTH, metadata={"pattern": NIK_PATTERN})

    @validates("nik")
    def _nik_plausible(self, value, **kwargs):
        problem = nik_problem(value)
        if problem:
            raise ValidationError(problem)


class DuplicateDecisionSchema(f.Schema):
    decision = f.Str(required=True, validate=f.one_of(("dismiss", "merge"), "Keputusan"),
                     metadata={"description": "dismiss: not the same person; merge: the other joins this one"})


class DuplicateCandidateSchema(f.Schema):
    person_id = f.Str()
    registration_no = f.Str()
    name = f.Str()
    birth_year = f.Int(allow_none=True)
    kecamatan = f.Str(allow_none=True)
    kecamatan_name = f.Str()
    score = f.Float()
    reasons = f.List(f.Str())


class CrossNodeMatchSchema(f.Schema):
    person_id = f.Str()
    registration_no = f.Str()
    name = f.Str()
    other_nodes = f.List(f.Str(), metadata={"description": "nodes where the same NIK is registered"})
    detected_at = f.AwareDateTime()


class ConsentSchema(f.Schema):
    purpose = f.Str(required=True, validate=f.one_of(CONSENT_PURPOSES, "Tujuan"))
    legal_basis = f.Str(required=True, validate=f.one_of(LEGAL_BASES, "Dasar hukum"))
    given_by = f.Str(required=True, validate=f.one_of(("person", "guardian"), "Pemberi persetujuan"))
    recorded_on = f.Date(load_default=None, allow_none=True, validate=f.not_future("Tanggal persetujuan"))
    note = f.text(1, 500, load_default=None, allow_none=True)


class ConsentWithdrawalSchema(f.Schema):
    purpose = f.Str(required=True, validate=f.one_of(CONSENT_PURPOSES, "Tujuan"))
    given_by = f.Str(required=True, validate=f.one_of(("person", "guardian"), "Pemberi persetujuan"))
    note = f.text(1, 500, load_default=None, allow_none=True)


class StageChangeSchema(f.Schema):
    stage = f.Str(required=True, validate=f.one_of(reference.STAGES, "Tahap"))
    note = f.text(1, 500, load_default=None, allow_none=True)


class AssessmentSchema(f.Schema):
    needs = f.Dict(keys=f.Str(validate=f.one_of(ATENSI, "Komponen ATENSI")), values=f.text(1, 1000), required=True,
                   validate=[validate.Length(min=1, error="Isi kebutuhan untuk sedikitnya satu komponen ATENSI."),
                             ALL_ATENSI],
                   metadata={"description": "need described per ATENSI component code"})
    risk_level = f.Str(required=True, validate=f.one_of(RISK_LEVELS, "Tingkat risiko"))
    recommendation = f.text(3, 2000, required=True)


class PlanSchema(f.Schema):
    RULES = {"target_dates": "only for components of the plan"}

    components = f.List(f.Str(validate=f.one_of(ATENSI, "Komponen ATENSI")), required=True,
                        validate=[validate.Length(min=1, error="Pilih sedikitnya satu komponen."), ALL_ATENSI])
    responsible_worker = f.text(2, 200, required=True)
    target_dates = f.Dict(keys=f.Str(validate=f.one_of(ATENSI, "Komponen ATENSI")), values=f.Date(), load_default=dict,
                          validate=ALL_ATENSI)

    @validates_schema
    def _targets_planned(self, data, **kwargs):
        unplanned = set(data.get("target_dates", {})) - set(data.get("components", []))
        if unplanned:
            raise ValidationError(f"Target untuk komponen yang tidak direncanakan: {', '.join(sorted(unplanned))}.",
                                  "target_dates")


class ServiceSchema(f.Schema):
    component = f.Str(required=True, validate=f.one_of(ATENSI, "Komponen ATENSI"))
    delivered_on = f.Date(required=True, validate=f.not_future("Tanggal layanan"))
    description = f.text(3, 1000, required=True)
    worker = f.text(2, 200, required=True)


class ClosureRequestSchema(f.Schema):
    reason = f.text(3, 500, required=True)
    outcome = f.Str(required=True, validate=f.one_of(OUTCOMES, "Hasil"))


class ClosureDecisionSchema(f.Schema):
    approve = f.Bool(required=True)
    note = f.text(1, 500, load_default=None, allow_none=True)


class ReopenSchema(f.Schema):
    reason = f.text(3, 500, required=True)


class ReferralSchema(f.Schema):
    facility_id = f.text(1, 64, required=True)
    facility_node = f.Str(required=True, validate=f.one_of(reference.NODES, "Node fasilitas"))
    consent_override = f.text(10, 500, load_default=None, allow_none=True,
                             metadata={"description": "why the referral proceeds without consent (supervisor)"})


class CaseSearchSchema(f.Schema):
    category = f.Str(validate=CATEGORY)
    stage = f.Str(validate=f.one_of(reference.STAGES, "Tahap"))
    status = f.Str(validate=f.one_of(("open", "closure_requested", "closed"), "Status"))
    kecamatan = _kecamatan()
    worker = f.text(1, 200)
    registered_from = f.Date()
    registered_to = f.Date()
    q = f.Str(validate=[validate.Length(2, 100, error="Panjang harus 2 sampai 100 karakter."),
                        validate.Regexp(r"[^A-Za-z]*[A-Za-z]",
                                        error="Kata pencarian nama harus mengandung huruf.")],
              metadata={"description": "free text on the person's name"})
    page = f.Int(load_default=1, strict=False, validate=validate.Range(min=1, error="Halaman mulai dari 1."))
    per_page = f.Int(load_default=20, strict=False,
                     validate=validate.Range(1, 100, error="per_page harus 1 sampai 100."))
    sort = f.Str(load_default="-registered_at", validate=f.one_of(
        ("registered_at", "-registered_at", "name", "-name", "stage", "-stage"), "Urutan"))


class AuditQuerySchema(f.Schema):
    actor = f.text(1, 255)
    record_id = f.text(1, 64)
    action = f.text(1, 64)
    since = f.AwareDateTime()
    page = f.Int(load_default=1, strict=False, validate=validate.Range(min=1))
    per_page = f.Int(load_default=50, strict=False, validate=validate.Range(1, 500))


# -- responses ------------------------------------------------------------------------------------
class PersonSchema(f.Schema):
    id = f.Str()
    registration_no = f.Str()
    name = f.Str()
    nik = f.Str(allow_none=True)
    sex = f.Str()
    birth_date = f.Date(allow_none=True)
    birth_year_estimated = f.Int(allow_none=True)
    regency = f.Str()
    kecamatan = f.Str(allow_none=True, metadata={"description": "code; null for text written before the "
                                                               "kecamatan list that names none of it"})
    kecamatan_name = f.Str(metadata={"description": "the kecamatan's name, or that earlier text"})
    desa = f.Str(allow_none=True)
    address = f.Str(allow_none=True)
    phone = f.Str(allow_none=True)
    categories = f.List(f.Str())
    disabilities = f.List(f.Str())
    guardian_name = f.Str(allow_none=True)
    guardian_relationship = f.Str(allow_none=True)
    guardian_phone = f.Str(allow_none=True)
    merged_into = f.Str(allow_none=True)


class CaseSchema(f.Schema):
    id = f.Str()
    node = f.Str()
    category = f.Str()
    category_name = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    kecamatan = f.Str(allow_none=True)
    kecamatan_name = f.Str()
    stage = f.Str()
    status = f.Str()
    worker = f.Str(allow_none=True)
    registered_at = f.AwareDateTime()
    closure_reason = f.Str(allow_none=True)
    closure_outcome = f.Str(allow_none=True)
    closed_at = f.AwareDateTime(allow_none=True)
    reopen_count = f.Int()
    person = f.Nested(PersonSchema)


class CaseSummarySchema(f.Schema):
    id = f.Str()
    category = f.Str()
    stage = f.Str()
    status = f.Str()
    kecamatan = f.Str(allow_none=True)
    kecamatan_name = f.Str()
    worker = f.Str(allow_none=True)
    registered_at = f.AwareDateTime()
    person_id = f.Str()
    person_name = f.Str()
    registration_no = f.Str()


class CasePageSchema(f.Schema):
    items = f.List(f.Nested(CaseSummarySchema))
    page = f.Int()
    per_page = f.Int()
    total = f.Int(metadata={"description": "Matching cases, counted up to 1,000 (see total_capped)."})
    total_capped = f.Bool(metadata={"description": "True when counting stopped at 1,000: more cases match."})


class TimelineEntrySchema(f.Schema):
    at = f.AwareDateTime()
    actor = f.Str()
    kind = f.Str()
    detail = f.Dict()


class ConsentRecordSchema(f.Schema):
    id = f.Int()
    purpose = f.Str()
    legal_basis = f.Str()
    status = f.Str()
    given_by = f.Str()
    recorded_on = f.Date()
    recorded_by = f.Str()
    note = f.Str(allow_none=True)


class ReferralRecordSchema(f.Schema):
    id = f.Str()
    case_id = f.Str()
    facility_id = f.Str()
    facility_node = f.Str()
    status = f.Str()
    consent_override = f.Str(allow_none=True)
    requested_at = f.AwareDateTime()


class AuditEntrySchema(f.Schema):
    id = f.Int()
    at = f.AwareDateTime()
    actor = f.Str()
    role = f.Str()
    action = f.Str()
    record_type = f.Str()
    record_id = f.Str()
    purpose = f.Str()
    outcome = f.Str()


class RecordedSchema(f.Schema):
    """The answer to a new assessment, plan or service record: its id."""
    id = f.Int()


class _Coded(f.Schema):
    code = f.Str()
    name = f.Str()


class _Category(_Coded):
    no = f.Int()
    group = f.Str()


class _CategoryList(f.Schema):
    version = f.Int()
    items = f.List(f.Nested(_Category))


class _DisabilityType(_Coded):
    parent = f.Str(allow_none=True)


class _Stage(_Coded):
    order = f.Int()
    next = f.List(f.Str())


class _Region(_Coded):
    kind = f.Str()


class _Kecamatan(_Coded):
    regency = f.Str()


class ReferenceListsSchema(f.Schema):
    ppks_categories = f.Nested(_CategoryList)
    disability_types = f.List(f.Nested(_DisabilityType))
    stages = f.List(f.Nested(_Stage))
    atensi_components = f.List(f.Nested(_Coded))
    regions = f.List(f.Nested(_Region))
    kecamatan = f.List(f.Nested(_Kecamatan), metadata={"description": "the office's own, by name"})
    consent_purposes = f.List(f.Str())
    legal_bases = f.List(f.Str())
