"""Training's entry points: events (*Bimtek*, *Rakor*, workshops, *sosialisasi*) this node
organises, invitations from other nodes and the nominations sent to them, attendance, learning,
completion and certificates, and the public certificate check."""
from __future__ import annotations

import segno
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from rehsos import auth, heartbeat, indonesian, reference
from rehsos import pages as kit
from rehsos.api import ApiError, api, domain_errors, html_page
from rehsos.messaging import event_consumer, receive
from rehsos.providers import Config, Database, settings_timer

from training import certificate as certificate_pdf
from training import pages
from training import schemas as s
from training.domain import attendance, completion, events, invitations, learning, materials, participants
from training.domain.common import Organiser
from training.models import AnnouncedEvent, Participant, messaging

MANAGERS = (auth.TRAINER, auth.ADMIN)
NOMINATORS = (auth.OPERATOR, auth.TRAINER, auth.ADMIN)
READERS = (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER, auth.ADMIN)
EVENT = "/api/v1/trainings/<string(length=36):event_id>"
PARTICIPANT = EVENT + "/participants/<string(length=36):participant_id>"
SESSION = EVENT + "/sessions/<int:session_id>"
PAGE = "/pelatihan/<string(length=36):event_id>"
PAGE_PARTICIPANT = PAGE + "/peserta/<string(length=36):participant_id>"
CHECK_IN_MESSAGES = {"checked_in": "Presensi tercatat.",
                     "already_checked_in": "Peserta sudah tercatat hadir pada hari ini; tidak ada yang berubah."}


