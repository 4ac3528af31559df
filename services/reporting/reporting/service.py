"""Reporting's entry points on the hub: the uplink consumer, the summary API and the pages."""
from __future__ import annotations

from rehsos import auth
from rehsos import errors
from rehsos.api import LOGIN_PATH, LOGOUT_PATH, PageSessions, api, domain_errors, html_page
from rehsos.messaging import event_consumer, receive, redrive
from rehsos.providers import Config, Database, settings_timer

from reporting import coverage, domain, flows, pages, planning
from reporting.projections import HANDLERS
from reporting.models import messaging
from reporting.schemas import (CapacityPlanQuerySchema, CapacityPlanSchema, FacilitiesFiguresSchema, FiguresQuerySchema,
                               QuarantineEntrySchema, RedriveResultSchema, ReferralFlowQuerySchema, ReferralFlowsSchema,
                               SummarySchema, TrainingFiguresSchema, TrainingOverviewSchema, TrainingQuerySchema,
                               WhereToBuildSchema)

READERS = (auth.ANALYST, auth.ADMIN)


def _page(body: str, status: int = 200):
    return html_page(body, status, styles=(pages.STYLE,))


def _login_page(csrf: str, error: str | None, status: int):
    return _page(pages.login(csrf, error), status)


class ReportingService:
    name = "reporting"

    config = Config()
    # The hub's own events (findings for the nodes) go straight down, addressed per node.
    db = Database("reporting", messaging)
    sign_in = PageSessions()

    @event_consumer("reporting")
    def on_uplink_event(self, delivery):
        """Apply one event from a node; duplicates are skipped, impostors quarantined."""
        return receive(self.db, delivery, HANDLERS, self.config)

    @api("GET", "/api/v1/summary", roles=READERS, response=SummarySchema, tags=("reporting",))
    def get_summary(self, request):
        """Case counts by regency and category, and the state of each node's event stream."""
        with self.db.session() as session:
            return domain.summary(session, self.db.tables)

    @api("GET", "/api/v1/capacity-plan", roles=READERS, query=CapacityPlanQuerySchema, response=CapacityPlanSchema,
         tags=("reporting",))
    def get_capacity_plan(self, request):
        """Per regency: open cases beside beds in operating facilities and in planned centres."""
        with self.db.session() as session:
            return domain.capacity_plan(session, request.query.get("category"))

    @api("GET", "/api/v1/training", roles=READERS, response=TrainingOverviewSchema, tags=("reporting",))
    def get_training(self, request):
        """Training events with counts (never names), trained social workers and disability companions
        per regency beside open cases, and the average pre/post-test gain per role and theme."""
        with self.db.session() as session:
            return domain.training_overview(session)

    @api("GET", "/api/v1/figures/referrals", roles=READERS, query=ReferralFlowQuerySchema,
         response=ReferralFlowsSchema, tags=("reporting",))
    def get_referral_flows(self, request):
        """Referral flow per referring regency × facility: counts, outcomes, response times
        (request → first answer, hours) and times to admission (days), for requests in the months chosen."""
        with self.db.session() as session:
            return flows.referral_flows(session, **request.query)

    @api("GET", "/api/v1/figures/facilities", roles=READERS, query=FiguresQuerySchema,
         response=FacilitiesFiguresSchema, tags=("reporting",))
    def get_facility_figures(self, request):
        """Occupancy per facility and unit (alert at >= 90 %), waitlisted referrals, and the age of the data."""
        with self.db.session() as session:
            return flows.facility_occupancy(session, **request.query)

    @api("GET", "/api/v1/figures/training", roles=READERS, query=TrainingQuerySchema,
         response=TrainingFiguresSchema, tags=("reporting",))
    def get_training_figures(self, request):
        """Trained social workers and disability companions per regency, per 100 open cases and beside
        the caseload; average pre/post-test gain per event and per theme."""
        with self.db.session() as session:
            return coverage.training_coverage(session, **request.query)

    @api("GET", "/api/v1/figures/where-to-build", roles=READERS, query=FiguresQuerySchema,
         response=WhereToBuildSchema, tags=("reporting",))
    def get_where_to_build(self, request):
        """People waiting for a bed beside beds in service and planned, and the regencies ranked by
        the shortfall their demand, projected a year ahead, would leave (with the method explained)."""
        with self.db.session() as session:
            return planning.where_to_build(session, **request.query)

    @api("GET", "/api/v1/quarantine", roles=READERS, response=QuarantineEntrySchema, many=True,
         tags=("reporting",))
    def get_quarantine(self, request):
        """Messages refused by the hub (invalid, or claiming another node), newest first."""
        with self.db.session() as session:
            return domain.quarantine_list(session, self.db.tables)

    @settings_timer("gap_repair_interval")
    def repair_gaps(self):
        """Ask the nodes to resend the sequences the hub still misses."""
        with self.db.unit_of_work() as uow:
            domain.request_repairs(uow, self.db.tables)

    def _redrive(self, row_id: int) -> dict:
        try:
            return {"id": row_id, "outcome": redrive(self.db, row_id, HANDLERS, self.config)}
        except LookupError:
            raise errors.NotFound(f"Tidak ada surat mati {row_id} yang menunggu dikirim ulang.") from None
        except Exception as exc:  # noqa: BLE001 - still failing: it stays a dead letter, and says why
            return {"id": row_id, "outcome": "failed", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}

    @api("POST", "/api/v1/quarantine/<int:row_id>/redrive", roles=(auth.ADMIN,), response=RedriveResultSchema,
         tags=("reporting",))
    def redrive_one(self, request, row_id):
        """Apply a dead letter again (a valid event that kept failing, e.g. while the database was away)."""
        with domain_errors():
            return self._redrive(row_id)

    @api("POST", "/api/v1/quarantine/redrive", roles=(auth.ADMIN,), response=RedriveResultSchema, many=True,
         tags=("reporting",))
    def redrive_all(self, request):
        """Apply every waiting dead letter again, oldest first."""
        with self.db.session() as session:
            ids = domain.pending_dead_letters(session, self.db.tables)
        return [self._redrive(row_id) for row_id in ids]

    @api("GET", "/", roles=READERS, html=True, tags=("pages",))
    def dashboard(self, request):
        """Dashboard page (Bahasa Indonesia)."""
        # Signed in by a session, the page offers the sign-out form; with a bearer token, no.
        csrf = request.web_session.csrf if request.web_session else None
        with self.db.session() as session:
            return _page(pages.dashboard(domain.summary(session, self.db.tables), domain.capacity_plan(session),
                                         csrf=csrf))

    @api("GET", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login_form(self, request):
        """Sign-in page."""
        return self.sign_in.form(_login_page)

    @api("POST", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login(self, request):
        """Sign in with a token: a short session starts, held by the browser as a random id."""
        return self.sign_in.sign_in(request, roles=READERS, render=_login_page)

    @api("POST", LOGOUT_PATH, public=True, html=True, tags=("pages",))
    def logout(self, request):
        """Sign out: the session ends on the server."""
        return self.sign_in.sign_out(request)
