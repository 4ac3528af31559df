# Rehsos Kalsel. `make run` starts a province locally; `make test` runs every test, `make test-fast`
# those that need neither RabbitMQ nor PostgreSQL (seconds, and the servers may be down).
PYTHON ?= python3
VENV ?= .venv
NODES ?= default
BIN := $(VENV)/bin

.PHONY: run test test-fast install definitions clean bench reliability

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Hub + nodes 63, 6371, 6303 (NODES=all for all 14 offices); Ctrl-C stops everything.
run: install
	$(BIN)/rehsos up --nodes $(NODES)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: install
	$(BIN)/pytest -m "not broker and not postgres" $(PYTEST_ARGS)

# Regenerate the RabbitMQ definitions files used by docker-compose.yml.
definitions: install
	$(BIN)/rehsos definitions --out deploy/rabbitmq --nodes 63,6371,6303

clean:
	rm -rf var

# Figures, printed as JSON: registration → hub throughput, and case search on 100k persons.
bench: install
	PYTHONPATH=. $(BIN)/python benchmarks/bench_uplink.py
	$(BIN)/python benchmarks/bench_search.py

# Proof of issue 11 on a throwaway province (PostgreSQL, real RabbitMQ): faults, hostile messages,
# access matrix, fuzzing, privacy scan. One JSON summary on stdout; exit 1 on any failure.
# CI runs it after `make test`; RELIABILITY_ARGS=--quick for a short run while developing.
reliability: install
	@$(BIN)/rehsos reliability $(RELIABILITY_ARGS)
