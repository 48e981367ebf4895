# llm-relay: responders, lighttpd, Caddy and memcached in one image.
# docker build -t llm-relay . && docker run -p 8080:8080 llm-relay
FROM debian:bookworm-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config libfcgi-dev libcurl4-openssl-dev libjansson-dev \
        libmemcached-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" all

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libfcgi0ldbl libcurl4 libjansson4 libmemcached11 libmemcachedutil2 ca-certificates \
        lighttpd caddy memcached && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /srv/relay relay
WORKDIR /srv/relay
COPY --from=build /src/build/relay-* /src/build/mock-upstream /srv/relay/build/
COPY scripts /srv/relay/scripts
COPY lighttpd /srv/relay/lighttpd
COPY caddy /srv/relay/caddy
RUN chown -R relay /srv/relay
USER relay
ENV PORT=8080 SERVER=lighttpd BUILD=build
EXPOSE 8080
# scripts/run.sh binds 127.0.0.1; in a container put Caddy/lighttpd on
# 0.0.0.0 by setting BIND=0.0.0.0.
CMD ["scripts/run.sh"]
