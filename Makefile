# The verbs users and CI rely on. Each prints what it did and fails with a reason.
# STACK=native|compose picks the stack; by default compose when a Docker engine answers.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STACK ?= $(shell docker info >/dev/null 2>&1 && echo compose || echo native)
PYTEST_ARGS ?=
# A value as one shell word, whatever it holds (quotes, spaces, semicolons): what an operator
# types after VAR= reaches the tool as typed, never as shell syntax. make itself still
# expands $ in it.
q = '$(subst ','"'"',$(1))'
$(if $(filter-out native compose,$(STACK)),$(error STACK=$(STACK): say native or compose))
# TOPOLOGY=single|ha: one broker and one Connect worker, or three KRaft nodes and two workers
# (stack/topology.py). By default the one make up last started, else single. In ha every tool
# and app is given the three brokers and both workers (python -m stack addresses).
TOPOLOGY ?= $(shell cat .stack/run/topology 2>/dev/null || echo single)
$(if $(filter-out single ha,$(TOPOLOGY)),$(error TOPOLOGY=$(TOPOLOGY): say single or ha))
export STACK_TOPOLOGY := $(TOPOLOGY)
ifeq ($(TOPOLOGY),ha)
HA_ADDRESSES := $(shell [ -x $(PY) ] && $(PY) -m stack addresses 2>/dev/null)
ifneq ($(HA_ADDRESSES),)
export KAFKA_BOOTSTRAP_SERVERS := $(word 1,$(HA_ADDRESSES))
export CONNECT_URL := $(word 2,$(HA_ADDRESSES))
endif
endif
# Its compose form: compose.ha.yaml read on top of compose.yaml by every `docker compose` make
# runs, and by those the host's tools run (make status's `docker compose ps`).
ifeq ($(STACK)-$(TOPOLOGY),compose-ha)
export COMPOSE_FILE := compose.yaml:compose.ha.yaml
endif

# .env is not included: every tool reads it itself, and each part the stack starts gets only
# its own secrets in its environment (stack/secrets.py), never all of them from make.
# Progress lines reach CI logs as they happen, not when a buffer fills.
export PYTHONUNBUFFERED := 1

.PHONY: help venv jars env up down clean status logs register db test test-ha test-unit lint fmt \
        schemas-check seed api-key consume topics inspect lag dlq-replay trace reconcile rebuild \
        republish bench bench-eos bench-observability chaos docker-engine docker-engine-down

help: ## list the verbs
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "error: Python 3.11+ is needed as '$(PYTHON)' (set PYTHON=...)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { echo "error: python venv failed (apt-get install -y python3-venv)"; exit 1; }
	@$(BIN)/pip install -q --upgrade pip > $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@$(BIN)/pip install -q -e '.[dev]' >> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $@
	@echo "venv      $(VENV) ready ($$($(PY) --version))"

venv: $(VENV)/.installed ## create the virtualenv and install the project

env: venv
	@$(PY) -m stack env

jars: venv ## fetch the Kafka and Debezium jars (cached in .stack/jars)
	@$(PY) -m stack jars

up: venv ## the whole pipeline: stack, connector, apps, Prometheus if installed (METRICS=0|1)
ifeq ($(STACK),compose)
	@$(PY) -m stack env
	@# One build at a time: the images share their first stages, which a parallel build would
	@# make four times over (docker compose up alone builds them too, in parallel).
	COMPOSE_PARALLEL_LIMIT=1 docker compose build
	docker compose up -d --wait
	@mkdir -p .stack/run && echo $(TOPOLOGY) > .stack/run/topology
	@echo "stack     compose services up and healthy, $(TOPOLOGY) topology (docker compose ps)"
else
	@STACK_METRICS=$(call q,$(METRICS)) $(PY) -m stack up
	@$(PY) -m stack register
	@STACK_METRICS=$(call q,$(METRICS)) $(PY) -m stack apps
endif

down: venv ## stop everything that make up started
ifeq ($(STACK),compose)
	docker compose down
	@rm -f .stack/run/topology
else
	@$(PY) -m stack down
endif

clean: venv ## stop and delete data, pids and logs (keeps the jar cache)
ifeq ($(STACK),compose)
	docker compose down -v
	@rm -f .stack/run/topology
else
	@$(PY) -m stack clean
endif

status: venv ## every process, connector and task, replication slot (WAL retained)
	@$(PY) -m ops status $(if $(JSON),--json) $(if $(filter compose,$(STACK)),--compose)

logs: venv ## the end of each part's log (PART=connect for one)
	@$(PY) -m stack logs $(if $(PART),-- $(call q,$(PART)))

register: venv ## PUT every connectors/*.json and wait until RUNNING
	@$(PY) -m stack register

db: venv ## roles, schemas, migrations, publication (idempotent)
	@$(PY) -m stack db

