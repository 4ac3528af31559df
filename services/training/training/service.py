"""Training's entry points: events (*Bimtek*, *Rakor*, workshops, *sosialisasi*) this node
organises, invitations from other nodes and the nominations sent to them, attendance, learning,
completion and certificates, and the public certificate check."""
from __future__ import annotations

import segno
from werkzeug.wrappers import Response

from rehsos import auth, heartbeat
from rehsos.api import api, domain_errors, html_page
from rehsos.messaging import event_consumer, receive
from rehsos.providers import Config, Database, settings_timer

from training import certificate as certificate_pdf
from training import pages
from training import schemas as s
from training.domain import attendance, completion, events, invitations, learning, materials, participants
from training.domain.common import Organiser
from training.models import messaging

MANAGERS = (auth.TRAINER, auth.ADMIN)
NOMINATORS = (auth.OPERATOR, auth.TRAINER, auth.ADMIN)
READERS = (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER, auth.ADMIN)
EVENT = "/api/v1/trainings/<string(length=36):event_id>"
PARTICIPANT = EVENT + "/participants/<string(length=36):participant_id>"
SESSION = EVENT + "/sessions/<int:session_id>"
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
