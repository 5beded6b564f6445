# syntax=docker/dockerfile:1
# One image for every Python deployable (API, consumers, exporter, migrate/register jobs).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY producer_app ./producer_app
COPY consumers ./consumers
COPY stack ./stack
COPY ops ./ops
COPY schemas ./schemas
COPY connectors ./connectors
RUN pip install --no-cache-dir . && useradd --system --uid 10001 app
# The Prometheus JMX exporter agent for the Kafka and Connect containers: compose's jmx-agent
# job copies it into a volume they mount read-only. Pinned by its SHA-256 (as the native
# stack's Maven fetch, stack/jars/agent/pom.xml, pins its version).
ARG JMX_EXPORTER=0.20.0
ARG JMX_EXPORTER_SHA256=8b67ed40485d475648c36d11d21464b484406f85faf912b3363f71a6a7861320
RUN python - <<'PY'
import hashlib, os, urllib.request
v = os.environ["JMX_EXPORTER"]
url = f"https://repo1.maven.org/maven2/io/prometheus/jmx/jmx_prometheus_javaagent/{v}/jmx_prometheus_javaagent-{v}.jar"
data = urllib.request.urlopen(url, timeout=60).read()
assert hashlib.sha256(data).hexdigest() == os.environ["JMX_EXPORTER_SHA256"], "checksum mismatch"
os.makedirs("/opt/jmx", exist_ok=True)
open(f"/opt/jmx/jmx_prometheus_javaagent-{v}.jar", "wb").write(data)
PY
RUN mkdir /agent && chown app /agent
USER app
CMD ["python", "-m", "producer_app", "serve"]