class TrainingService:
    name = "training"

    config = Config()
    db = Database("training", messaging)

    @settings_timer("heartbeat_interval")
    def send_heartbeat(self):
        """Tell the hub this service of the node is alive (``node.heartbeat``), even when nothing happens."""
        heartbeat.beat(self.db, self.config.node)

    def _organiser(self, request=None) -> Organiser:
        actor = request.principal.actor if request is not None and request.principal else "system"
        return Organiser(self.config.node, actor, self.config.person_key_secret)

    def _event(self, session, event) -> dict:
        return events.event_view(session, event, self.config.node)

    # -- events -----------------------------------------------------------------------------------
    @api("POST", "/api/v1/trainings", roles=MANAGERS, body=s.TrainingEventSchema, response=s.TrainingEventViewSchema,
         status=201, tags=("training",))
    def create_event(self, request):
        """Create an event (draft): kind, title, theme, dates, venue, quotas, target roles, completion rule."""
        with domain_errors(), self.db.unit_of_work() as uow:
            event = events.create_event(uow, request.data, organiser=self._organiser(request))
            return 201, self._event(uow.session, event)

    @api("GET", "/api/v1/trainings", roles=READERS, query=s.EventQuerySchema, response=s.TrainingEventViewSchema,
         many=True, tags=("training",))
    def list_events(self, request):
        """Events this node organises, newest first."""
        with self.db.session() as session:
            return [self._event(session, e) for e in events.list_events(session, request.query)]

    @api("GET", EVENT, roles=READERS, response=s.TrainingEventViewSchema, tags=("training",))
    def get_event(self, request, event_id):
        """One event with its quotas per regency, speakers and agenda."""
        with domain_errors(), self.db.session() as session:
            return self._event(session, events.get_event(session, event_id))

    @api("PATCH", EVENT, roles=MANAGERS, body=s.TrainingEventUpdateSchema, response=s.TrainingEventViewSchema,
         tags=("training",))
    def update_event(self, request, event_id):
        """Change an event while it is a draft or open (quotas cannot fall below those registered;
        places added go to the waitlist first)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            event = participants.change_event(uow, event_id, request.data, organiser=self._organiser(request))
            return self._event(uow.session, event)

    @api("POST", EVENT + "/status", roles=MANAGERS, body=s.StatusChangeSchema, response=s.TrainingEventViewSchema,
         tags=("training",))
    def change_status(self, request, event_id):
        """draft → open (announced to every node) → ongoing → completed (the completion rule decides
        who completed; certificates are issued), or cancelled with a reason."""
        organiser = self._organiser(request)
        with domain_errors(), self.db.unit_of_work() as uow:
            if request.data["status"] == "completed":
                event = completion.complete(uow, event_id, organiser=organiser)
            else:
                event = events.change_status(uow, event_id, request.data["status"], organiser=organiser,
                                             reason=request.data.get("reason"))
            return self._event(uow.session, event)

    @api("POST", EVENT + "/speakers", roles=MANAGERS, body=s.SpeakerSchema, response=s.SpeakerViewSchema,
         status=201, tags=("training",))
    def add_speaker(self, request, event_id):
        """Add a speaker (narasumber) with their institution."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return 201, events.add_speaker(uow, event_id, request.data)

    @api("POST", EVENT + "/sessions", roles=MANAGERS, body=s.AgendaSessionSchema, response=s.AgendaSessionViewSchema,
         status=201, tags=("training",))
    def add_session(self, request, event_id):
        """Add a session to the agenda: day, time, topic, speakers."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return 201, events.add_session(uow, event_id, request.data, organiser=self._organiser(request))

    # -- materials ---------------------------------------------------------------------------------
    @api("POST", SESSION + "/materials",
         rules={"file": "not empty, within the size limit; PDF, PNG, JPEG, DOCX, PPTX or XLSX"},
         roles=MANAGERS, upload=True, response=s.MaterialViewSchema, status=201,
         tags=("training",))
    def attach_material(self, request, event_id, session_id):
        """Attach a file to a session (PDF, PNG, JPEG, DOCX, PPTX, XLSX: read from its content)."""
        filename, content = request.upload
        with domain_errors(), self.db.unit_of_work() as uow:
            material = materials.attach(uow, event_id, session_id, filename, content, actor=request.principal.actor,
                                        max_bytes=self.config.http["max_upload_bytes"])
            return 201, material

    @api("GET", SESSION + "/materials", roles=READERS, response=s.MaterialViewSchema, many=True, tags=("training",))
    def list_materials(self, request, event_id, session_id):
        """Materials of a session, with size and SHA-256."""
        with domain_errors(), self.db.session() as session:
            return materials.list_materials(session, event_id, session_id)

    @api("GET", SESSION + "/materials/<int:material_id>", roles=READERS, produces="application/octet-stream",
         tags=("training",))
    def download_material(self, request, event_id, session_id, material_id):
        """Download a material as it was uploaded."""
        with domain_errors(), self.db.session() as session:
            material = materials.get_material(session, event_id, session_id, material_id, with_content=True)
            return Response(material.content, mimetype=material.media_type, headers={
                "Content-Disposition": f'attachment; filename="{material.filename}"',
                "X-Content-SHA256": material.sha256})

    # -- participants --------------------------------------------------------------------------------
    @api("POST", EVENT + "/participants",
         rules={"regency": "an office the event invites", "role": "one of the event's target roles"},
         roles=MANAGERS, body=s.ParticipantSchema, response=s.ParticipantViewSchema,
         status=201, tags=("training",))
    def register_participant(self, request, event_id):
        """Register a participant: within the overall and the regency's quota, else on the waitlist."""
        with domain_errors(), self.db.unit_of_work() as uow:
            participant = participants.register(uow, event_id, request.data, organiser=self._organiser(request))
            return 201, participants.participant_view(uow.session, participant)

    @api("GET", EVENT + "/participants", roles=MANAGERS, query=s.ParticipantQuerySchema,
         response=s.ParticipantViewSchema, many=True, tags=("training",))
    def list_participants(self, request, event_id):
        """Participants of an event (registered, then waitlisted in order, then cancelled)."""
        with domain_errors(), self.db.session() as session:
            events.get_event(session, event_id)
            return [participants.participant_view(session, p)
                    for p in participants.list_participants(session, event_id, request.query)]

    @api("GET", PARTICIPANT, roles=MANAGERS, response=s.ParticipantViewSchema, tags=("training",))
    def get_participant(self, request, event_id, participant_id):
        """One participant with their attendance, scores and completion."""
        with domain_errors(), self.db.session() as session:
            return participants.participant_view(session, participants.get_participant(session, event_id,
                                                                                       participant_id))

    @api("POST", PARTICIPANT + "/cancellation", roles=MANAGERS, response=s.ParticipantViewSchema, tags=("training",))
    def cancel_participant(self, request, event_id, participant_id):
        """Cancel a registration; the first waitlisted person who fits takes the place."""
        with domain_errors(), self.db.unit_of_work() as uow:
            participant = participants.cancel(uow, event_id, participant_id, organiser=self._organiser(request))
            return participants.participant_view(uow.session, participant)

    @api("GET", PARTICIPANT + "/qr.svg", roles=MANAGERS, produces="image/svg+xml", tags=("training",))
    def checkin_qr(self, request, event_id, participant_id):
        """The participant's check-in code as a QR code (SVG), for the badge or the invitation."""
        with domain_errors(), self.db.session() as session:
            participant = participants.get_participant(session, event_id, participant_id)
            svg = segno.make(participant.checkin_code, error="m").svg_inline(scale=6, title=participant.checkin_code)
            return Response(svg, mimetype="image/svg+xml")

    @api("PUT", PARTICIPANT + "/scores", roles=MANAGERS, body=s.ScoresSchema, response=s.ParticipantViewSchema,
         tags=("training",))
    def set_scores(self, request, event_id, participant_id):
        """Record the pre-test and/or post-test score (0-100)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            participant = learning.set_scores(uow, event_id, participant_id, request.data,
                                              organiser=self._organiser(request))
            return participants.participant_view(uow.session, participant)

    # -- attendance ------------------------------------------------------------------------------------
    @api("POST", EVENT + "/attendance", roles=MANAGERS, body=s.CheckInSchema, response=s.CheckInResultSchema,
         tags=("training",))
    def check_in(self, request, event_id):
        """Check a participant in for a day, by code or from the list; a repeat changes nothing and says so."""
        with domain_errors(), self.db.unit_of_work() as uow:
            source = "code" if request.data.get("code") else "list"
            status, participant, day = attendance.check_in(uow, event_id, request.data, source=source,
                                                           organiser=self._organiser(request))
            return {"status": status, "message": CHECK_IN_MESSAGES[status], "day": day,
                    "participant_id": participant.id, "name": participant.name}

    @api("POST", EVENT + "/attendance/batch", roles=MANAGERS, body=s.AttendanceBatchSchema, csv="rows",
         response=s.BatchReportSchema, tags=("training",))
    def upload_attendance(self, request, event_id):
        """Upload check-ins recorded offline (JSON rows, or CSV with a header: code,day); each row
        is applied once, conflicts come back per row."""
        with domain_errors(), self.db.unit_of_work() as uow:
            rows = attendance.apply_batch(uow, event_id, request.data["rows"], organiser=self._organiser(request))
            count = {status: sum(r["status"] == status for r in rows)
                     for status in ("checked_in", "already_checked_in", "conflict")}
            return {"applied": count["checked_in"], "already": count["already_checked_in"],
                    "conflicts": count["conflict"], "rows": rows}

    @api("GET", EVENT + "/attendance", roles=MANAGERS, response=s.AttendanceEntrySchema, many=True, tags=("training",))
    def list_attendance(self, request, event_id):
        """Who was present on which day."""
        with domain_errors(), self.db.session() as session:
            return attendance.attendance_list(session, event_id)

    # -- learning ---------------------------------------------------------------------------------------
    @api("POST", SESSION + "/feedback",
         rules={"participant_id": "a participant registered for the event"},
         roles=MANAGERS, body=s.FeedbackSchema, response=s.FeedbackViewSchema,
         tags=("training",))
    def give_feedback(self, request, event_id, session_id):
        """A participant's rating of a session (1-5)."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return learning.give_feedback(uow, event_id, session_id, request.data)

    @api("GET", EVENT + "/learning", roles=READERS, response=s.LearningReportSchema, tags=("training",))
    def learning_report(self, request, event_id):
        """Average pre/post scores and gain for the event, per role and per topic; session feedback."""
        with domain_errors(), self.db.session() as session:
            return learning.learning_report(session, event_id)

    # -- certificates --------------------------------------------------------------------------------------
    @api("GET", PARTICIPANT + "/certificate", roles=MANAGERS, response=s.CertificateViewSchema, tags=("training",))
    def get_certificate(self, request, event_id, participant_id):
        """The certificate of a participant who completed the event (404 otherwise)."""
        with domain_errors(), self.db.session() as session:
            return completion.certificate_of(session, event_id, participant_id)

    @api("GET", PARTICIPANT + "/certificate.pdf", roles=MANAGERS, produces="application/pdf", tags=("training",))
    def certificate_pdf(self, request, event_id, participant_id):
        """The certificate as a PDF, in Bahasa Indonesia."""
        return self._certificate_pdf(event_id, participant_id)

    def _certificate_pdf(self, event_id, participant_id) -> Response:
        with domain_errors(), self.db.session() as session:
            certificate = completion.certificate_of(session, event_id, participant_id, valid=True)
            event = events.get_event(session, event_id)
            pdf = certificate_pdf.render(certificate, event, organiser_node=self.config.node, hours=events.hours(event),
                                         verify_url=f"{self.config.base_url}/verifikasi/{certificate.number}")
            return Response(pdf, mimetype="application/pdf", headers={
                "Content-Disposition": f'inline; filename="sertifikat-{certificate.number}.pdf"'})

    @api("POST", "/api/v1/certificates/<string(maxlength=32):number>/revocation", roles=(auth.ADMIN,),
         body=s.RevocationSchema, response=s.CertificateViewSchema, tags=("training",))
    def revoke_certificate(self, request, number):
        """Revoke a certificate (issued in error); the public page then says so."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return completion.revoke(uow, number, request.data["reason"])

    @api("GET", "/verifikasi/<string(maxlength=64):number>", public=True, html=True, tags=("pages",))
    def verify_certificate(self, request, number):
        """Public page: is this certificate number genuine, and is it still valid?"""
        with self.db.session() as session:
            certificate = completion.find_certificate(session, number)
            html = pages.verification(number, certificate, node=self.config.node)
            # 404: no such certificate; 410: it existed and was revoked.
            status = 404 if certificate is None else 410 if certificate.revoked_at else 200
            return html_page(html, status, styles=(pages.STYLE,))

    # -- invitations and nominations -------------------------------------------------------------------------
    @api("GET", "/api/v1/trainings/invitations", roles=READERS, query=s.EventQuerySchema,
         response=s.InvitationSchema, many=True, tags=("training",))
    def list_invitations(self, request):
        """Events other nodes organise, as last announced, with this node's quota."""
        with self.db.session() as session:
            return [invitations.invitation_view(row, self.config.node)
                    for row in invitations.invitations(session, request.query)]

    @api("POST", EVENT + "/nominations",
         rules={"regency": "this node's own regency, invited to the event"},
         roles=NOMINATORS, body=s.ParticipantSchema, response=s.NominationViewSchema,
         status=201, tags=("training",))
    def nominate(self, request, event_id):
        """Nominate a participant from this node; it travels to the organiser's node only."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return 201, invitations.nominate(uow, event_id, request.data, organiser=self._organiser(request))

    @api("GET", "/api/v1/trainings/nominations", roles=NOMINATORS, query=s.NominationQuerySchema,
         response=s.NominationViewSchema, many=True, tags=("training",))
    def list_nominations(self, request):
        """Nominations sent from this node and the answers they got."""
        with self.db.session() as session:
            return [invitations.nomination_view(n) for n in invitations.nominations(session, request.query)]

    @event_consumer("training")
    def on_downlink_event(self, delivery):
        """Events announced by other nodes, nominations for our events, answers to ours."""
        node, organiser = self.config.node, self._organiser()
        handlers = {
            "training.event_changed": lambda uow, e: invitations.apply_event_changed(uow, e, node),
            "training.nominated": lambda uow, e: invitations.apply_nominated(uow, e, organiser),
            "training.nomination_answered": lambda uow, e: invitations.apply_nomination_answered(uow, e, node),
        }
        return receive(self.db, delivery, handlers, self.config)

    # -- pages (Bahasa Indonesia; the same schemas and domain functions as the API above) -------------
    def _page_error(self, request, exc: ApiError) -> Response:
        return pages.render(request, self.config.node, "kit/error.html", path=request.path, status=exc.status,
                            title="Tidak dapat ditampilkan" if exc.status != 404 else "Tidak ditemukan",
                            message=exc.message, back=pages.BASE)

    @api("GET", "/pelatihan", roles=NOMINATORS, html=True, tags=("pages",))
    def trainings_page(self, request):
        """Events this node organises, and invitations from other nodes with this node's nominations."""
        node = self.config.node
        with self.db.session() as session:
            own = [self._event(session, e) for e in events.list_events(session, {})]
            invited = [invitations.invitation_view(row, node) for row in invitations.invitations(session, {})]
            sent: dict[str, int] = {}
            for nomination in invitations.nominations(session, {}):
                sent[nomination.event_id] = sent.get(nomination.event_id, 0) + 1
        return pages.render(request, node, "pelatihan/daftar.html", path=pages.BASE, title="Pelatihan",
                            own=own, invitations=invited, sent=sent, nominating=invitations.NOMINATING)

    def _new_event_page(self, request, form: kit.Form, status: int = 200) -> Response:
        return pages.render(request, self.config.node, "pelatihan/baru.html", path=pages.BASE + "/baru",
                            title="Kegiatan baru", status=status, form=form, labels=pages.EVENT_LABELS,
                            kind_options=pages.KINDS, role_options=pages.ROLES, offices=pages.OFFICES,
                            shares=pages.ATTENDANCE_SHARES)

    @api("GET", "/pelatihan/baru", roles=MANAGERS, html=True, tags=("pages",))
    def new_event_page(self, request):
        """The form for a new event (a draft)."""
        return self._new_event_page(request, kit.Form(values={"min_attendance": "1.0", "target_roles": []}))

    @api("POST", "/pelatihan/baru", roles=MANAGERS, html=True, tags=("pages",))
    def new_event_submitted(self, request):
        """Create the event from the form (as ``POST /api/v1/trainings``)."""
        values, body = pages.event_body(kit.submitted(request), request.form)
        try:
            data = s.TrainingEventSchema().load(body)
            with domain_errors(), self.db.unit_of_work() as uow:
                event = events.create_event(uow, data, organiser=self._organiser(request))
                event_id = event.id
        except (ValidationError, ApiError) as exc:
            status, messages = kit.refusal(exc)
            return self._new_event_page(request, pages.event_refused(values, body, messages), status)
        return kit.see_other(pages.event_path(event_id, pesan="dibuat"))

    def _event_page(self, request, event_id: str, status: int = 200, forms: dict | None = None) -> Response:
        try:
            with domain_errors(), self.db.session() as session:
                event = self._event(session, events.get_event(session, event_id))
        except ApiError as exc:
            return self._page_error(request, exc)
        forms = {name: (forms or {}).get(name) or kit.Form() for name in ("status", "speaker", "session")}
        return pages.render(request, self.config.node, "pelatihan/kegiatan.html", path=request.path,
                            title=event["title"], status=status, event=event, event_forms=forms,
                            speaker_options=[(str(sp["id"]), sp["name"]) for sp in event["speakers"]],
                            moves=pages.moves(event["status"]), editable=event["status"] in events.EDITABLE,
                            cancellable="cancelled" in events.TRANSITIONS[event["status"]],
                            days=pages.day_options(event), labels={**pages.SESSION_LABELS, **pages.SPEAKER_LABELS,
                                                                   **pages.STATUS_LABELS})

    @api("GET", PAGE, roles=MANAGERS, html=True, tags=("pages",))
    def event_page(self, request, event_id):
        """An event: its facts, quotas per regency, speakers, agenda, and the next status."""
        return self._event_page(request, event_id)

    def _event_form(self, request, event_id, form_name, load, act, done: str) -> Response:
        """A form of the event page: loaded by ``load`` (the API's schema), carried out by ``act``
        (the API's domain function), or shown again with its messages."""
        fields = kit.submitted(request)
        values, body = load(fields)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                act(uow, body)
        except (ValidationError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 404:
                return self._page_error(request, exc)
            status, messages = kit.refusal(exc)
            return self._event_page(request, event_id, status, {form_name: kit.Form.refused(values, messages)})
        return kit.see_other(pages.event_path(event_id, pesan=done))

    @api("POST", PAGE + "/status", roles=MANAGERS, html=True, tags=("pages",))
    def event_status_submitted(self, request, event_id):
        """Move the event on (or cancel it, with a reason), as ``POST .../status``."""
        organiser = self._organiser(request)

        def act(uow, body):
            data = s.StatusChangeSchema().load(body)
            if data["status"] == "completed":
                completion.complete(uow, event_id, organiser=organiser)
            else:
                events.change_status(uow, event_id, data["status"], organiser=organiser, reason=data.get("reason"))
        return self._event_form(request, event_id, "status", lambda f: (f, f), act, "status")

    @api("POST", PAGE + "/narasumber", roles=MANAGERS, html=True, tags=("pages",))
    def speaker_submitted(self, request, event_id):
        """Add a speaker, as ``POST .../speakers``."""
        return self._event_form(request, event_id, "speaker", lambda f: (f, f),
                                lambda uow, body: events.add_speaker(uow, event_id, s.SpeakerSchema().load(body)),
                                "narasumber")

    @api("POST", PAGE + "/agenda", roles=MANAGERS, html=True, tags=("pages",))
    def session_submitted(self, request, event_id):
        """Add a session to the agenda, as ``POST .../sessions``."""
        organiser = self._organiser(request)
        return self._event_form(request, event_id, "session", lambda f: pages.session_body(f, request.form),
                                lambda uow, body: events.add_session(uow, event_id, s.AgendaSessionSchema().load(body),
                                                                     organiser=organiser), "sesi")

    # -- participants ---------------------------------------------------------------------------------------
    def _participants_page(self, request, event_id: str, form: kit.Form | None = None, status: int = 200):
        try:
            with domain_errors(), self.db.session() as session:
                event = self._event(session, events.get_event(session, event_id))
                people = [participants.participant_view(session, p)
                          for p in participants.list_participants(session, event_id, {})]
                certificates = {pid: c.number for pid, c in completion.certificates_of_event(session, event_id).items()
                                if c.revoked_at is None}
        except ApiError as exc:
            return self._page_error(request, exc)
        return pages.render(request, self.config.node, "pelatihan/peserta.html", path=request.path,
                            title=f"Peserta: {event['title']}", status=status, event=event, people=people,
                            certificates=certificates, form=form or kit.Form(), labels=pages.PARTICIPANT_LABELS,
                            registering=event["status"] in participants.REGISTERING,
                            regency_options=pages.regency_options(event),
                            role_options=pages.role_options(event["target_roles"]))

    @api("GET", PAGE + "/peserta", roles=MANAGERS, html=True, tags=("pages",))
    def participants_page(self, request, event_id):
        """Participants: registered, waitlisted (in order), cancelled; the registration form."""
        return self._participants_page(request, event_id)

    @api("POST", PAGE + "/peserta", roles=MANAGERS, html=True, tags=("pages",))
    def participant_submitted(self, request, event_id):
        """Register a participant at this (the organiser's) node, as ``POST .../participants``."""
        fields = kit.submitted(request)
        try:
            data = s.ParticipantSchema().load(pages.participant_body(fields))
            with domain_errors(), self.db.unit_of_work() as uow:
                participant = participants.register(uow, event_id, data, organiser=self._organiser(request))
                waitlisted = participant.status == "waitlisted"
        except (ValidationError, ApiError) as exc:
            status, messages = kit.refusal(exc)
            return self._participants_page(request, event_id, kit.Form.refused(fields, messages), status)
        return kit.see_other(pages.event_path(event_id, "/peserta", pesan="tunggu" if waitlisted else "terdaftar"))

    @api("POST", PAGE_PARTICIPANT + "/batal", roles=MANAGERS, html=True, tags=("pages",))
    def participant_cancelled(self, request, event_id, participant_id):
        """Cancel a registration; the first waitlisted person who fits takes the place."""
        kit.submitted(request)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                participants.cancel(uow, event_id, participant_id, organiser=self._organiser(request))
        except ApiError as exc:
            if exc.status == 404:
                return self._page_error(request, exc)
            return self._participants_page(request, event_id, kit.Form.refused({}, kit.refusal(exc)[1]), exc.status)
        return kit.see_other(pages.event_path(event_id, "/peserta", pesan="dibatalkan"))

    @api("GET", PAGE_PARTICIPANT + "/sertifikat.pdf", roles=MANAGERS, html=True, tags=("pages",))
    def certificate_download(self, request, event_id, participant_id):
        """The participant's certificate as a PDF (as ``GET .../certificate.pdf``)."""
        try:
            return self._certificate_pdf(event_id, participant_id)
        except ApiError as exc:
            return self._page_error(request, exc)

    # -- check-in ------------------------------------------------------------------------------------------
    def _check_in_page(self, request, event_id: str, day: str | None, form: kit.Form | None = None,
                       status: int = 200, result: str | None = None) -> Response:
        try:
            with domain_errors(), self.db.session() as session:
                event = self._event(session, events.get_event(session, event_id))
                people = [participants.participant_view(session, p) for p in participants.list_participants(
                    session, event_id, {"status": "registered"})]
        except ApiError as exc:
            return self._page_error(request, exc)
        shown = pages.check_in_day(event, day, attendance.venue_today())
        present = [p for p in people if shown in p["days_attended"]]
        return pages.render(request, self.config.node, "pelatihan/presensi.html", path=request.path,
                            title=f"Presensi: {event['title']}", status=status, event=event, people=people,
                            day=shown, present=len(present), days=pages.day_options(event), result=result,
                            result_text=pages.CHECK_IN_RESULTS[result[0]].format(
                                name=result[1], day=indonesian.long_date(shown)) if result else None,
                            checking_in=event["status"] in attendance.CHECKING_IN,
                            form=form or kit.Form(values={"day": shown.isoformat()}), labels=pages.CHECK_IN_LABELS)

    @api("GET", PAGE + "/presensi", roles=MANAGERS, html=True, tags=("pages",))
    def check_in_page(self, request, event_id):
        """Check-in for a day, on a phone: type (or scan into the field) the code, or tick from the list."""
        result = None
        outcome, pid = request.args.get("hasil"), request.args.get("peserta", "")
        if outcome in pages.CHECK_IN_RESULTS and len(pid) == 36:
            with self.db.session() as session:
                participant = session.get(Participant, pid)
                if participant is not None and participant.event_id == event_id:
                    result = (outcome, participant.name)
        return self._check_in_page(request, event_id, request.args.get("hari"), result=result)

    @api("POST", PAGE + "/presensi", roles=MANAGERS, html=True, tags=("pages",))
    def check_in_submitted(self, request, event_id):
        """Record a check-in, as ``POST .../attendance``; a repeat changes nothing and says so."""
        fields = kit.submitted(request)
        body = {k: fields[k] for k in ("code", "participant_id", "day") if k in fields}
        try:
            data = s.CheckInSchema().load(body)
            with domain_errors(), self.db.unit_of_work() as uow:
                outcome, participant, day = attendance.check_in(
                    uow, event_id, data, source="code" if data.get("code") else "list",
                    organiser=self._organiser(request))
                pid = participant.id
        except (ValidationError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 404:
                return self._page_error(request, exc)
            status, messages = kit.refusal(exc)
            form = kit.Form.refused(fields, messages)
            if "participant_id" in form.errors:  # ticked from the list: the message goes above the form
                form.errors.setdefault("_schema", []).extend(form.errors.pop("participant_id"))
            return self._check_in_page(request, event_id, fields.get("day"), form, status)
        return kit.see_other(pages.event_path(event_id, "/presensi", hari=day.isoformat(), peserta=pid, hasil=outcome))

    def _batch_page(self, request, event_id: str, *, report=None, problems=(), status: int = 200) -> Response:
        try:
            with domain_errors(), self.db.session() as session:
                event = self._event(session, events.get_event(session, event_id))
        except ApiError as exc:
            return self._page_error(request, exc)
        return pages.render(request, self.config.node, "pelatihan/unggah.html", path=request.path,
                            title=f"Unggah presensi luring: {event['title']}", status=status, event=event,
                            report=report, problems=list(problems), form=kit.Form(errors={"file": list(problems)}))

    @api("GET", PAGE + "/presensi/unggah", roles=MANAGERS, html=True, tags=("pages",))
    def batch_page(self, request, event_id):
        """Upload check-ins recorded offline (a JSON or CSV file)."""
        return self._batch_page(request, event_id)

    @api("POST", PAGE + "/presensi/unggah", roles=MANAGERS, html=True, upload=True, tags=("pages",))
    def batch_submitted(self, request, event_id):
        """Apply an offline batch, as ``POST .../attendance/batch``, and show the report per row."""
        kit.submitted(request)
        filename, content = request.upload
        rows, unreadable = pages.batch_rows(filename, content)
        if unreadable:
            return self._batch_page(request, event_id, problems=[unreadable], status=422)
        try:
            data = s.AttendanceBatchSchema().load({"rows": rows})
            with domain_errors(), self.db.unit_of_work() as uow:
                report = attendance.apply_batch(uow, event_id, data["rows"], organiser=self._organiser(request))
        except ValidationError as exc:
            return self._batch_page(request, event_id, problems=pages.batch_refused(exc.messages), status=422)
        except ApiError as exc:
            if exc.status == 404:
                return self._page_error(request, exc)
            return self._batch_page(request, event_id, problems=[exc.message], status=exc.status)
        return self._batch_page(request, event_id, report=report)

    # -- scores and completion -----------------------------------------------------------------------------
    def _scores_page(self, request, event_id: str, form: kit.Form | None = None, status: int = 200) -> Response:
        try:
            with domain_errors(), self.db.session() as session:
                event = self._event(session, events.get_event(session, event_id))
                people = [participants.participant_view(session, p) for p in participants.list_participants(
                    session, event_id, {"status": "registered"})]
                report = learning.learning_report(session, event_id)
        except ApiError as exc:
            return self._page_error(request, exc)
        if form is None:
            form = kit.Form(values={f"{f}.{p['id']}": "" if p[f] is None else p[f]
                                    for p in people for f in ("pre_score", "post_score")})
        return pages.render(request, self.config.node, "pelatihan/nilai.html", path=request.path,
                            title=f"Nilai: {event['title']}", status=status, event=event, people=people,
                            report=report, form=form, scoring=event["status"] in ("open", "ongoing"))

    @api("GET", PAGE + "/nilai", roles=MANAGERS, html=True, tags=("pages",))
    def scores_page(self, request, event_id):
        """Pre-test and post-test scores of every registered participant, and the event's gain."""
        return self._scores_page(request, event_id)

    @api("POST", PAGE + "/nilai", roles=MANAGERS, html=True, tags=("pages",))
    def scores_submitted(self, request, event_id):
        """Record the scores typed, as ``PUT .../scores`` for each participant; all or none."""
        kit.submitted(request)  # the CSRF check; the scores are read per participant below
        with self.db.session() as session:
            current = {p.id: {"pre_score": p.pre_score, "post_score": p.post_score}
                       for p in participants.list_participants(session, event_id, {"status": "registered"})}
        ids = list(current)
        # Only the scores that changed: every change is news for the hub.
        typed = {pid: entry for pid, entry in pages.scores_of(request.form, ids).items()
                 if any(current[pid][f] != v for f, v in entry[1].items())}
        values = {f"{f}.{pid}": request.form.get(f"{f}.{pid}", "") for pid in ids for f in ("pre_score", "post_score")}
        errors: dict[str, list[str]] = {}
        loaded = {}
        for pid, (_, body) in typed.items():
            try:
                loaded[pid] = s.ScoresSchema().load(body)
            except ValidationError as exc:
                errors.update({f"{name}.{pid}": texts for name, texts in kit.flatten_errors(exc.messages).items()})
        if errors:
            return self._scores_page(request, event_id, kit.Form(values=values, errors=errors), 422)
        try:
            with domain_errors(), self.db.unit_of_work() as uow:
                for pid, data in loaded.items():
                    learning.set_scores(uow, event_id, pid, data, organiser=self._organiser(request))
        except ApiError as exc:
            if exc.status == 404:
                return self._page_error(request, exc)
            return self._scores_page(request, event_id, kit.Form.refused(values, kit.refusal(exc)[1]), exc.status)
        return kit.see_other(pages.event_path(event_id, "/nilai", pesan="nilai"))

    # -- invitations: nominating at this node ----------------------------------------------------------------
    def _invitation_page(self, request, event_id: str, form: kit.Form | None = None, status: int = 200):
        node = self.config.node
        with self.db.session() as session:
            row = session.get(AnnouncedEvent, event_id)
            if row is None:
                return self._page_error(request, ApiError(f"Undangan kegiatan {event_id} tidak ada di node ini.",
                                                          status=404))
            invitation = invitations.invitation_view(row, node)
            sent = [invitations.nomination_view(n) for n in invitations.nominations(session, {"event_id": event_id})]
        served = reference.regions_served_by(node)
        return pages.render(request, node, "pelatihan/undangan.html", path=request.path,
                            title=f"Undangan: {invitation['title']}", status=status, invitation=invitation,
                            nominations=sent, nominating=invitation["status"] in invitations.NOMINATING,
                            form=form or kit.Form(values={"regency": served[0]} if len(served) == 1 else {}),
                            labels=pages.PARTICIPANT_LABELS,
                            regency_options=[(c, n) for c, n in pages.OFFICES if c in served],
                            role_options=pages.role_options(invitation["target_roles"]))

    @api("GET", "/pelatihan/undangan/<string(length=36):event_id>", roles=NOMINATORS, html=True, tags=("pages",))
    def invitation_page(self, request, event_id):
        """An event of another node: its facts, this node's quota, the nominations sent and their answers."""
        return self._invitation_page(request, event_id)

    @api("POST", "/pelatihan/undangan/<string(length=36):event_id>", roles=NOMINATORS, html=True, tags=("pages",))
    def nomination_submitted(self, request, event_id):
        """Nominate a participant, as ``POST .../nominations``: it travels to the organiser's node only."""
        fields = kit.submitted(request)
        try:
            data = s.ParticipantSchema().load(pages.participant_body(fields))
            with domain_errors(), self.db.unit_of_work() as uow:
                invitations.nominate(uow, event_id, data, organiser=self._organiser(request))
        except (ValidationError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 404:
                return self._page_error(request, exc)
            status, messages = kit.refusal(exc)
            return self._invitation_page(request, event_id, kit.Form.refused(fields, messages), status)
        return kit.see_other(pages.invitation_path(event_id, pesan="diusulkan"))
