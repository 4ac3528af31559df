"""Facilities' entry points: the registry of panti, sentra, LKS and rumah singgah of this node."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from rehsos import auth
from rehsos.http import Conflict, NotFound, Unprocessable, api
from rehsos.providers import Config, Database

from facilities import domain
from facilities import schemas as s
from facilities.models import messaging

MANAGERS = (auth.FACILITY_MANAGER, auth.ADMIN)
READERS = (auth.OPERATOR, auth.SUPERVISOR, auth.FACILITY_MANAGER, auth.TRAINER, auth.ADMIN)


@contextmanager
def domain_errors():
    """The one translation of the registry's domain errors into HTTP answers."""
    try:
        yield
    except domain.NotFound as exc:
        raise NotFound(str(exc)) from None
    except domain.Refused as exc:
        raise Conflict(exc.message, code=exc.code, fields=exc.fields) from None
    except domain.Invalid as exc:
        raise Unprocessable("Data yang dikirim tidak valid.", fields=exc.fields) from None
    except IntegrityError:
        raise Conflict("Data bentrok dengan perubahan lain yang baru saja tersimpan; ulangi permintaan.",
                       code="concurrent_change") from None


class FacilitiesService:
    name = "facilities"

    config = Config()
    db = Database("facilities", messaging)

    def _view(self, facility) -> dict:
        return s.FacilitySchema().dump(domain.facility_view(facility, self.config.node))

    @api("POST", "/api/v1/facilities", roles=MANAGERS, body=s.FacilityRegistrationSchema, response=s.FacilitySchema,
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

    @api("PATCH", "/api/v1/facilities/<string(maxlength=64):code>", roles=MANAGERS, body=s.FacilityUpdateSchema,
         response=s.FacilitySchema, tags=("facilities",))
    def update_facility(self, request, code):
        """Change a facility: contact, status (operational, temporarily closed, planned), units."""
        with domain_errors(), self.db.unit_of_work() as uow:
            return self._view(domain.update_facility(uow, code, request.data, node=self.config.node))
