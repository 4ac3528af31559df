"""Reporting's entry points on the hub: the uplink consumer, the summary API and the pages."""
from __future__ import annotations

from rehsos import auth, errors, reference
from rehsos.api import LOGIN_PATH, LOGOUT_PATH, PageSessions, api, domain_errors, html_page
from rehsos.messaging import event_consumer, receive, redrive
from rehsos.providers import Config, Database, settings_timer

from reporting import domain, pages
from reporting.projections import HANDLERS
from reporting.models import messaging
from reporting.schemas import (CapacityPlanQuerySchema, CapacityPlanSchema, QuarantineEntrySchema, RedriveResultSchema,
                               SummarySchema, TrainingOverviewSchema)

READERS = (auth.ANALYST, auth.ADMIN)
ALL_FILTERS = ("dari", "sampai", "kabupaten", "kategori")


def _page(page: pages.Page, status: int = 200):
    return html_page(page.html, status, styles=page.styles)


def _login_page(csrf: str, error: str | None, status: int):
    return _page(pages.login(csrf, error), status)


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
                                      domain.capacity_plan(session, filters.category), filters, csrf)
        return _filtered_page(request, "/", "Ringkasan Kasus PPKS Provinsi", ALL_FILTERS, render)

    @api("GET", "/kabupaten/<code>", roles=READERS, html=True, tags=("pages",))
    def regency_page(self, request, code):
        """One regency's page: its cases, demand beside beds, trained workers, its node's stream."""
        if code not in reference.REGENCIES:
            return _page(pages.not_found(f"Kode kabupaten/kota “{code}” tidak dikenal.", _csrf(request)), 404)

        def render(filters, csrf):
            with self.db.session() as session:
                return pages.regency(code, domain.summary(session, self.db.tables),
                                     domain.capacity_plan(session, filters.category),
                                     domain.training_overview(session), filters, csrf)
        return _filtered_page(request, f"/kabupaten/{code}", reference.region_name(code), ("dari", "sampai", "kategori"),
                              render)

    @api("GET", "/fasilitas", roles=READERS, html=True, tags=("pages",))
    def facilities_page(self, request):
        """Fasilitas: beds, demand and planned centres per regency."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.facilities(domain.capacity_plan(session, filters.category), filters, csrf)
        return _filtered_page(request, "/fasilitas", "Fasilitas", ("kabupaten", "kategori"), render)

    @api("GET", "/pelatihan", roles=READERS, html=True, tags=("pages",))
    def training_page(self, request):
        """Pelatihan: trained workers per regency beside the caseload, events, test gains."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.training(domain.training_overview(session), filters, csrf)
        return _filtered_page(request, "/pelatihan", "Pelatihan", ("dari", "sampai", "kabupaten"), render)

    @api("GET", "/sinkronisasi", roles=READERS, html=True, tags=("pages",))
    def sync_page(self, request):
        """Kesehatan sinkronisasi: the nodes' event streams, their gaps and the quarantine."""
        def render(filters, csrf):
            with self.db.session() as session:
                return pages.sync_health(domain.summary(session, self.db.tables),
                                         domain.quarantine_list(session, self.db.tables), filters, csrf)
        return _filtered_page(request, "/sinkronisasi", "Kesehatan sinkronisasi", ("kabupaten",), render)

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