test: venv ## the whole test suite; starts the native stack if needed, stops it if it did
	@$(PY) -m stack with -- $(PY) -m pytest $(PYTEST_ARGS)

test-ha: venv ## HA topology: kill -9 mid-seed, then every failover chaos kind on 400 orders (starts it if needed, ~15 min); STACK=compose: the compose form's failover test
ifeq ($(STACK),compose)
	@# The compose form alone (tests/ha/test_compose_ha.py builds and starts its own project).
	@STACK_TOPOLOGY=ha $(PY) -m pytest -m ha tests/ha/test_compose_ha.py $(PYTEST_ARGS)
else
	@# The native form's tests; the compose form's ten more JVMs beside it would not fit.
	@STACK_TOPOLOGY=ha $(PY) -m stack with -- $(PY) -m pytest -m ha tests/ha \
		--ignore=tests/ha/test_compose_ha.py $(PYTEST_ARGS)
endif

test-unit: venv ## unit tests only (no services)
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

ORDERS ?= 1000
RATE ?= 0
seed: venv ## place ORDERS random orders (RATE orders/s, 0 = flat out) as API_KEY's client
ifeq ($(STACK),compose)
	docker compose exec -T -e API_KEY api python -m producer_app seed --orders=$(call q,$(ORDERS)) --rate=$(call q,$(RATE))
else
	@$(PY) -m producer_app seed --orders=$(call q,$(ORDERS)) --rate=$(call q,$(RATE))
endif

api-key: venv ## print a new API key for client NAME, once [REVOKE=1: revoke its keys]
	@test -n "$(NAME)" || { echo "error: say which client: make api-key NAME=alice"; exit 2; }
ifeq ($(STACK),compose)
	@docker compose exec -T api python -m producer_app api-key $(if $(REVOKE),--revoke) -- $(call q,$(NAME))
else
	@$(PY) -m producer_app api-key $(if $(REVOKE),--revoke) -- $(call q,$(NAME))
endif

INSTANCES ?= 1
consume: venv ## run every handler's consumer group in the foreground (Ctrl-C stops)
	@$(PY) -m consumers run-all --instances=$(call q,$(INSTANCES))

schemas-check: venv ## every schema version reads every other (FULL_TRANSITIVE)
	@$(PY) -m contract check-schemas

topics: venv ## topics with partitions, messages per partition, retention, kind
	@$(PY) -m ops topics $(if $(JSON),--json)

FROM ?= beginning
N ?= 20
inspect: venv ## decoded messages: TOPIC=... [FROM=beginning|latest|<offset>|<time>] [N=] [KEY=] [FOLLOW=1]
	@test -n $(call q,$(TOPIC)) || { echo "error: say which topic: make inspect TOPIC=outbox.event.order" >&2; exit 2; }
	@$(PY) -m ops inspect --from=$(call q,$(FROM)) -n=$(call q,$(N)) \
	  $(if $(KEY),--key=$(call q,$(KEY))) \
	  $(if $(FOLLOW),--follow) $(if $(JSON),--json) -- $(call q,$(TOPIC))

lag: venv ## committed vs end offsets per group [GROUP=] [MAX_LAG=n: exit 1 above it]
	@$(PY) -m ops lag $(if $(GROUP),--group=$(call q,$(GROUP))) \
	  $(if $(MAX_LAG),--max-lag=$(call q,$(MAX_LAG))) \
	  $(if $(JSON),--json)

dlq-replay: venv ## run GROUP's dead letters through it again [IDS=id,id]
	@test -n $(call q,$(GROUP)) || { echo "error: say which group: make dlq-replay GROUP=inventory" >&2; exit 2; }
	@$(PY) -m ops dlq-replay $(if $(IDS),--ids=$(call q,$(IDS))) $(if $(JSON),--json) -- $(call q,$(GROUP))

trace: venv ## every hop of an order's events: ID=<order id|event id|Idempotency-Key|trace id> [JSON=1]
	@test -n $(call q,$(ID)) || { echo "error: say what to trace: make trace ID=<order id>" >&2; exit 2; }
	@$(PY) -m ops trace $(if $(JSON),--json) -- $(call q,$(ID))

reconcile: venv ## each read model against the orders table [GROUP=] [JSON=1]; exit 1 on drift
	@$(PY) -m ops reconcile $(if $(GROUP),--group=$(call q,$(GROUP))) $(if $(JSON),--json)

rebuild: venv ## empty GROUP's read model and run it again from Kafka's history [SINCE=] [FORCE=1]
	@test -n $(call q,$(GROUP)) || { echo "error: say which group: make rebuild GROUP=sales-projection" >&2; exit 2; }
