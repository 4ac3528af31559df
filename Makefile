# Rehsos Kalsel. `make run` starts a province locally; `make test` runs every test, `make test-fast`
# those that need neither RabbitMQ nor PostgreSQL (seconds, and the servers may be down).
PYTHON ?= python3
VENV ?= .venv
NODES ?= default
BIN := $(VENV)/bin

.PHONY: run test test-durations test-fast install browser definitions clean clean-test-leftovers bench reliability \
	container-tools images compose-smoke

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Hub + nodes 63, 6371, 6303 (NODES=all for all 14 offices); Ctrl-C stops everything.
run: install
	$(BIN)/rehsos up --nodes $(NODES)

# The hub pages' browser test drives Debian's chromium (playwright cannot download a browser here):
# installed when missing and we are root; otherwise say so, since that test fails without it.
CHROMIUM ?= /usr/bin/chromium
browser:
	@[ -x $(CHROMIUM) ] || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	    { echo "make: $(CHROMIUM) is missing: apt-get install chromium (as root)" >&2; exit 1; }

# Test files run in TEST_JOBS pytest processes side by side (rehsos_tools/testrun.py: most of a
# test's time is waiting on the broker or a service). Naming tests runs just those, in one process:
# make test PYTEST_ARGS=tests/service/test_http.py
# Three on two cores: measured 280 s, against 293-298 s with four and 317 s with two.
TEST_JOBS ?= 3
test: install browser
	$(BIN)/python -m rehsos_tools.testrun -j $(TEST_JOBS) $(PYTEST_ARGS)

# Rebalance the shards: run everything and keep each file's time in tests/durations.json.
test-durations: install browser
	$(BIN)/python -m rehsos_tools.testrun -j $(TEST_JOBS) --record

test-fast: install
	$(BIN)/pytest -m "not broker and not postgres" $(PYTEST_ARGS)

# Regenerate the RabbitMQ definitions files used by docker-compose.yml.
definitions: install
	$(BIN)/rehsos definitions --out deploy/rabbitmq --nodes 63,6371,6303

clean:
	rm -rf var

# Figures, printed as JSON: the outbox relay and the hub's catch-up beside raw kombu on the same
# broker (ratios; PUBLISH_N, CATCHUP_N, CATCHUP_SECONDS to lower the load), the intake API at 50
# clients and registrations at 200/s until counted at the hub, with each service process's peak RSS
# (uplink; CONCURRENCY, API_SECONDS, RATE, E2E_SECONDS, NODES), case search on 1,000,000 persons (N),
# the hub applying case events on PostgreSQL (CASES), the dashboard over 1,000,000 cases spanning
# five years (dashboard; CASES, REPEATS, FIVE_YEARS=1), and the hub's rebuild replaying REBUILD_N
# (1,000,000) stored events. Each on throwaway databases.
REBUILD_N ?= 1000000
# One JSON object on stdout (and in var/bench/); BENCHES=dashboard,search runs only those.
bench: install
	REBUILD_N=$(REBUILD_N) PYTHONPATH=. $(BIN)/python benchmarks/bench_all.py

# Proof of issue 11 on a throwaway province (PostgreSQL, real RabbitMQ): faults, hostile messages,
# access matrix, fuzzing, privacy scan. One JSON summary on stdout; exit 1 on any failure.
# CI runs it after `make test`; RELIABILITY_ARGS=--quick for a short run while developing.
reliability: install
	@$(BIN)/rehsos reliability $(RELIABILITY_ARGS)

# Remove the vhosts, users and databases that killed test runs left behind (not while tests run).
clean-test-leftovers: install
	$(BIN)/python -m rehsos_tools.testrun --sweep

# -- containers (deploy/README.md) -------------------------------------------------------------------
# podman, buildah, runc, mmdebstrap (Debian) and /etc/containers/containers.conf, as root when missing.
container-tools:
	$(PYTHON) -m rehsos_tools.images tools

$(BIN)/podman-compose: $(BIN)/.installed
	$(BIN)/pip install --quiet 'podman-compose>=1.0,<2'

# The wheelhouse (var/wheelhouse), the base images from Debian packages where the official ones
# cannot be pulled (IMAGES_ARGS=--local to force that), and the service image rehsos-kalsel.
images: install container-tools
	$(BIN)/python -m rehsos_tools.images build $(IMAGES_ARGS)

# The province in podman-compose (project rehsos-smoke): a case at 6371 counted once at the hub,
# also across a stop of the hub's broker; with --runbook, a backup and restore of 6371's databases
# and a rotation of its hub link password. Everything removed afterwards, volumes included.
# COMPOSE_NODES=all: the 14 offices as `rehsos compose --nodes all` writes them (slow: minutes).
SMOKE_ARGS ?= --runbook
COMPOSE_NODES ?=
compose-smoke: install container-tools $(BIN)/podman-compose
	$(BIN)/python -m rehsos_tools.compose_smoke $(SMOKE_ARGS) $(if $(COMPOSE_NODES),--nodes $(COMPOSE_NODES))
