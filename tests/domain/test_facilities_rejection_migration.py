"""Facilities migration 0008 on SQLite: refusals made before it get their code; the text typed
then stays as the panti's note."""
import sqlalchemy as sa

from rehsos import db

REQUEST = ("INSERT INTO referral_request (referral_id, case_id, referring_node, facility_code, person_key, category, "
           "sex, age_band, consent_override, status, reason, received_at) VALUES (:id, :id, '6371', :facility, 'k', "
           "'gelandangan', 'male', '30-34', 0, :status, :reason, '2026-01-01 00:00:00')")
BEFORE = {  # id: (facility, status, reason typed or written then)
    "typed": ("f", "rejected", "Panti sedang direnovasi."),
    "lapsed": ("f", "expired", "Reservasi tempat tidur kedaluwarsa pada ..."),
    "unknown": (None, "rejected", "Fasilitas tidak dikenal di node ini."),
    "waiting": ("f", "requested", None),
}


def test_earlier_refusals_get_their_code_and_keep_their_text(tmp_path):
    uri = f"sqlite:///{tmp_path / 'facilities'}.sqlite"
    db.migrate("facilities", uri, "facilities_0007")
    engine = db.create_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO facility (code, name, kind, owner, owner_name, regency, address, categories, "
                             "disability_types, status, demo, created_at) VALUES ('f', 'Panti', 'panti', 'province', 'Dinas', "
                             "'6372', 'x', '[]', '[]', 'operating', 0, '2026-01-01 00:00:00')"))
        for id_, (facility, status, reason) in BEFORE.items():
            conn.execute(sa.text(REQUEST), {"id": id_, "facility": facility, "status": status, "reason": reason})
    db.migrate("facilities", uri)
    with engine.connect() as conn:
        rows = {r.referral_id: (r.reason_code, r.reason) for r in conn.execute(sa.text(
            "SELECT referral_id, reason_code, reason FROM referral_request"))}
    engine.dispose()
    assert rows == {"typed": ("other", "Panti sedang direnovasi."),
                    "lapsed": ("reservation_expired", "Reservasi tempat tidur kedaluwarsa pada ..."),
                    "unknown": ("unknown_facility", "Fasilitas tidak dikenal di node ini."), "waiting": (None, None)}
