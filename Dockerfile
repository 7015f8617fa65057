# Dashgate's container image. Two stages: the first compiles the TypeScript and the native
# modules (better-sqlite3, argon2, bcrypt) with the tools that needs; the second holds only Node,
# the compiled gateway and its production dependencies, and runs as an unprivileged user.
#
#   docker build -t dashgate .
#   docker run --rm -p 8000:8000 -v dashgate-data:/data --read-only --tmpfs /tmp \
#     -e DASHGATE_UPSTREAM=http://app:8050 dashgate
#
# The root filesystem can be read-only: everything Dashgate writes goes to /data (the SQLite
# database, signing keys, the mail outbox; a volume) and, for `dashgate demo` and `dashgate run`
# only, to /tmp (a tmpfs or an emptyDir).
# NODE_IMAGE: scripts/image-test.sh points it at a locally bootstrapped stand-in when no image
# registry can be reached.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 downloads a prebuilt binary when it can and compiles itself with node-gyp when
# it cannot (no route to its download host): the compilers make the second case work too.
# npm_config_nodedir: node-gyp uses the headers that come with this Node instead of downloading them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local
WORKDIR /build
# Dependencies first, so an edit in src/ does not reinstall them. --ignore-scripts skips the
# package's own "prepare" (the build, which needs src/); `npm rebuild` then runs the
# dependencies' install scripts (the native modules).
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts \
 && npm rebuild --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/
COPY src src
# After the build: production dependencies only; better-sqlite3 without its sources and object
# files (the compiled module is all it loads); tsx and esbuild are how a developer's checkout
# runs src/ (bin/dashgate.js), the image runs the compiled dist/ and never loads them.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/ \
 && cd /build \
 && rm -rf node_modules/tsx node_modules/esbuild node_modules/@esbuild node_modules/.bin/tsx node_modules/.bin/esbuild

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="Dashgate" \
      org.opencontainers.image.description="Authentication gateway for Plotly Dash apps" \
      org.opencontainers.image.licenses="Apache-2.0"
# `dashgate run` starts its app under util-linux's setpriv --pdeathsig, so the app dies with the
# gateway; util-linux is Essential in Debian, this only proves it is there.
RUN test -x /usr/bin/setpriv \
 && groupadd --system --gid 10001 dashgate \
 && useradd --system --uid 10001 --gid dashgate --home-dir /data --no-create-home --shell /usr/sbin/nologin dashgate \
 && mkdir -p /data /etc/dashgate \
 && chown dashgate:dashgate /data \
 && chmod 0700 /data
COPY --from=build /build/package.json /opt/dashgate/package.json
COPY --from=build /build/node_modules /opt/dashgate/node_modules
COPY --from=build /build/dist /opt/dashgate/dist
COPY deploy/image/dashgate /usr/local/bin/dashgate
# DASHGATE_*: settings (levels joined by "__"); a dashgate.yaml mounted at
# /etc/dashgate/dashgate.yaml (the working directory) is read by every command, probes included.
ENV NODE_ENV=production \
    DASHGATE_DATA_DIR=/data \
    DASHGATE_SERVER__HOST=0.0.0.0
WORKDIR /etc/dashgate
VOLUME ["/data"]
EXPOSE 8000
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
# `dashgate health` asks this container's gateway (port from the configuration) for liveness;
# the image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["dashgate", "health"]
ENTRYPOINT ["dashgate"]
CMD ["serve"]
