# Every image compose.yaml runs is a target of this one file, on one base (debian:bookworm-slim),
# from the parts and code the native stack runs: docs/images.md says what each holds and why.
# Each part starts through `python -m stack serve PART`, the native launcher's own rendering
# code, so the two stacks cannot drift. No BuildKit-only syntax (no heredoc, no `# syntax=`):
# the engine's classic builder reads it too. Stages are ordered cheapest first, because the
# classic builder builds every stage above a target.
ARG BASE=debian:bookworm-slim

# Python 3.11 from Debian: every image runs the project's code with it. PIP_CERT: pip trusts
# the system's CA bundle (which may hold a host's locally added CA), not its own copy. A
# container is given its own secrets and has no .env to write (STACK_SECRETS_FROM_ENVIRONMENT).
FROM ${BASE} AS python
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STACK_SECRETS_FROM_ENVIRONMENT=1
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app

# The project's dependencies, from pyproject.toml alone: a change of code reinstalls nothing.
FROM python AS deps
COPY pyproject.toml /tmp/pyproject.toml
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv \
    && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -q -r /tmp/requirements.txt

# The API, the consumers, the exporter and the stack's one-shot jobs (migrate, kafka-auth,
# register). Run from /app (python -m puts it on sys.path); the project is not pip-installed.
FROM python AS app
COPY --from=deps /opt/venv /opt/venv
COPY pyproject.toml ./
COPY contract ./contract
COPY consumer_runtime ./consumer_runtime
COPY producer_app ./producer_app
COPY consumers ./consumers
COPY stack ./stack
COPY ops ./ops
COPY schemas ./schemas
COPY connectors ./connectors
COPY monitoring ./monitoring
USER app
CMD ["python", "-m", "producer_app", "serve"]

# PostgreSQL 15 from Debian's package; the cluster is made and started by stack/postgres.py
# (the native stack's server options), as the postgres user. Debian's packaging must not make
# a cluster of its own. SIGINT is Postgres' fast shutdown (SIGTERM would wait for clients).
FROM python AS postgres
RUN mkdir -p /etc/postgresql-common \
    && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=deps /opt/venv /opt/venv
COPY --from=app /app /app
RUN mkdir -p /app/.stack/pg && chown -R postgres:postgres /app/.stack && chmod 700 /app/.stack/pg
# A server part listens on every address of its container (compose publishes its ports on the
# host's 127.0.0.1 only); psql in the container finds the server's socket (a password is
# still asked: docker compose exec postgres sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -U postgres').
ENV STACK_BIND_HOST=0.0.0.0 PGHOST=/app/.stack/pg
USER postgres
STOPSIGNAL SIGINT
ENTRYPOINT ["python", "-m", "stack"]
CMD ["serve", "postgres"]

# Prometheus from Debian's package, with the rules of monitoring/ and the jobs stack/monitoring.py
# renders (each at its compose service).
FROM python AS prometheus
RUN apt-get update -q \
    && apt-get install -y -q --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/*
COPY --from=deps /opt/venv /opt/venv
COPY --from=app /app /app
RUN mkdir -p /app/.stack/prometheus /app/.stack/conf && chown app /app/.stack/prometheus /app/.stack/conf
ENV STACK_BIND_HOST=0.0.0.0
USER app
ENTRYPOINT ["python", "-m", "stack"]
CMD ["serve", "prometheus"]

# Kafka 4.3.0, Kafka Connect and Debezium 3.6.1.Final: the jars of stack/jars/pom.xml, fetched by
# Maven here exactly as `make jars` fetches them for the native stack.
FROM python AS jars
# Java's packaging links its man pages, and fails where a slim image has no man folder.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends maven \
    && rm -rf /var/lib/apt/lists/*
COPY stack/jars /app/stack/jars
RUN mvn -B -q -f /app/stack/jars/pom.xml package && rm -rf /root/.m2

# The broker and the Connect worker (one image; the command picks the part).
FROM python AS jvm
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update -q \
    && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/*
COPY --from=jars /app/.stack/jars /app/.stack/jars
COPY --from=deps /opt/venv /opt/venv
COPY --from=app /app /app
# The data directories of the one node and of the HA topology's three (compose.ha.yaml),
# owned by the user the part runs as: a named volume takes its mount point's owner.
RUN mkdir -p /app/.stack/kafka /app/.stack/kafka-1 /app/.stack/kafka-2 /app/.stack/kafka-3 /app/.stack/conf \
    && chown app /app/.stack/kafka /app/.stack/kafka-1 /app/.stack/kafka-2 /app/.stack/kafka-3 /app/.stack/conf
ENV STACK_BIND_HOST=0.0.0.0
USER app
ENTRYPOINT ["python", "-m", "stack"]
CMD ["serve", "kafka"]
