"""Intake's entry points: HTTP in, domain functions, JSON out. Nothing else lives here."""
from __future__ import annotations

from rehsos import auth, heartbeat, jurisdiction, registry
from rehsos.api import api, domain_errors
from rehsos.messaging import event_consumer, receive
from rehsos.pages.front import FrontDoor
from rehsos.providers import Config, Database, settings_timer

from intake import schemas as s
from intake.domain import cases, consent, duplicates, persons, referrals, search
from intake.domain.common import Access, Office
from intake.models import messaging

CASE_WORKERS = (auth.OPERATOR, auth.SUPERVISOR, auth.ADMIN)
SUPERVISORS = (auth.SUPERVISOR, auth.ADMIN)


# Who may give or withdraw consent (intake.domain.consent), as the OpenAPI document states it.
GUARDIAN_RULE = {"given_by": "the guardian, already recorded, for a child or a person with an intellectual or "
                             "mental disability"}

class IntakeService(FrontDoor):
    name = "intake"

    config = Config()
    db = Database("intake", messaging)

    def _office(self) -> Office:
        return Office(self.config.node, self.config.person_key_secret, self.config.node_public_keys)

    @staticmethod
    def _access(request, default_purpose: str) -> Access:
        # The purpose of access goes to the audit log; clients may state it per request.
        purpose = (request.headers.get("X-Purpose") or default_purpose).strip()[:255]
        return Access(request.principal, purpose)

    def _case(self, case) -> dict:
        return cases.case_view(case, self.config.node)

    @api("GET", "/api/v1/reference", roles=CASE_WORKERS + (auth.FACILITY_MANAGER, auth.TRAINER),
         response=s.ReferenceListsSchema, tags=("reference",))
    def reference_data(self, request):
        """Reference lists for forms: the 26 PPKS categories (versioned), disability types,
        stages, ATENSI components, regions, the office's kecamatan, consent purposes and legal bases."""
        return search.reference_lists(self.config.node)

    # -- persons --------------------------------------------------------------------------------
    @api("POST", "/api/v1/persons",
         rules=jurisdiction.REQUEST_RULE, roles=CASE_WORKERS, body=s.PersonRegistrationSchema, response=s.PersonSchema,
         status=201, tags=("persons",))
    def register_person(self, request):
        """Register a person, with or without a NIK (pendaftaran orang)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            person = persons.register_person(uow, request.data, office=self._office(),
                                             access=self._access(request, "pendaftaran"))
            return 201, persons.person_view(person)

    @api("GET", "/api/v1/persons/<string(length=36):person_id>", roles=CASE_WORKERS, response=s.PersonSchema,
         tags=("persons",))
    def get_person(self, request, person_id):
        """Read a person's identity (audit-logged)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            person = persons.get_person(uow, person_id, access=self._access(request, "melihat data orang"))
            return persons.person_view(person)

    @api("PATCH", "/api/v1/persons/<string(length=36):person_id>",
         rules={"categories": "keeps the categories of the person's cases"},
         roles=CASE_WORKERS, body=s.PersonUpdateSchema,
         response=s.PersonSchema, tags=("persons",))
    def update_person(self, request, person_id):
        """Correct or update a person's record (name, birth date, address, guardian, categories...)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            person = persons.update_person(uow, person_id, request.data,
                                           access=self._access(request, "ubah data orang"))
            return persons.person_view(person)

    @api("PUT", "/api/v1/persons/<string(length=36):person_id>/nik", roles=CASE_WORKERS, body=s.NikSchema,
         response=s.PersonSchema, tags=("persons",))
    def attach_nik(self, request, person_id):
        """Attach the NIK of a person registered without identity papers."""
        with domain_errors(), self.db.unit_of_work() as uow:
            person = persons.attach_nik(uow, person_id, request.data["nik"], office=self._office(),
                                        access=self._access(request, "melengkapi identitas"))
            return persons.person_view(person)

    @api("GET", "/api/v1/persons/<string(length=36):person_id>/duplicates", roles=CASE_WORKERS,
         response=s.DuplicateCandidateSchema, many=True, tags=("persons",))
    def likely_duplicates(self, request, person_id):
        """Persons who may be the same as this one, for the operator to confirm or dismiss."""
        with domain_errors(), self.db.unit_of_work() as uow:
            candidates = duplicates.likely_duplicates(uow, person_id, access=self._access(request, "cek duplikat"))
            return candidates

    @api("POST", "/api/v1/persons/<string(length=36):person_id>/duplicates/<string(length=36):other_id>",
         rules={"other_id": "another person than person_id"},
         roles=CASE_WORKERS, body=s.DuplicateDecisionSchema, response=s.PersonSchema, tags=("persons",))
    def review_duplicate(self, request, person_id, other_id):
        """Dismiss a likely duplicate, or merge the other person into this one (history kept)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            person = duplicates.review_duplicate(uow, person_id, other_id, request.data["decision"],
                                                 office=self._office(), access=self._access(request, "duplikat"))
            return persons.person_view(person)

    @api("POST", "/api/v1/persons/<string(length=36):person_id>/cases", roles=CASE_WORKERS, body=s.CaseOpenSchema,
         response=s.CaseSchema, status=201, tags=("cases",))
    def open_case(self, request, person_id):
        """Open a further case for a registered person."""
        with domain_errors(), self.db.unit_of_work() as uow:
            access = self._access(request, "membuka kasus")
            person = persons.get_person(uow, person_id, access=access, action="person.open_case")
            case = cases.open_case(uow, person, request.data, office=self._office(), access=access)
            return 201, self._case(case)

    @api("GET", "/api/v1/duplicates/cross-node", roles=CASE_WORKERS, response=s.CrossNodeMatchSchema, many=True,
         tags=("persons",))
    def cross_node_duplicates(self, request):
        """Persons of this node that the hub found registered at other nodes too."""
        with domain_errors(), self.db.unit_of_work() as uow:
            rows = duplicates.cross_node_matches(uow, access=self._access(request, "cek duplikat antarwilayah"))
            return rows

    @settings_timer("heartbeat_interval")
    def send_heartbeat(self):
        """Tell the hub this service of the node is alive (``node.heartbeat``), even when nothing happens."""
        heartbeat.beat(self.db, self.config.node)

    @event_consumer("intake")
    def on_downlink_event(self, delivery):
        """Events from the hub and other nodes addressed to this node."""
        node = self.config.node
        handlers = {"person.duplicate_detected":
                    lambda uow, event: duplicates.apply_duplicate_detected(uow, event, node)}
        handlers.update({event_type: lambda uow, event: referrals.apply_referral_answer(uow, event, node)
                         for event_type in registry.REFERRAL_ANSWERS})
        return receive(self.db, delivery, handlers, self.config)

    # -- consent --------------------------------------------------------------------------------
    @api("GET", "/api/v1/persons/<string(length=36):person_id>/consents", roles=CASE_WORKERS,
         response=s.ConsentRecordSchema, many=True, tags=("consent",))
    def list_consents(self, request, person_id):
        """Consent records of a person, oldest first."""
        with domain_errors(), self.db.unit_of_work() as uow:
            records = consent.consents(uow, person_id, access=self._access(request, "melihat persetujuan"))
            return records

    @api("POST", "/api/v1/persons/<string(length=36):person_id>/consents",
         rules=GUARDIAN_RULE,
         roles=CASE_WORKERS,
         body=s.ConsentSchema, response=s.ConsentRecordSchema, status=201, tags=("consent",))
    def give_consent(self, request, person_id):
        """Record consent for a purpose, by the person or their guardian."""
        with domain_errors(), self.db.unit_of_work() as uow:
            record = consent.record_consent(uow, person_id, request.data, office=self._office(),
                                            access=self._access(request, "mencatat persetujuan"))
            return 201, record

    @api("POST", "/api/v1/persons/<string(length=36):person_id>/consents/withdrawal",
         rules=GUARDIAN_RULE,
         roles=CASE_WORKERS,
         body=s.ConsentWithdrawalSchema, response=s.ConsentRecordSchema, status=201, tags=("consent",))
    def withdraw_consent(self, request, person_id):
        """Record the withdrawal of consent; further processing for that purpose stops."""
        with domain_errors(), self.db.unit_of_work() as uow:
            access = self._access(request, "pencabutan persetujuan")
            record = consent.record_consent(uow, person_id, request.data, status="withdrawn", office=self._office(),
                                            access=access)
            if record.purpose == "referral":  # the panti that received the person's dossier deletes it
                referrals.withdraw_dossiers(uow, person_id, office=self._office(), access=access)
            return 201, record

    # -- cases ----------------------------------------------------------------------------------
    @api("POST", "/api/v1/cases",
         rules=jurisdiction.REQUEST_RULE, roles=CASE_WORKERS, body=s.CaseRegistrationSchema, response=s.CaseSchema,
         status=201, tags=("cases",))
    def register_case(self, request):
        """Register a person and their case in one step (pendaftaran kasus PPKS)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            case = cases.register_case(uow, request.data, office=self._office(),
                                       access=self._access(request, "pendaftaran kasus"))
            return 201, self._case(case)

    @api("GET", "/api/v1/cases", roles=CASE_WORKERS, query=s.CaseSearchSchema, response=s.CasePageSchema,
         tags=("cases",))
    def search_cases(self, request):
        """List and filter cases, paginated and sorted."""
        with domain_errors(), self.db.unit_of_work() as uow:
            page = search.search_cases(uow, request.query, access=self._access(request, "daftar kasus"))
            return page

    @api("GET", "/api/v1/cases/<string(length=36):case_id>", roles=CASE_WORKERS, response=s.CaseSchema,
         tags=("cases",))
    def get_case(self, request, case_id):
        """Read a case with the person's identity (audit-logged)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return self._case(cases.get_case(uow, case_id, access=self._access(request, "melihat kasus")))

    @api("GET", "/api/v1/cases/<string(length=36):case_id>/timeline", roles=CASE_WORKERS,
         response=s.TimelineEntrySchema, many=True, tags=("cases",))
    def case_timeline(self, request, case_id):
        """Everything that happened in a case, in order."""
        with domain_errors(), self.db.unit_of_work() as uow:
            entries = cases.timeline(uow, case_id, access=self._access(request, "melihat riwayat kasus"))
            return entries

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/stage", roles=CASE_WORKERS, body=s.StageChangeSchema,
         response=s.CaseSchema, tags=("cases",))
    def change_stage(self, request, case_id):
        """Move a case to another rehabilitation stage (allowed transitions only)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            case = cases.change_stage(uow, case_id, request.data["stage"], note=request.data.get("note"),
                                      office=self._office(), access=self._access(request, "tahap kasus"))
            return self._case(case)

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/assessments", roles=CASE_WORKERS,
         body=s.AssessmentSchema, response=s.RecordedSchema, status=201, tags=("cases",))
    def record_assessment(self, request, case_id):
        """Record an assessment (asesmen): needs per ATENSI component, risk, recommendation."""
        with domain_errors(), self.db.unit_of_work() as uow:
            assessment = cases.record_assessment(uow, case_id, request.data, office=self._office(),
                                                 access=self._access(request, "asesmen"))
            return 201, assessment

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/plans", roles=CASE_WORKERS, body=s.PlanSchema,
         response=s.RecordedSchema, status=201, tags=("cases",))
    def record_plan(self, request, case_id):
        """Record an intervention plan (rencana intervensi)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            plan = cases.record_plan(uow, case_id, request.data, access=self._access(request, "rencana intervensi"))
            return 201, plan

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/services", roles=CASE_WORKERS, body=s.ServiceSchema,
         response=s.RecordedSchema, status=201, tags=("cases",))
    def record_service(self, request, case_id):
        """Log a service delivered to the person."""
        with domain_errors(), self.db.unit_of_work() as uow:
            service = cases.record_service(uow, case_id, request.data, access=self._access(request, "layanan"))
            return 201, service

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/closure", roles=CASE_WORKERS,
         body=s.ClosureRequestSchema, response=s.CaseSchema, tags=("cases",))
    def request_closure(self, request, case_id):
        """Ask to close a case, with reason and outcome; a supervisor decides."""
        with domain_errors(), self.db.unit_of_work() as uow:
            case = cases.request_closure(uow, case_id, request.data, access=self._access(request, "penutupan kasus"))
            return self._case(case)

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/closure/decision", roles=SUPERVISORS,
         body=s.ClosureDecisionSchema, response=s.CaseSchema, tags=("cases",))
    def decide_closure(self, request, case_id):
        """Approve or reject a closure (supervisor, not the one who asked)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            case = cases.decide_closure(uow, case_id, request.data, office=self._office(),
                                        access=self._access(request, "persetujuan penutupan"))
            return self._case(case)

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/reopen", roles=CASE_WORKERS, body=s.ReopenSchema,
         response=s.CaseSchema, tags=("cases",))
    def reopen_case(self, request, case_id):
        """Reopen a closed case; it returns to assessment."""
        with domain_errors(), self.db.unit_of_work() as uow:
            case = cases.reopen_case(uow, case_id, request.data, office=self._office(),
                                     access=self._access(request, "membuka kembali kasus"))
            return self._case(case)

    @api("POST", "/api/v1/cases/<string(length=36):case_id>/referrals", roles=CASE_WORKERS, body=s.ReferralSchema,
         response=s.ReferralRecordSchema, status=201, tags=("referrals",))
    def request_referral(self, request, case_id):
        """Refer the case to a facility of any node (needs consent, or a supervisor's override)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            referral = referrals.request_referral(uow, case_id, request.data, office=self._office(),
                                                  access=self._access(request, "rujukan"),
                                                  may_override=request.principal.role in SUPERVISORS)
            return 201, referral

    # -- audit ----------------------------------------------------------------------------------
    @api("GET", "/api/v1/audit", roles=(auth.ADMIN,), query=s.AuditQuerySchema, response=s.AuditEntrySchema,
         many=True, tags=("audit",))
    def query_audit(self, request):
        """Who read or changed which personal record, when and why (admin)."""
        with self.db.session() as session:
            return search.query_audit(session, request.query)

