"""What the facilities API accepts and returns."""
from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from rehsos import reference
from rehsos.contracts import fields as f
from rehsos.contracts.events import MAX_UNITS

KINDS = ("panti", "sentra", "lks", "rumah_singgah")
OWNERS = ("province", "regency", "ministry", "foundation")
# "full" is not among them: fullness follows from admissions and discharges, never typed in.
STATUSES = ("operational", "temporarily_closed", "planned")
UNIT_SEXES = ("male", "female", "mixed")
SOME_CATEGORIES = [validate.Length(min=1, error="Pilih sedikitnya satu kategori PPKS."),
                   validate.Length(max=len(reference.PPKS_CATEGORIES), error="Paling banyak {max} kategori PPKS.")]


class UnitSchema(f.Schema):
    name = f.text(1, 100, required=True, metadata={"description": "ward or unit, e.g. 'Wisma Laki-laki'"})
    sex = f.Str(required=True, validate=f.one_of(UNIT_SEXES, "Jenis kelamin unit"))
    capacity = f.Int(required=True, strict=True, validate=validate.Range(0, 2000, error="Kapasitas 0 sampai 2000."))


def _facility_fields(required: bool) -> dict:
    """The facility's fields: all required to register, each optional to update."""
    need = {"required": True} if required else {}
    return {
        "name": f.text(3, 200, **need),
        "kind": f.Str(validate=f.one_of(KINDS, "Jenis fasilitas"), **need),
        "owner": f.Str(validate=f.one_of(OWNERS, "Pemilik"), **need),
        "owner_name": f.text(3, 200, metadata={"description": "e.g. Dinas Sosial Provinsi Kalimantan Selatan"},
                            **need),
        "regency": f.Str(validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"), **need),
        "address": f.text(3, 300, **need),
        "categories": f.List(f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES),
                                                           error="Kategori PPKS tidak dikenal.")),
                             validate=SOME_CATEGORIES, **need),
        "disability_types": f.List(f.Str(validate=f.one_of(tuple(reference.DISABILITY_TYPES), "Ragam disabilitas")),
                                   validate=validate.Length(max=len(reference.DISABILITY_TYPES),
                                                            error="Paling banyak {max} ragam disabilitas.")),
        "status": f.Str(validate=f.one_of(STATUSES, "Status")),
        "contact_person": f.text(2, 200, allow_none=True),
        "contact_phone": f.Str(allow_none=True, validate=f.PHONE),
        "contact_email": f.Email(allow_none=True,
                                 validate=validate.Length(max=200, error="Paling panjang 200 karakter.")),
        "units": f.List(f.Nested(UnitSchema), validate=validate.Length(
            1, MAX_UNITS, error=f"Isi sedikitnya satu unit, paling banyak {MAX_UNITS}."), **need),
    }


class _UniqueUnits(f.Schema):
    RULES = {"units": "unit names differ from each other"}

    @validates_schema
    def _units_unique(self, data, **kwargs):
        names = [u["name"] for u in data.get("units") or []]
        if len(names) != len(set(names)):
            raise ValidationError("Nama unit tidak boleh berulang.", "units")


FacilityRegistrationSchema = type("FacilityRegistrationSchema", (_UniqueUnits,), {
    **_facility_fields(required=True),
    "code": f.Str(required=True, validate=[
        validate.Length(1, 64, error="Panjang kode 1 sampai 64 karakter."),
        validate.Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$",
                        error="Kode hanya huruf kecil, angka dan tanda hubung (contoh: prsts-barakat).")],
        metadata={"description": "identifier across the province; referrals name it"}),
    "demo": f.Bool(load_default=False, metadata={"description": "made-up figures for demonstration and training"}),
    "__doc__": "A facility to register at this node, with its units.",
})


FacilityUpdateSchema = type("FacilityUpdateSchema", (_UniqueUnits, f.ChangeSchema), {
    **_facility_fields(required=False), "__doc__": "Changes to a facility (units replace the old list)."})


class FacilityQuerySchema(f.Schema):
    regency = f.Str(validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"))
    category = f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES), error="Kategori PPKS tidak dikenal."))
    kind = f.Str(validate=f.one_of(KINDS, "Jenis fasilitas"))


class FacilitySchema(f.Schema):
    code = f.Str()
    node = f.Str()
    name = f.Str()
    kind = f.Str()
    owner = f.Str()
    owner_name = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    address = f.Str()
    categories = f.List(f.Str())
    disability_types = f.List(f.Str())
    status = f.Str()
    capacity = f.Int(metadata={"description": "beds over all units"})
    occupied = f.Int(metadata={"description": "admitted persons and unexpired reservations"})
    free = f.Int()
    full = f.Bool(metadata={"description": "operational with no free bed (follows from occupancy)"})
    waitlisted = f.Int(metadata={"description": "referrals on the facility's waiting list"})
    contact_person = f.Str(allow_none=True)
    contact_phone = f.Str(allow_none=True)
    contact_email = f.Str(allow_none=True)
    demo = f.Bool()
    units = f.List(f.Nested(UnitSchema))


class AcceptSchema(f.Schema):
    unit = f.text(1, 100, required=True)
    reserved_days = f.Int(load_default=3, strict=True, validate=validate.Range(1, 30, error="1 sampai 30 hari."))


# Refusals the node makes itself, never chosen by a manager.
AUTOMATIC_REJECTIONS = ("reservation_expired", "unknown_facility")


class RejectSchema(f.Schema):
    # The code goes to the referring office (and the hub); the note stays at this node.
    reason_code = f.Str(required=True, validate=validate.OneOf(
        tuple(c for c in reference.REJECTION_REASONS if c not in AUTOMATIC_REJECTIONS),
        error="Pilih salah satu alasan penolakan."))
    note = f.text(3, 500, load_default=None, allow_none=True)


