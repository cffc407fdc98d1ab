FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bapp ./bapp
COPY schemas ./schemas
COPY cloud_code ./cloud_code
RUN pip install --no-cache-dir .
ENV BAPP_HOST=0.0.0.0 \
    BAPP_PORT=1337 \
    BAPP_DATA_DIR=/data
# The embedded store (data.db) and uploaded files: mount a volume here to keep them.
VOLUME ["/data"]
EXPOSE 1337
# Inside the container the server listens on all interfaces; publish the port
# deliberately (docker run -p 127.0.0.1:1337:1337 ...).
CMD ["bapp", "serve"]
