"""Facilities' entry points: the registry of panti, sentra, LKS and rumah singgah of this node."""
from __future__ import annotations

from rehsos import auth, heartbeat, jurisdiction, registry
from rehsos.api import api, domain_errors
from rehsos.messaging import event_consumer, receive
from rehsos.providers import Config, Database, settings_timer

from facilities import domain
from facilities import schemas as s
from facilities.models import messaging

MANAGERS = (auth.FACILITY_MANAGER, auth.ADMIN)
READERS = (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER, auth.ADMIN)


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