class WaitlistSchema(f.Schema):
    note = f.text(1, 500, load_default=None, allow_none=True)


class AdmissionSchema(f.Schema):
    admitted_on = f.Date(required=True, validate=f.not_future("Tanggal masuk"))
    unit = f.text(1, 100, load_default=None, allow_none=True)


class DischargeSchema(f.Schema):
    discharged_on = f.Date(required=True, validate=f.not_future("Tanggal keluar"))
    outcome = f.Str(required=True, validate=f.one_of(("positive", "neutral", "negative"), "Hasil"))


class ReferralQuerySchema(f.Schema):
    facility = f.text(1, 64)
    status = f.Str(validate=f.one_of(("requested", "accepted", "rejected", "waitlisted", "expired", "admitted", "discharged"),
                                    "Status"))


class ReferralRequestSchema(f.Schema):
    referral_id = f.Str()
    case_id = f.Str()
    referring_node = f.Str()
    facility_code = f.Str()
    category = f.Str()
    sex = f.Str()
    age_band = f.Str()
    consent_override = f.Bool()
    status = f.Str()
    unit_name = f.Str(allow_none=True)
    reserved_until = f.AwareDateTime(allow_none=True)
    reason_code = f.Str(allow_none=True)
    reason = f.Str(allow_none=True)
    received_at = f.AwareDateTime()
    admitted_on = f.Date(allow_none=True)
    discharged_on = f.Date(allow_none=True)
    outcome = f.Str(allow_none=True)


class _GuardianSchema(f.Schema):
    name = f.Str(allow_none=True)
    relationship = f.Str(allow_none=True)
    phone = f.Str(allow_none=True)


class _AssessmentSummarySchema(f.Schema):
    needs = f.Dict(keys=f.Str(), values=f.Str(), metadata={"description": "need per ATENSI component code"})
    risk_level = f.Str()
    recommendation = f.Str()
    assessed_at = f.Str(metadata={"format": "date-time"})


class DossierSchema(f.Schema):
    """A referred person's dossier, opened for a manager of the receiving node (audit-logged)."""
    referral_id = f.Str()
    case_id = f.Str()
    referring_node = f.Str()
    referral_status = f.Str(allow_none=True)
    received_at = f.AwareDateTime()
    category = f.Str()
    registration_no = f.Str(metadata={"description": "the person's number at the referring node"})
    name = f.Str()
    nik = f.Str(allow_none=True)
    sex = f.Str()
    birth_date = f.Str(allow_none=True, metadata={"format": "date"})
    birth_year_estimated = f.Int(allow_none=True)
    estimated_age = f.Int(allow_none=True, metadata={"description": "when the birth date is unknown"})
    disabilities = f.List(f.Str())
    guardian = f.Nested(_GuardianSchema)
    assessment = f.Nested(_AssessmentSummarySchema, allow_none=True,
                          metadata={"description": "the latest assessment at the referring node"})


class UnitOccupancySchema(f.Schema):
    unit = f.Str()
    sex = f.Str()
    capacity = f.Int()
    occupied = f.Int()
    free = f.Int()


class DirectoryQuerySchema(f.Schema):
    category = f.Str(required=True, validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES),
                                                            error="Kategori PPKS tidak dikenal."))
    sex = f.Str(required=True, validate=f.one_of(("male", "female"), "Jenis kelamin"))
    regency = f.Str(validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"),
                    metadata={"description": "where the person is; defaults to this node's regency"})


class DirectoryAnswerSchema(f.Schema):
    facility_id = f.Str()
    node = f.Str()
    name = f.Str()
    kind = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    free_beds = f.Int()
    same_regency = f.Bool()
    as_of = f.AwareDateTime(metadata={"description": "when the facility's node took this snapshot"})
    age_seconds = f.Int(metadata={"description": "how old the data is (last known state while the hub is away)"})
    stale = f.Bool(metadata={"description": "older than a week: check with the facility before referring"})


PLAN_STATUSES = ("usulan", "disetujui", "dibangun", "beroperasi")


class CentrePlanSchema(f.Schema):
    """A planned centre (status starts at *usulan*)."""
    regency = f.Str(required=True, validate=f.one_of(tuple(reference.REGENCIES), "Kode kabupaten/kota"))
    name = f.text(3, 200, required=True)
    kind = f.Str(required=True, validate=f.one_of(KINDS, "Jenis fasilitas"))
    categories = f.List(f.Str(validate=validate.OneOf(tuple(reference.PPKS_CATEGORIES),
                                                      error="Kategori PPKS tidak dikenal.")), required=True,
                        validate=SOME_CATEGORIES)
    planned_capacity = f.Int(required=True, strict=True, validate=validate.Range(1, 2000, error="1 sampai 2000."))
    target_year = f.Int(required=True, strict=True, validate=validate.Range(2024, 2045, error="Tahun 2024 sampai 2045."))
    note = f.text(1, 1000, load_default=None, allow_none=True)


class CentrePlanUpdateSchema(f.ChangeSchema):
    status = f.Str(validate=f.one_of(PLAN_STATUSES, "Status rencana"))
    planned_capacity = f.Int(strict=True, validate=validate.Range(1, 2000, error="1 sampai 2000."))
    target_year = f.Int(strict=True, validate=validate.Range(2024, 2045, error="Tahun 2024 sampai 2045."))
    note = f.text(1, 1000, allow_none=True)


class CentrePlanRecordSchema(f.Schema):
    id = f.Str()
    regency = f.Str()
    regency_name = f.Str()
    name = f.Str()
    kind = f.Str()
    categories = f.List(f.Str())
    planned_capacity = f.Int()
    target_year = f.Int()
    status = f.Str()
    note = f.Str(allow_none=True)
