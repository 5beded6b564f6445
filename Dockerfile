# One image for every Python deployable (API, consumers, migrate/register jobs).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY contract ./contract
COPY producer_app ./producer_app
COPY consumers ./consumers
COPY stack ./stack
COPY schemas ./schemas
COPY connectors ./connectors
RUN pip install --no-cache-dir . && useradd --system --uid 10001 app
USER app
CMD ["python", "-m", "producer_app", "serve"]
