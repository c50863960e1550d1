# evidock for production: the app only. S3 (with Object Lock) and the database
# come from the environment: EVIDOCK_S3_ACCESS_KEY, EVIDOCK_S3_SECRET_KEY and a
# mounted config.toml (s3.endpoint, database.url = postgresql+psycopg://...).
# Debian packages: those of scripts/install.sh the service uses (ffmpeg probes, xorriso
# burns, chromium and the WenQuanYi font print the Chinese PDF reports); the ones only
# the tests use (exiftool, poppler-utils) stay out. tests/test_dockerfile.py keeps the two lists in step.
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ffmpeg xorriso chromium fonts-wqy-zenhei \
    openssl tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/evidock
COPY requirements.lock pyproject.toml README.md ./
RUN python3 -m venv /opt/evidock/.venv && /opt/evidock/.venv/bin/pip install --no-cache-dir -r requirements.lock
COPY chain chain
COPY storage storage
COPY access access
COPY cases cases
COPY ingest ingest
COPY retention retention
COPY derived derived
COPY evidock evidock
COPY witness witness
RUN /opt/evidock/.venv/bin/pip install --no-cache-dir --no-deps .
RUN useradd --system --home /var/lib/evidock evidock && mkdir -p /var/lib/evidock /srv/dock \
 && chown evidock /var/lib/evidock /srv/dock
USER evidock
ENV PATH=/opt/evidock/.venv/bin:$PATH EVIDOCK_CONFIG=/etc/evidock/config.toml
VOLUME ["/srv/dock", "/var/lib/evidock"]
ENTRYPOINT ["evidock"]
CMD ["run"]
