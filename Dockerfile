# CodeQR as a container: the scale-out process image (deploy/compose.yaml runs two of them
# behind nginx). Slim, non-root, the committed lock file, `codeqr serve` as entry point.
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY src ./src
# The project and its runtime dependencies only (no test tools), installed, not linked.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home codeqr
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH CODEQR_DATA_DIR=/data PYTHONUNBUFFERED=1
USER codeqr
WORKDIR /data
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["codeqr"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