ifeq ($(STACK),compose)
	@$(PY) -m ops rebuild $(if $(FORCE),--force) $(if $(SINCE),--since=$(call q,$(SINCE))) --check -- $(call q,$(GROUP))
	docker compose stop consumers
	@$(PY) -m ops rebuild $(if $(FORCE),--force) $(if $(SINCE),--since=$(call q,$(SINCE))) --wait 0 -- $(call q,$(GROUP)); \
	  rc=$$?; docker compose start consumers; exit $$rc
else
	@$(PY) -m ops rebuild $(if $(FORCE),--force) $(if $(SINCE),--since=$(call q,$(SINCE))) -- $(call q,$(GROUP))
endif

republish: venv ## write orders' events again from the orders table: ALL=1 | IDS=id,id | SINCE= [UNTIL=]
	@$(PY) -m producer_app republish $(if $(ALL),--all) $(if $(IDS),--ids=$(call q,$(IDS))) \
	  $(if $(SINCE),--since=$(call q,$(SINCE))) $(if $(UNTIL),--until=$(call q,$(UNTIL))) \
	  $(if $(LEGACY),--legacy)

bench: venv ## every benchmark figure in one run (after make up); QUICK=1 in ~1.5 min; TOPOLOGY=ha: the HA column
	@$(PY) -m bench $(if $(QUICK),--quick)

bench-eos: venv ## exactly-once source off and on in one run: latency at 100/s, kill -9 of the task's worker, drain (after make up TOPOLOGY=ha, ~12 min)
	@$(PY) -m bench.exactly_once_cli $(if $(filter command line,$(origin RATE)),--rate=$(call q,$(RATE))) \
		$(if $(SECONDS),--seconds=$(call q,$(SECONDS)))

bench-observability: venv ## CPU per event of metrics and traces in the consumers (after make up, make seed)
	@$(PY) -m bench.observability

CHAOS_ORDERS ?= 10000
chaos: venv ## workload + every fault at random moments + checker (after make up)
	@$(PY) -m chaos --orders=$(call q,$(CHAOS_ORDERS))

docker-engine: venv ## a Docker engine of our own where none runs (private socket; prints the export line)
	@$(PY) -m stack docker-engine

docker-engine-down: venv ## stop that engine and its containers; nothing is left running
	@$(PY) -m stack docker-engine-down

lint: venv ## ruff and mypy
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/mypy
	@echo "lint      ruff and mypy clean"

fmt: venv
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

# The verbs people expect from kcat, Kafka UI and Debezium's tutorial (each: JSON=1 for scripts).
.PHONY: connector groups reset-offsets acls psql dlq-skip schemas

ACTION ?= status
connector: venv ## the connector and its tasks [ACTION=status|pause|resume|restart] [JSON=1]
	@$(PY) -m ops connector --action=$(call q,$(ACTION)) $(if $(JSON),--json)

groups: venv ## consumer groups: state, members, hosts, assignments, lag per partition [GROUP=]
	@$(PY) -m ops groups $(if $(GROUP),--group=$(call q,$(GROUP))) $(if $(JSON),--json)

reset-offsets: venv ## move GROUP's offsets: TO=earliest|latest|<time>|<offset>; a dry run unless APPLY=1 [FORCE=1]
	@test -n $(call q,$(GROUP)) || { echo "error: say which group: make reset-offsets GROUP=sales-projection TO=earliest" >&2; exit 2; }
	@test -n $(call q,$(TO)) || { echo "error: say where to: TO=earliest|latest|<ISO time>|<offset>" >&2; exit 2; }
	@$(PY) -m ops reset-offsets --to=$(call q,$(TO)) $(if $(APPLY),--apply) \
	  $(if $(FORCE),--force) $(if $(JSON),--json) -- $(call q,$(GROUP))

acls: venv ## Kafka principals (SCRAM logins, super users) and what each may do [JSON=1]
	@$(PY) -m ops acls $(if $(JSON),--json)

psql: venv ## a psql shell as one of the database's roles, password from .env [ROLE=app] [JSON=1: the roles]
	@$(PY) -m ops psql $(if $(ROLE),--role=$(call q,$(ROLE))) $(if $(JSON),--json)

dlq-skip: venv ## settle GROUP's dead letters IDS= without applying them, REASON= on record [JSON=1]
	@test -n $(call q,$(GROUP)) || { echo "error: say which group: make dlq-skip GROUP=notifications IDS=<event id> REASON='...'" >&2; exit 2; }
	@test -n $(call q,$(IDS)) || { echo "error: say which dead letters: IDS=<event id>,<event id>" >&2; exit 2; }
	@test -n $(call q,$(REASON)) || { echo "error: say why: REASON='sent by hand on 12 May'" >&2; exit 2; }
	@$(PY) -m ops dlq-skip --ids=$(call q,$(IDS)) --reason=$(call q,$(REASON)) \
	  $(if $(JSON),--json) -- $(call q,$(GROUP))

schemas: venv ## each schema version, its fingerprint, which the running consumers know [JSON=1]
	@$(PY) -m ops schemas $(if $(JSON),--json)
