"""Intake's entry points: HTTP in, domain functions, JSON out. Nothing else lives here."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from rehsos import auth
from rehsos.http import Conflict, NotFound, Unprocessable, api
from rehsos.providers import Config, Database

from intake import domain
from intake.models import messaging
from intake.schemas import CaseRegistrationSchema, CaseSchema

CASE_WORKERS = (auth.OPERATOR, auth.SUPERVISOR, auth.ADMIN)


def _access(request, default_purpose: str) -> domain.Access:
    # The purpose of access goes to the audit log; clients may state it per request.
    purpose = (request.headers.get("X-Purpose") or default_purpose).strip()[:255]
    return domain.Access(request.principal, purpose)


class IntakeService:
    name = "intake"

    config = Config()
    db = Database("intake", messaging)

    @api("POST", "/api/v1/cases", roles=CASE_WORKERS, body=CaseRegistrationSchema, response=CaseSchema,
         status=201, tags=("intake",))
    def register_case(self, request):
        """Register a person and their case (pendaftaran kasus PPKS)."""
        try:
            with self.db.unit_of_work() as uow:
                case = domain.register_case(uow, request.data, node=self.config.node,
                                            secret=self.config.person_key_secret,
                                            access=_access(request, "pendaftaran kasus"))
                body = CaseSchema().dump(domain.case_view(case, self.config.node))
        except domain.OutsideJurisdiction as exc:
            raise Unprocessable("Data yang dikirim tidak valid.", fields={
                "regency": [f"Node {self.config.node} hanya mendaftarkan kasus di wilayahnya sendiri, bukan {exc}."]})
        except domain.DuplicateNik as exc:
            raise Conflict(f"NIK sudah terdaftar di node ini untuk orang dengan id {exc.person_id}.",
                           code="duplicate_nik", fields={"nik": ["NIK sudah terdaftar."], "person_id": exc.person_id})
        except IntegrityError:
            # Two registrations of one NIK raced past the check; the database kept one.
            raise Conflict("NIK sudah terdaftar di node ini.", code="duplicate_nik",
                           fields={"nik": ["NIK sudah terdaftar."]}) from None
        return 201, body

    @api("GET", "/api/v1/cases/<string(length=36):case_id>", roles=CASE_WORKERS, response=CaseSchema,
         tags=("intake",))
    def get_case(self, request, case_id):
        """Read a case with the person's identity (audit-logged)."""
        with self.db.unit_of_work() as uow:
            case = domain.read_case(uow, case_id, access=_access(request, "melihat kasus"))
            body = CaseSchema().dump(domain.case_view(case, self.config.node)) if case else None
        if body is None:
            raise NotFound("Kasus tidak ditemukan.")
        return body
