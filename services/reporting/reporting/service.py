"""Reporting's entry points on the hub: the uplink consumer, the summary API and the pages."""
from __future__ import annotations

from marshmallow import ValidationError
from werkzeug.wrappers import Response

from rehsos import auth, errors, reference
from rehsos.api import LOGIN_PATH, LOGOUT_PATH, PageSessions, api, domain_errors, html_page
from rehsos.messaging import batch_event_consumer, receive_batch, redrive
from rehsos.providers import Config, Database, settings_timer

from reporting import caseload, coverage, domain, flows, pages, planning, report, sync
from reporting.projections import HANDLERS, prepare
from reporting.models import messaging
from reporting.schemas import (CapacityPlanQuerySchema, CapacityPlanSchema, CaseFiguresSchema,
                               DisabilityCoverageSchema, FacilitiesFiguresSchema, FiguresQuerySchema,
                               MonthlyReportPageSchema, MonthlyReportQuerySchema,
                               PlaceQuerySchema, QuarantineEntrySchema, RedriveResultSchema, ReferralFlowQuerySchema,
                               ReferralFlowsSchema, SummarySchema, SyncHealthSchema, TrainingFiguresSchema,
                               TrainingOverviewSchema, TrainingQuerySchema, TunaSosialTrendSchema, WhereToBuildSchema)

READERS = (auth.ANALYST, auth.ADMIN)
ALL_FILTERS = ("dari", "sampai", "kabupaten", "kategori")
# Cross-field rules the figures' query schema cannot state in JSON Schema (x-rules in the document).
def _page(page: pages.Page, status: int = 200):
    return html_page(page.html, status, styles=page.styles)


def _login_page(csrf: str, error: str | None, status: int, *, user: str = "", by_token: bool = False):
    return _page(pages.login(csrf, error, user=user, by_token=by_token), status)


def _csrf(request) -> str | None:
    # Signed in by a session, a page offers the sign-out form; with a bearer token, no.
    return request.web_session.csrf if request.web_session else None


def _filtered_page(request, path: str, title: str, fields: tuple[str, ...], render):
    """A page whose address carries filters: bad ones give the form again with what is wrong (422)."""
    try:
        filters = pages.parse_filters(request.args, allowed=fields)
    except pages.FilterError as exc:
        return _page(pages.filter_error(path, title, exc, _csrf(request), fields), 422)
    return _page(render(filters, _csrf(request)))


def _trends(session, filters: pages.Filters, *, where: bool = False, training: bool = False) -> pages.Trends:
    """The figures over the page's period, for its regency and category: what the figure APIs send."""
    months = filters.months()
    first, last, regency, category = months[0], months[-1], filters.regency, filters.category
    return pages.Trends(
        cases=caseload.case_figures(session, first, last, regency, category),
        tuna_sosial=caseload.tuna_sosial_trend(session, first, last, regency, category),
        disabilities=caseload.disability_coverage(session, first, last, regency, category),
        referrals=flows.referral_flows(session, regency, category, from_month=first, to_month=last),
        where_to_build=planning.where_to_build(session, regency, category) if where else None,
        training=coverage.training_coverage(session, regency, category) if training else None)


