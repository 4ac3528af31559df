"""Facilities' entry points: the registry of panti, sentra, LKS and rumah singgah of this node."""
from __future__ import annotations

from datetime import date

from marshmallow import ValidationError

from rehsos import auth, heartbeat, jurisdiction, reference, registry
from rehsos.api import ApiError, api, domain_errors
from rehsos.messaging import event_consumer, receive
from rehsos.pages import Form, Viewer, render, see_other, submitted
from rehsos.providers import Config, Database, settings_timer

from facilities import domain, pages
from facilities import schemas as s
from facilities.models import messaging

MANAGERS = (auth.FACILITY_MANAGER, auth.ADMIN)
READERS = (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER, auth.ADMIN)
REFERRAL_PAGE = "/panti/rujukan/<string(length=36):referral_id>"
PLAN_PAGE = "/panti/rencana/<string(length=36):plan_id>"
DOSSIER_PAGE_PURPOSE = "membaca dossier rujukan dari halaman panti"


class FacilitiesService:
    name = "facilities"

    config = Config()
    db = Database("facilities", messaging)

    def _view(self, facility) -> dict:
        return domain.facility_view(facility, self.config.node)

    @api("POST", "/api/v1/facilities",
         rules=jurisdiction.REQUEST_RULE, roles=MANAGERS, body=s.FacilityRegistrationSchema, response=s.FacilitySchema,
         status=201, tags=("facilities",))
    def register_facility(self, request):
        """Register a facility of this node with its units and capacities."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return 201, self._view(domain.register_facility(uow, request.data, node=self.config.node))

    @api("GET", "/api/v1/facilities", roles=READERS, query=s.FacilityQuerySchema, response=s.FacilitySchema,
         many=True, tags=("facilities",))
    def list_facilities(self, request):
        """Facilities of this node, filtered by regency, kind or PPKS category served."""
        with self.db.session() as session:
            return [self._view(f) for f in domain.list_facilities(session, request.query)]

    @api("GET", "/api/v1/facilities/<string(maxlength=64):code>", roles=READERS, response=s.FacilitySchema,
         tags=("facilities",))
    def get_facility(self, request, code):
        """One facility with its units."""
        with domain_errors(), self.db.session() as session:
            return self._view(domain.get_facility(session, code))

    @api("PATCH", "/api/v1/facilities/<string(maxlength=64):code>",
         rules=jurisdiction.REQUEST_RULE, roles=MANAGERS, body=s.FacilityUpdateSchema,
         response=s.FacilitySchema, tags=("facilities",))
    def update_facility(self, request, code):
        """Change a facility: contact, status (operational, temporarily closed, planned), units."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return self._view(domain.update_facility(uow, code, request.data, node=self.config.node))

    @api("GET", "/api/v1/facilities/<string(maxlength=64):code>/occupancy", roles=READERS,
         response=s.UnitOccupancySchema, many=True, tags=("facilities",))
    def occupancy(self, request, code):
        """Beds per unit: capacity, taken (admissions and unexpired reservations) and free."""
        with domain_errors(), self.db.session() as session:
            return domain.occupancy(session, domain.get_facility(session, code))

    # -- referrals from any node -------------------------------------------------------------
    @event_consumer("facilities")
    def on_downlink_event(self, delivery):
        """Referrals addressed to this node's facilities."""
        node = self.config.node
        handlers = {"referral.requested": lambda uow, e: domain.receive_referral(uow, e, node),
                    registry.DOSSIER_SENT:
                        lambda uow, e: domain.receive_dossier(uow, e, node, self.config.dossier_private_key),
                    registry.DOSSIER_WITHDRAWN: lambda uow, e: domain.withdraw_dossier(uow, e, node),
                    "capacity.changed": domain.apply_snapshot}
        return receive(self.db, delivery, handlers, self.config)

    @api("GET", "/api/v1/directory", roles=READERS, query=s.DirectoryQuerySchema, response=s.DirectoryAnswerSchema,
         many=True, tags=("facilities",))
    def find_beds(self, request):
        """Which facility in the province can take this person now (same regency first, then free beds)."""
        with self.db.session() as session:
            answers = domain.find_beds(session, node=self.config.node, **{"regency": None, **request.query})
            return answers

    @settings_timer("heartbeat_interval")
    def send_heartbeat(self):
        """Tell the hub this service of the node is alive (``node.heartbeat``), even when nothing happens."""
        heartbeat.beat(self.db, self.config.node)

    @settings_timer("reservation_sweep_interval")
    def expire_reservations(self):
        """Free the beds of reservations that lapsed and tell the referring offices."""
        with self.db.unit_of_work() as uow:
            domain.expire_reservations(uow, node=self.config.node)

    @api("GET", "/api/v1/referrals", roles=MANAGERS, query=s.ReferralQuerySchema, response=s.ReferralRequestSchema,
         many=True, tags=("referrals",))
    def list_referrals(self, request):
        """Referrals received by this node's facilities, oldest first."""
        with self.db.session() as session:
            rows = domain.list_referrals(session, request.query.get("facility"), request.query.get("status"))
            return rows

    def _decide(self, request, referral_id, decision):
        with domain_errors(), self.db.unit_of_work() as uow:
            referral = domain.decide_referral(uow, referral_id, decision, request.data, node=self.config.node,
                                              actor=request.principal.actor)
            return referral

    @api("POST", "/api/v1/referrals/<string(length=36):referral_id>/accept",
         rules={"unit": "a unit of this facility for the referred person's sex"},
         roles=MANAGERS, body=s.AcceptSchema,
         response=s.ReferralRequestSchema, tags=("referrals",))
    def accept_referral(self, request, referral_id):
        """Accept: a bed in the unit is reserved until the expiry (409 when the unit is full)."""
        return self._decide(request, referral_id, "accept")

    @api("POST", "/api/v1/referrals/<string(length=36):referral_id>/reject", roles=MANAGERS, body=s.RejectSchema,
         response=s.ReferralRequestSchema, tags=("referrals",))
    def reject_referral(self, request, referral_id):
        """Reject with a reason; the referring node is told."""
        return self._decide(request, referral_id, "reject")

    @api("POST", "/api/v1/referrals/<string(length=36):referral_id>/waitlist", roles=MANAGERS, body=s.WaitlistSchema,
         response=s.ReferralRequestSchema, tags=("referrals",))
    def waitlist_referral(self, request, referral_id):
        """Put on the facility's waitlist; the referring node is told its position."""
        return self._decide(request, referral_id, "waitlist")

    @api("POST", "/api/v1/referrals/<string(length=36):referral_id>/admission",
         rules={"unit": "the unit reserved for the referral, or one to choose when none is"},
         roles=MANAGERS,
         body=s.AdmissionSchema, response=s.ReferralRequestSchema, tags=("referrals",))
    def admit(self, request, referral_id):
        """Record the admission (masuk panti): the reservation becomes an occupied bed."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return domain.admit(uow, referral_id, request.data, node=self.config.node)

    @api("POST", "/api/v1/referrals/<string(length=36):referral_id>/discharge",
         rules={"discharged_on": "not before the admission"},
         roles=MANAGERS,
         body=s.DischargeSchema, response=s.ReferralRequestSchema, tags=("referrals",))
    def discharge(self, request, referral_id):
        """Record the discharge with its outcome: the bed is free again."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return domain.discharge(uow, referral_id, request.data, node=self.config.node,
                                    actor=request.principal.actor)

    @api("GET", "/api/v1/referrals/<string(length=36):referral_id>/dossier", roles=MANAGERS,
         response=s.DossierSchema, answers=("409", "410"), tags=("referrals",))
    def read_dossier(self, request, referral_id):
        """The referred person's dossier, sent sealed for this node with consent (audit-logged; 410 once
        deleted: referral rejected or lapsed, consent withdrawn, person discharged)."""
        purpose = (request.headers.get("X-Purpose") or "membaca dossier rujukan").strip()[:255]
        with domain_errors(), self.db.unit_of_work() as uow:
            return domain.read_dossier(uow, referral_id, principal=request.principal, purpose=purpose,
                                       private_key=self.config.dossier_private_key)

    # -- planned centres --------------------------------------------------------------------
    @api("POST", "/api/v1/plans",
         rules=jurisdiction.REQUEST_RULE, roles=MANAGERS, body=s.CentrePlanSchema, response=s.CentrePlanRecordSchema, status=201,
         tags=("plans",))
    def propose_plan(self, request):
        """Propose a new rehabilitation centre in a regency (status usulan)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            plan = domain.propose_plan(uow, request.data, node=self.config.node, actor=request.principal.actor)
            return 201, domain.plan_view(plan)

    @api("PATCH", "/api/v1/plans/<string(length=36):plan_id>",
         rules=jurisdiction.REQUEST_RULE, roles=MANAGERS, body=s.CentrePlanUpdateSchema,
         response=s.CentrePlanRecordSchema, tags=("plans",))
    def update_plan(self, request, plan_id):
        """Move a plan on (disetujui, dibangun, beroperasi) or change its capacity or year."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return domain.plan_view(
                domain.update_plan(uow, plan_id, request.data, node=self.config.node))

    @api("GET", "/api/v1/plans", roles=READERS, response=s.CentrePlanRecordSchema, many=True, tags=("plans",))
    def list_plans(self, request):
        """Planned centres of this node, by target year."""
        with self.db.session() as session:
            return [domain.plan_view(p) for p in domain.list_plans(session)]

    # -- pages (issue 13): the panti manager's, and the directory operators refer from ---------------
    def _page(self, request, template: str, title: str, *, status: int = 200, **context):
        return render(pages.ENV, template, viewer=Viewer.of(request, self.config.node), path=request.path,
                      title=title, status=status, flash=pages.flash(request) if status == 200 else None, **context)

    def _problem(self, request, exc: ApiError, back: str):
        return self._page(request, "kit/error.html", "Tidak dapat ditampilkan", status=exc.status, message=exc.message,
                          back=back)

    @api("GET", "/panti", roles=MANAGERS, html=True, tags=("pages",))
    def panti_page(self, request):
        """Rujukan masuk dan hunian: referrals to decide, the waitlist, arrivals, residents, beds by unit."""
        with self.db.session() as session:
            facilities = domain.list_facilities(session, {})
            positions = {}
            for facility in facilities:
                positions.update(domain.waitlist_positions(session, facility.code))
            return self._page(
                request, "panti/inbox.html", "Rujukan masuk dan hunian",
                groups=pages.inbox(domain.list_referrals(session, None, None), positions), positions=positions,
                names={f.code: f.name for f in facilities},
                facilities=[pages.facility_beds(self._view(f), domain.occupancy(session, f)) for f in facilities])

    def _referral_page(self, request, referral_id: str, *, refused: dict | None = None, failed: str | None = None,
                       problem: str | None = None, status: int = 200):
        try:
            with domain_errors(), self.db.session() as session:
                referral = domain.get_referral(session, referral_id)
                deciding = referral.status in ("requested", "waitlisted")
                units = domain.units_with_a_free_bed(session, referral) if deciding else []
                return self._page(
                    request, "panti/referral.html", f"Rujukan {pages.short(referral_id)}", status=status,
                    referral=referral, facility=domain.get_facility(session, referral.facility_code),
                    units=units, unit_options=pages.unit_options(units),
                    position=domain.waitlist_positions(session, referral.facility_code).get(referral_id),
                    waitlisted=domain.waitlist_length(session, referral.facility_code),
                    dossier=pages.dossier_state(domain.dossier_kept(session, referral_id)),
                    forms_=pages.referral_forms(date.today(), refused), failed=failed, problem=problem,
                    outcome_options=pages.OUTCOME_OPTIONS, rejection_options=pages.REJECTION_OPTIONS,
                    rejection_reasons=reference.REJECTION_REASONS)
        except ApiError as exc:
            return self._problem(request, exc, back="/panti")

    @api("GET", REFERRAL_PAGE, roles=MANAGERS, html=True, tags=("pages",))
    def referral_page(self, request, referral_id):
        """One referral: what is known of it (never a name), its dossier's state, and what to do next."""
        return self._referral_page(request, referral_id)

    def _act(self, request, referral_id: str, form: str, schema, perform, done: str, numbers=()):
        """A referral page's form: loaded by the API's schema, done by the API's domain function."""
        values = submitted(request)
        try:
            body = schema().load(pages.api_shape(values, numbers))
            with domain_errors(), self.db.unit_of_work() as uow:
                perform(uow, body)
        except ValidationError as exc:
            return self._referral_page(request, referral_id, refused={form: pages.refused(values, exc.messages)},
                                       failed=form, status=422)
        except ApiError as exc:
            if exc.status == 404:
                return self._problem(request, exc, back="/panti")
            fields = exc.fields if isinstance(exc.fields, dict) and exc.status == 422 else {}
            return self._referral_page(request, referral_id, refused={form: pages.refused(values, fields)},
                                       failed=form, problem=None if fields else exc.message, status=exc.status)
        return see_other(f"/panti/rujukan/{referral_id}", done)

    def _decision(self, request, referral_id, decision, form, schema, done, numbers=()):
        return self._act(request, referral_id, form, schema, lambda uow, body: domain.decide_referral(
            uow, referral_id, decision, body, node=self.config.node, actor=request.principal.actor), done, numbers)

    @api("POST", REFERRAL_PAGE + "/terima", roles=MANAGERS, html=True, tags=("pages",))
    def accept_page(self, request, referral_id):
        """Accept from the page: a bed in the chosen unit reserved."""
        return self._decision(request, referral_id, "accept", "accept", s.AcceptSchema, "diterima", ("reserved_days",))

    @api("POST", REFERRAL_PAGE + "/tolak", roles=MANAGERS, html=True, tags=("pages",))
    def reject_page(self, request, referral_id):
        """Reject from the page, with a reason."""
        return self._decision(request, referral_id, "reject", "reject", s.RejectSchema, "ditolak")

    @api("POST", REFERRAL_PAGE + "/daftar-tunggu", roles=MANAGERS, html=True, tags=("pages",))
    def waitlist_page(self, request, referral_id):
        """Waitlist from the page."""
        return self._decision(request, referral_id, "waitlist", "waitlist", s.WaitlistSchema, "daftar-tunggu")

    @api("POST", REFERRAL_PAGE + "/masuk-panti", roles=MANAGERS, html=True, tags=("pages",))
    def admit_page(self, request, referral_id):
        """Record the arrival from the page (the reserved unit)."""
        return self._act(request, referral_id, "admit", s.AdmissionSchema, lambda uow, body: domain.admit(
            uow, referral_id, body, node=self.config.node), "masuk")

    @api("POST", REFERRAL_PAGE + "/keluar-panti", roles=MANAGERS, html=True, tags=("pages",))
    def discharge_page(self, request, referral_id):
        """Record the discharge from the page, with its outcome."""
        return self._act(request, referral_id, "discharge", s.DischargeSchema, lambda uow, body: domain.discharge(
            uow, referral_id, body, node=self.config.node, actor=request.principal.actor), "keluar")

    @api("GET", REFERRAL_PAGE + "/dossier", roles=MANAGERS, html=True, tags=("pages",))
    def dossier_page(self, request, referral_id):
        """The referred person's dossier, opened as GET .../dossier opens it (every read audit-logged)."""
        title = f"Dossier rujukan {pages.short(referral_id)}"
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                dossier = domain.read_dossier(uow, referral_id, principal=request.principal,
                                              purpose=DOSSIER_PAGE_PURPOSE,
                                              private_key=self.config.dossier_private_key)
        except ApiError as exc:  # 404 none came, 410 deleted, 409 no key: said in words
            return self._page(request, "panti/dossier.html", title, status=exc.status, referral_id=referral_id,
                              dossier=None, problem=exc.message)
        return self._page(request, "panti/dossier.html", title, referral_id=referral_id, dossier=dossier,
                          problem=None)

    # -- planned centres --
    def _plans_page(self, request, form: Form | None = None, status: int = 200):
        with self.db.session() as session:
            plans = [domain.plan_view(p) for p in domain.list_plans(session)]
        return self._page(request, "panti/plans.html", "Rencana pusat rehabilitasi", status=status, plans=plans,
                          form=form or Form(), category_options=pages.category_options(),
                          regency_options=pages.regency_options(reference.regions_served_by(self.config.node)),
                          kind_options=pages.KIND_OPTIONS)

    @api("GET", "/panti/rencana", roles=MANAGERS, html=True, tags=("pages",))
    def plans_page(self, request):
        """Planned centres of this node, and the form to propose one."""
        return self._plans_page(request)

    @api("POST", "/panti/rencana", roles=MANAGERS, html=True, tags=("pages",))
    def propose_plan_page(self, request):
        """Propose a centre from the page (status usulan)."""
        values = submitted(request)
        values["categories"] = request.form.getlist("categories")
        try:
            body = s.CentrePlanSchema().load(pages.api_shape(values, ("planned_capacity", "target_year")))
            with domain_errors(), self.db.unit_of_work() as uow:
                plan = domain.propose_plan(uow, body, node=self.config.node, actor=request.principal.actor)
                plan_id = plan.id
        except ValidationError as exc:
            return self._plans_page(request, pages.refused(values, exc.messages), 422)
        except ApiError as exc:
            return self._plans_page(request, pages.refused(values, exc.fields or {"_schema": [exc.message]}),
                                    exc.status)
        return see_other(f"/panti/rencana/{plan_id}", "rencana-baru")

    def _plan_page(self, request, plan_id: str, form: Form | None = None, problem: str | None = None,
                   status: int = 200):
        try:
            with domain_errors(), self.db.session() as session:
                plan = domain.plan_view(domain.get_plan(session, plan_id))
        except ApiError as exc:
            return self._problem(request, exc, back="/panti/rencana")
        current = Form({k: plan[k] for k in ("status", "planned_capacity", "target_year", "note")})
        return self._page(request, "panti/plan.html", plan["name"], status=status, plan=plan, form=form or current,
                          problem=problem, status_options=pages.plan_status_options(plan["status"]))

    @api("GET", PLAN_PAGE, roles=MANAGERS, html=True, tags=("pages",))
    def plan_page(self, request, plan_id):
        """One planned centre and the form that moves it on."""
        return self._plan_page(request, plan_id)

    @api("POST", PLAN_PAGE, roles=MANAGERS, html=True, tags=("pages",))
    def update_plan_page(self, request, plan_id):
        """Move a plan on, or change its capacity, year or note, from the page."""
        values = submitted(request)
        try:
            body = s.CentrePlanUpdateSchema().load(pages.api_shape(values, ("planned_capacity", "target_year")))
            with domain_errors(), self.db.unit_of_work() as uow:
                domain.update_plan(uow, plan_id, body, node=self.config.node)
        except ValidationError as exc:
            return self._plan_page(request, plan_id, pages.refused(values, exc.messages), status=422)
        except ApiError as exc:
            if exc.status == 404:
                return self._problem(request, exc, back="/panti/rencana")
            return self._plan_page(request, plan_id, pages.refused(values, exc.fields or {}), problem=exc.message,
                                   status=exc.status)
        return see_other(f"/panti/rencana/{plan_id}", "rencana-diubah")

    # -- the directory --
    @api("GET", "/tempat-tidur", roles=READERS, html=True, tags=("pages",))
    def directory_page(self, request):
        """Tempat tidur kosong: the province-wide directory of free beds (GET /api/v1/directory), and,
        opened from a case (``?kasus=``), a link to refer the case to each facility."""
        query = {k: request.args[k] for k in ("category", "sex", "regency") if request.args.get(k, "").strip()}
        case = pages.case_id(request.args.get("kasus"))
        form, answers, status = Form(dict(query)), None, 200
        if request.args.get("kasus") and case is None:
            form = pages.refused(query, {"kasus": ["Kode kasus tidak valid; buka halaman ini dari kasusnya."]})
            status = 422
        elif query:
            try:
                query = s.DirectoryQuerySchema().load(query)
            except ValidationError as exc:
                form, status = pages.refused(query, exc.messages), 422
            else:
                with self.db.session() as session:
                    answers = pages.directory_rows(
                        domain.find_beds(session, node=self.config.node, **{"regency": None, **query}), case)
        return self._page(request, "panti/directory.html", "Tempat tidur kosong", status=status, form=form,
                          answers=answers, case=case, category_options=pages.category_options(),
                          sex_options=pages.SEX_OPTIONS, regency_options=pages.regency_options())
