"""Intake's entry points: HTTP in, domain functions, JSON out. Nothing else lives here."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import eventlet
from marshmallow import ValidationError
from nameko.exceptions import RemoteError, UnknownService
from werkzeug.wrappers import Response

from rehsos import auth, heartbeat, jurisdiction, reference, registry
from rehsos.api import ApiError, api, domain_errors
from rehsos.api.rpc import RpcProxy
from rehsos.api.sessions import SESSION_COOKIE
from rehsos.messaging import event_consumer, receive
from rehsos.pages import Form, Viewer, refusal, render, see_other, submitted
from rehsos.pages.front import FrontDoor
from rehsos.providers import Config, Database, settings_timer

from intake import pages
from intake import schemas as s
from intake.domain import cases, consent, duplicates, persons, referrals, search
from intake.domain.common import Access, Office
from intake.models import messaging

CASE_WORKERS = (auth.OPERATOR, auth.SUPERVISOR, auth.ADMIN)
SUPERVISORS = (auth.SUPERVISOR, auth.ADMIN)


# Who may give or withdraw consent (intake.domain.consent), as the OpenAPI document states it.
GUARDIAN_RULE = {"given_by": "the guardian, already recorded, for a child or a person with an intellectual or "
                             "mental disability"}
PAGES = ("pages",)
# What a page says after a form went through (``?pesan=``): fixed words, never text from the address.
DONE = {"terdaftar": "Orang dan kasusnya sudah terdaftar.",
        "dibuka": "Kasus baru dibuka untuk orang yang sudah terdaftar.",
        "persetujuan": "Persetujuan dicatat.", "wali": "Data wali disimpan.",
        "pencabutan": "Pencabutan persetujuan dicatat.",
        "asesmen": "Asesmen dicatat.", "rencana": "Rencana intervensi dicatat.", "layanan": "Layanan dicatat.",
        "tahap": "Tahap kasus dipindahkan.", "penutupan": "Penutupan diajukan; menunggu persetujuan supervisor.",
        "keputusan": "Keputusan penutupan dicatat.", "dibuka-kembali": "Kasus dibuka kembali.",
        "dirujuk": "Rujukan dikirim; jawaban panti akan tampil di halaman ini."}


class IntakeService(FrontDoor):
    name = "intake"

    config = Config()
    db = Database("intake", messaging)
    facilities = RpcProxy("facilities")  # the node's facilities service: the directory of free beds

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
            return 201, self._withdraw(uow, person_id, request.data, self._access(request, "pencabutan persetujuan"))

    def _withdraw(self, uow, person_id: str, data: dict, access: Access):
        record = consent.record_consent(uow, person_id, data, status="withdrawn", office=self._office(), access=access)
        if record.purpose == "referral":  # the panti that received the person's dossier deletes it
            referrals.withdraw_dossiers(uow, person_id, office=self._office(), access=access)
        return record

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


    # -- pages (issue 13): the same schemas and domain functions as the API above -------------------
    def _page(self, request, template: str, *, path: str, title: str, status: int = 200, **context) -> Response:
        flash = DONE.get(request.args.get("pesan", ""))
        return render(pages.ENV, template, viewer=Viewer.of(request, self.config.node), path=path, title=title,
                      status=status, flash=context.pop("flash", flash), **context)

    def _page_access(self, request, purpose: str = pages.PURPOSE) -> Access:
        return Access(request.principal, purpose)

    def _error_page(self, request, exc: ApiError, back: str | None = None) -> Response:
        return self._page(request, "kit/error.html", path=request.path, title="Tidak dapat ditampilkan",
                          status=exc.status, message=exc.message, back=back)

    @api("GET", "/kasus", roles=CASE_WORKERS, html=True, tags=PAGES)
    def cases_page(self, request):
        """Kasus: search and filter the caseload, a page at a time."""
        raw = {k: v.strip() for k, v in request.args.items() if v.strip() and k != "pesan"}
        form, found = Form(values=raw), None
        try:
            query = s.CaseSearchSchema().load(raw)
        except ValidationError as exc:
            form = pages.refused(raw, exc.messages)
        else:
            with self.db.unit_of_work() as uow:
                found = search.search_cases(uow, query, access=self._page_access(request))
        def page_link(number: int) -> str:
            return "/kasus?" + urlencode({**raw, "page": number})
        return self._page(request, "kasus/daftar.html", path="/kasus", title="Kasus",
                          status=422 if form.invalid else 200,
                          form=form, found=found, page_link=page_link, categories=pages.categories(),
                          stages=list(pages.STAGE_NAMES.items()), statuses=list(pages.STATUS_NAMES.items()),
                          kecamatan=pages.kecamatan_options(self.config.node), labels=pages.FIELD_LABELS,
                          names=pages)

    # register a person and their case, duplicates shown first
    def _registration_page(self, request, form: Form, *, status: int = 200, candidates=None) -> Response:
        return self._page(request, "kasus/baru.html", path="/kasus/baru", title="Daftarkan PPKS", status=status,
                          form=form, candidates=candidates, categories=pages.categories(), sexes=pages.SEXES,
                          kecamatan=pages.kecamatan_options(self.config.node),
                          disabilities=pages.disability_options(), labels=pages.FIELD_LABELS,
                          regencies=pages.regency_options() if self.config.node == reference.PROVINCE else None)

    @api("GET", "/kasus/baru", roles=CASE_WORKERS, html=True, tags=PAGES)
    def registration_form(self, request):
        """Daftarkan PPKS: a person, with or without NIK, and their first case."""
        return self._registration_page(request, Form())

    @api("POST", "/kasus/baru", roles=CASE_WORKERS, html=True, tags=PAGES)
    def registration_submitted(self, request):
        """Register (after the likely duplicates were shown), or open a case for a person picked from them."""
        fields = submitted(request)
        values = pages.kept(fields, request.form)
        if fields.get("pilih"):
            return self._open_case_for(request, fields["pilih"], fields, values)
        try:
            data = s.CaseRegistrationSchema().load(pages.registration(fields, request.form, self._regency(fields)))
        except ValidationError as exc:
            return self._registration_page(request, pages.refused(values, exc.messages), status=422)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                if fields.get("keputusan") != "baru":
                    candidates = duplicates.likely_duplicates_of_registration(
                        uow, data, access=self._page_access(request, "cek duplikat"))
                    if candidates:
                        return self._registration_page(request, Form(values=values), candidates=candidates)
                case = cases.register_case(uow, data, office=self._office(),
                                           access=self._page_access(request, "pendaftaran kasus"))
                case_id = case.id
        except ApiError as exc:
            return self._registration_page(request, pages.refused(values, refusal(exc)[1]), status=exc.status)
        return see_other(f"/kasus/{case_id}?pesan=terdaftar")

    def _regency(self, fields: dict) -> str | None:
        """The regency a person is registered in: the office's own; the province's office chooses one."""
        return fields.get("regency") if self.config.node == reference.PROVINCE else self.config.node

    def _open_case_for(self, request, person_id: str, fields: dict, values: dict) -> Response:
        try:
            data = s.CaseOpenSchema().load(pages.picked(fields, "category", "worker"))
        except ValidationError as exc:
            return self._registration_page(request, pages.refused(values, exc.messages), status=422)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                access = self._page_access(request, "membuka kasus")
                person = persons.get_person(uow, person_id, access=access, action="person.open_case")
                case_id = cases.open_case(uow, person, data, office=self._office(), access=access).id
        except ApiError as exc:
            return self._registration_page(request, pages.refused(values, refusal(exc)[1]), status=exc.status)
        return see_other(f"/kasus/{case_id}?pesan=dibuka")

    # a case, its timeline and its forms
    def _case_page(self, request, case_id: str, *, forms: pages.CaseForms | None = None,
                   status: int = 200) -> Response:
        access = self._page_access(request)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                case = cases.get_case(uow, case_id, access=access)
                view = self._case(case)
                entries = [{"at": e.at, "actor": e.actor, "text": pages.timeline_text(e.kind, e.detail)}
                           for e in cases.timeline(uow, case_id, access=access)]
                records = consent.consents(uow, case.person_id, access=access)
                context = dict(case=view, timeline=entries, consents=pages.consent_rows(records),
                               consent_now=pages.consent_now(records),
                               referrals=pages.referral_rows(referrals.case_referrals(uow.session, case_id)),
                               guardian_needed=consent.needs_guardian(case.person, date.today()))
        except ApiError as exc:
            return self._error_page(request, exc, back="/kasus")
        title = f"Kasus {view['person']['name']}"
        return self._page(request, "kasus/kasus.html", path=f"/kasus/{case_id}", title=title, status=status,
                          case_forms=forms or pages.CaseForms(), next_stages=pages.next_stages(view["stage"]),
                          atensi=pages.ATENSI, risks=pages.RISKS, outcomes=pages.OUTCOMES, purposes=pages.PURPOSES,
                          legal_bases=pages.LEGAL_BASES, givers=pages.GIVERS, names=pages,
                          supervisor=request.principal.role in SUPERVISORS, labels=pages.FIELD_LABELS, **context)

    def _case_action(self, request, case_id: str, form_name: str, schema, to_data, act, done: str) -> Response:
        """One form of the case page: loaded through the API's schema, carried out by ``act(uow,
        data)``, the page shown again with the messages beside the fields when refused."""
        fields = submitted(request)
        values = pages.kept(fields, request.form)
        try:
            data = schema().load(to_data(fields))
        except ValidationError as exc:
            return self._case_page(request, case_id, status=422,
                                   forms=pages.CaseForms.with_refused(form_name, pages.refused(values, exc.messages)))
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                act(uow, data)
        except ApiError as exc:
            if exc.status not in (409, 422):
                return self._error_page(request, exc, back="/kasus")
            return self._case_page(request, case_id, status=exc.status,
                                   forms=pages.CaseForms.with_refused(form_name, pages.refused(values, refusal(exc)[1])))
        return see_other(f"/kasus/{case_id}?pesan={done}")

    def _person_of(self, uow, case_id: str, access: Access) -> str:
        return cases.get_case(uow, case_id, access=access).person_id

    @api("GET", "/kasus/<string(length=36):case_id>", roles=CASE_WORKERS, html=True, tags=PAGES)
    def case_page(self, request, case_id):
        """A case: the person, the stage, consent, referrals and the timeline, with the forms that move it."""
        return self._case_page(request, case_id)

    @api("POST", "/kasus/<string(length=36):case_id>/persetujuan", roles=CASE_WORKERS, html=True, tags=PAGES)
    def consent_submitted(self, request, case_id):
        """Record consent (by the person, or their guardian where the law asks for one)."""
        access = self._page_access(request, "mencatat persetujuan")
        return self._case_action(
            request, case_id, "consent", s.ConsentSchema,
            lambda f: pages.picked(f, "purpose", "legal_basis", "given_by", "recorded_on", "note"),
            lambda uow, data: consent.record_consent(uow, self._person_of(uow, case_id, access), data,
                                                     office=self._office(), access=access), "persetujuan")

    @api("POST", "/kasus/<string(length=36):case_id>/pencabutan", roles=CASE_WORKERS, html=True, tags=PAGES)
    def withdrawal_submitted(self, request, case_id):
        """Withdraw consent for a purpose (for referral: the panti's copy of the dossier is deleted)."""
        access = self._page_access(request, "pencabutan persetujuan")
        return self._case_action(
            request, case_id, "withdrawal", s.ConsentWithdrawalSchema,
            lambda f: pages.picked(f, "purpose", "given_by", "note"),
            lambda uow, data: self._withdraw(uow, self._person_of(uow, case_id, access), data, access), "pencabutan")

    @api("POST", "/kasus/<string(length=36):case_id>/wali", roles=CASE_WORKERS, html=True, tags=PAGES)
    def guardian_submitted(self, request, case_id):
        """Record or correct the person's guardian (who gives consent for a child, say)."""
        access = self._page_access(request, "ubah data orang")
        return self._case_action(
            request, case_id, "guardian", s.PersonUpdateSchema,
            lambda f: pages.picked(f, "guardian_name", "guardian_relationship", "guardian_phone"),
            lambda uow, data: persons.update_person(uow, self._person_of(uow, case_id, access), data, access=access),
            "wali")

    @api("POST", "/kasus/<string(length=36):case_id>/asesmen", roles=CASE_WORKERS, html=True, tags=PAGES)
    def assessment_submitted(self, request, case_id):
        """Record an assessment: needs per ATENSI component, risk, recommendation."""
        return self._case_action(
            request, case_id, "assessment", s.AssessmentSchema, pages.assessment,
            lambda uow, data: cases.record_assessment(uow, case_id, data, office=self._office(),
                                                      access=self._page_access(request, "asesmen")), "asesmen")

    @api("POST", "/kasus/<string(length=36):case_id>/rencana", roles=CASE_WORKERS, html=True, tags=PAGES)
    def plan_submitted(self, request, case_id):
        """Record an intervention plan."""
        return self._case_action(
            request, case_id, "plan", s.PlanSchema, lambda f: pages.plan(f, request.form),
            lambda uow, data: cases.record_plan(uow, case_id, data,
                                                access=self._page_access(request, "rencana intervensi")), "rencana")

    @api("POST", "/kasus/<string(length=36):case_id>/layanan", roles=CASE_WORKERS, html=True, tags=PAGES)
    def service_submitted(self, request, case_id):
        """Log a service delivered."""
        return self._case_action(
            request, case_id, "service", s.ServiceSchema,
            lambda f: pages.picked(f, "component", "delivered_on", "description", "worker"),
            lambda uow, data: cases.record_service(uow, case_id, data, access=self._page_access(request, "layanan")),
            "layanan")

    @api("POST", "/kasus/<string(length=36):case_id>/tahap", roles=CASE_WORKERS, html=True, tags=PAGES)
    def stage_submitted(self, request, case_id):
        """Move the case to another stage (allowed moves only)."""
        return self._case_action(
            request, case_id, "stage", s.StageChangeSchema, lambda f: pages.picked(f, "stage", "note"),
            lambda uow, data: cases.change_stage(uow, case_id, data["stage"], note=data.get("note"),
                                                 office=self._office(),
                                                 access=self._page_access(request, "tahap kasus")), "tahap")

    @api("POST", "/kasus/<string(length=36):case_id>/penutupan", roles=CASE_WORKERS, html=True, tags=PAGES)
    def closure_submitted(self, request, case_id):
        """Ask to close the case; a supervisor decides."""
        return self._case_action(
            request, case_id, "closure", s.ClosureRequestSchema, lambda f: pages.picked(f, "reason", "outcome"),
            lambda uow, data: cases.request_closure(uow, case_id, data,
                                                    access=self._page_access(request, "penutupan kasus")), "penutupan")

    @api("POST", "/kasus/<string(length=36):case_id>/penutupan/keputusan", roles=SUPERVISORS, html=True, tags=PAGES)
    def closure_decided(self, request, case_id):
        """A supervisor approves or rejects the closure (not the one who asked)."""
        return self._case_action(
            request, case_id, "decision", s.ClosureDecisionSchema, pages.closure_decision,
            lambda uow, data: cases.decide_closure(uow, case_id, data, office=self._office(),
                                                   access=self._page_access(request, "persetujuan penutupan")),
            "keputusan")

    @api("POST", "/kasus/<string(length=36):case_id>/buka-kembali", roles=CASE_WORKERS, html=True, tags=PAGES)
    def reopen_submitted(self, request, case_id):
        """Reopen a closed case."""
        return self._case_action(
            request, case_id, "reopen", s.ReopenSchema, lambda f: pages.picked(f, "reason"),
            lambda uow, data: cases.reopen_case(uow, case_id, data, office=self._office(),
                                                access=self._page_access(request, "membuka kembali kasus")),
            "dibuka-kembali")

    # referral from the directory of free beds
    def _free_beds(self, request, case: dict) -> list[dict] | None:
        """The province's facilities with a free bed for this person, from the node's facilities
        service (its directory, over RPC, as the person signed in); None when it does not answer."""
        query = {"category": case["category"], "sex": case["person"]["sex"], "regency": case["regency"]}
        try:
            with eventlet.Timeout(pages.DIRECTORY_TIMEOUT_SECONDS):
                answers = self.facilities.find_beds.call_async(session=request.cookies.get(SESSION_COOKIE),
                                                               query=query).result()
        except (eventlet.Timeout, UnknownService, RemoteError):
            return None
        return pages.directory_rows(answers)

    def _referral_page(self, request, case_id: str, form: Form, status: int = 200) -> Response:
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                case = cases.get_case(uow, case_id, access=self._page_access(request))
                view = self._case(case)
                consented = consent.consent_status(uow.session, case.person_id, "referral")
        except ApiError as exc:
            return self._error_page(request, exc, back="/kasus")
        if not form.values and request.args.get("fasilitas"):  # chosen on the directory page
            form = Form(values={"fasilitas": request.args["fasilitas"]})
        # A code typed before (the directory did not answer then) is shown again as typed.
        rows = None if form.value("cara") == "kode" else self._free_beds(request, view)
        if rows is not None and form.value("fasilitas"):
            chosen = [r["choice"] for r in rows if r["facility_id"] == form.value("fasilitas")]
            form = Form(values={**form.values, "facility": chosen[0] if chosen else ""}, errors=form.errors)
        return self._page(request, "kasus/rujuk.html", path=f"/kasus/{case_id}/rujuk", title="Rujuk ke panti",
                          status=status, case=view, form=form, rows=rows, consented=consented,
                          supervisor=request.principal.role in SUPERVISORS, nodes=pages.node_options(),
                          labels=pages.FIELD_LABELS, names=pages)

    @api("GET", "/kasus/<string(length=36):case_id>/rujuk", roles=CASE_WORKERS, html=True, tags=PAGES)
    def referral_form(self, request, case_id):
        """Rujuk: choose a facility from the province's directory of free beds."""
        return self._referral_page(request, case_id, Form())

    @api("POST", "/kasus/<string(length=36):case_id>/rujuk", roles=CASE_WORKERS, html=True, tags=PAGES)
    def referral_submitted(self, request, case_id):
        """Refer the case to the facility chosen (consent, or a supervisor's reason, as the API asks)."""
        fields = submitted(request)
        values = dict(fields)
        try:
            data = s.ReferralSchema().load(pages.referral(fields))
        except ValidationError as exc:
            return self._referral_page(request, case_id, pages.refused(values, exc.messages), 422)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                referrals.request_referral(uow, case_id, data, office=self._office(),
                                           access=self._page_access(request, "rujukan"),
                                           may_override=request.principal.role in SUPERVISORS)
        except ApiError as exc:
            if exc.status not in (409, 422):
                return self._error_page(request, exc, back="/kasus")
            return self._referral_page(request, case_id, pages.refused(values, refusal(exc)[1]), exc.status)
        return see_other(f"/kasus/{case_id}?pesan=dirujuk")