def _report_response(file: report.ReportFile) -> Response:
    return Response(file.content, mimetype=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


class ReportingService:
    name = "reporting"

    config = Config()
    # The hub's own events (findings for the nodes) go straight down, addressed per node.
    db = Database("reporting", messaging)
    sign_in = PageSessions()

    @batch_event_consumer("reporting")
    def on_uplink_events(self, deliveries):
        """Apply a batch of events from the nodes in one transaction; duplicates are skipped,
        impostors and refused events quarantined alone (one outcome per delivery)."""
        return receive_batch(self.db, deliveries, HANDLERS, self.config, prepare)

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

    @api("GET", "/api/v1/sync", roles=READERS, response=SyncHealthSchema, tags=("reporting",))
    def get_sync_health(self, request):
        """Sync health of every office: last event and heartbeat and their age, lag, gaps and their
        repair, quarantined and dead-lettered messages, event schema versions, and a status
        (lancar, terlambat, tidak ada data)."""
        with self.db.session() as session:
            return self._sync_health(session)

    def _sync_health(self, session) -> dict:
        return sync.sync_health(session, self.db.tables, heartbeat_interval=self.config.heartbeat_interval,
                                sender_node=self.config.names.sender_node)

    def _figures(self, request, query):
        q = request.query
        with self.db.session() as session:
            return query(session, q["from"], q["to"], q["regency"], q["category"])

    @api("GET", "/api/v1/figures/cases", roles=READERS, query=FiguresQuerySchema,
         response=CaseFiguresSchema,
         tags=("reporting",))
    def get_case_figures(self, request):
        """Per regency and month (WITA): new, active, closed by outcome, reopened, unique persons, each also
        per 10,000 inhabitants; province totals, by stage and by category. A month a regency sent nothing
        for is null with has_data false (tidak ada data), never 0."""
        return self._figures(request, caseload.case_figures)

    @api("GET", "/api/v1/figures/tuna-sosial", roles=READERS, query=FiguresQuerySchema,
         response=TunaSosialTrendSchema, tags=("reporting",))
    def get_tuna_sosial_trend(self, request):
        """Monthly new and active tuna sosial cases per regency, with the change against the same month a
        year earlier."""
        return self._figures(request, caseload.tuna_sosial_trend)

    @api("GET", "/api/v1/figures/disabilities", roles=READERS, query=FiguresQuerySchema,
         response=DisabilityCoverageSchema, tags=("reporting",))
    def get_disability_coverage(self, request):
        """Per disability type: persons registered and those with an active case, per regency and month."""
        return self._figures(request, caseload.disability_coverage)

    @api("GET", "/api/v1/figures/referrals", roles=READERS, query=ReferralFlowQuerySchema,
         response=ReferralFlowsSchema, tags=("reporting",))
    def get_referral_flows(self, request):
        """Referral flow per referring regency × facility: counts, outcomes, response times
        (request → first answer, hours) and times to admission (days), for requests in the months chosen."""
        with self.db.session() as session:
            return flows.referral_flows(session, **request.query)

    @api("GET", "/api/v1/figures/facilities", roles=READERS, query=PlaceQuerySchema,
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

    @api("GET", "/api/v1/figures/where-to-build", roles=READERS, query=PlaceQuerySchema,
         response=WhereToBuildSchema, tags=("reporting",))
    def get_where_to_build(self, request):
        """People waiting for a bed beside beds in service and planned, and the regencies ranked by
        the shortfall their demand, projected a year ahead, would leave (with the method explained)."""
        with self.db.session() as session:
            return planning.where_to_build(session, **request.query)

    @api("GET", "/api/v1/reports/monthly", roles=READERS, query=MonthlyReportQuerySchema,
         produces=tuple(report.FORMATS.values()), tags=("reporting",))
    def get_monthly_report(self, request):
        """The monthly report (laporan bulanan) of a month, per regency or for one, as CSV or XLSX
        (with a Keterangan sheet saying what each column means); empty cells: tidak ada data."""
        q = request.query
        with self.db.session() as session:
            return _report_response(report.monthly_report_file(session, q["month"], q["regency"], q["format"]))

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
        """Ringkasan provinsi: cases per regency and category, demand beside beds and plans."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.overview(domain.summary(session, self.db.tables),
                                      domain.capacity_plan(session, filters.category), filters, csrf,
                                      trends=_trends(session, filters, where=True))
        return _filtered_page(request, "/", "Ringkasan Kasus PPKS Provinsi", ALL_FILTERS, render)

    @api("GET", "/kabupaten/<code>", roles=READERS, html=True, tags=("pages",))
    def regency_page(self, request, code):
        """One regency's page: its cases, demand beside beds, trained workers, its node's stream."""
        if code not in reference.REGENCIES:
            return _page(pages.not_found(f"Kode kabupaten/kota “{code}” tidak dikenal.", _csrf(request)), 404)

        def render(filters, csrf):
            filters = pages.Filters(filters.first, filters.last, code, filters.category)
            with self.db.session() as session:
                return pages.regency(code, domain.summary(session, self.db.tables),
                                     domain.capacity_plan(session, filters.category),
                                     domain.training_overview(session), filters, csrf,
                                     trends=_trends(session, filters, training=True))
        return _filtered_page(request, f"/kabupaten/{code}", reference.region_name(code), ("dari", "sampai", "kategori"),
                              render)

    @api("GET", "/fasilitas", roles=READERS, html=True, tags=("pages",))
    def facilities_page(self, request):
        """Fasilitas: beds, demand and planned centres per regency."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.facilities(domain.capacity_plan(session, filters.category), filters, csrf,
                                        occupancy=flows.facility_occupancy(session, filters.regency, filters.category),
                                        where=planning.where_to_build(session, filters.regency, filters.category))
        return _filtered_page(request, "/fasilitas", "Fasilitas", ("kabupaten", "kategori"), render)

    @api("GET", "/pelatihan", roles=READERS, html=True, tags=("pages",))
    def training_page(self, request):
        """Pelatihan: trained workers per regency beside the caseload, events, test gains."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.training(domain.training_overview(session), filters, csrf,
                                      coverage_=coverage.training_coverage(session, filters.regency))
        return _filtered_page(request, "/pelatihan", "Pelatihan", ("dari", "sampai", "kabupaten"), render)

    @api("GET", "/sinkronisasi", roles=READERS, html=True, tags=("pages",))
    def sync_page(self, request):
        """Kesehatan sinkronisasi: the nodes' event streams, their gaps and the quarantine."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.sync_health(domain.summary(session, self.db.tables),
                                         domain.quarantine_list(session, self.db.tables), filters, csrf,
                                         health=self._sync_health(session))
        return _filtered_page(request, "/sinkronisasi", "Kesehatan sinkronisasi", ("kabupaten",), render)

    @api("GET", "/laporan-bulanan", roles=READERS, html=True, tags=("pages",))
    def monthly_report_page(self, request):
        """Laporan bulanan downloaded from a page (signed in by the page's session, not a token)."""
        raw = {k: v for k, v in request.args.items() if v != ""}
        try:
            q = MonthlyReportPageSchema().load(raw)
        except ValidationError as exc:
            error = pages.FilterError(exc.messages, raw)
            return _page(pages.filter_error("/", "Laporan bulanan", error, _csrf(request), filter_fields=()), 422)
        with self.db.session() as session:
            return _report_response(report.monthly_report_file(session, q["bulan"], q["kabupaten"], q["format"]))

    @api("GET", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login_form(self, request):
        """Sign-in page."""
        return self.sign_in.form(_login_page)

    @api("POST", LOGIN_PATH, public=True, html=True, tags=("pages",))
    def login(self, request):
        """Sign in with user name and password (or a token): a short session starts, held by the browser
        as a random id."""
        return self.sign_in.sign_in(request, roles=READERS, render=_login_page)

    @api("POST", LOGOUT_PATH, public=True, html=True, tags=("pages",))
    def logout(self, request):
        """Sign out: the session ends on the server."""
        return self.sign_in.sign_out(request)
