# syntax=docker/dockerfile:1
# Atelier's image, one for every role: the worker (default), the Slack app and the push webhook
# receiver (docker-compose.yml sets `command`), and `npm run deploy`. The commands are the README's.
# Everything runs from TypeScript sources with tsx (a runtime dependency), so there is no compile step;
# the build stage only bundles the workflow code once (`npm run build` -> .build/), so a worker starts
# without webpack. The bundle is used only while it matches workflows/, common/ and package-lock.json
# (workers/prebuiltBundle.ts): the runtime stage copies those from the same context.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# All dependencies, and the workflow bundle.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Runtime dependencies only (tsx, the Temporal SDK, sharp, ethers, ...): no TypeScript, ESLint, Vitest.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# git: the worker reads artwork repositories (activities/repository.ts); tini comes from compose's `init`.
RUN apt-get update \
  && apt-get install -y --no-install-recommends git ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# Code and dependencies stay root's and read-only; the node user (uid 1000) writes only .data (the
# deployment record, artwork repositories: a volume in compose) and its home (npm's logs, tsx's cache).
COPY --from=deps /app/node_modules ./node_modules
COPY . .
COPY --from=build /app/.build ./.build
RUN mkdir -p .data/repos config && chown -R node:node .data
USER node
# The worker has no port of its own; compose checks each role's health (the worker's metrics
# endpoint, the Slack app's and the receiver's port) where it knows the role.
EXPOSE 3000 3100 9464
CMD ["npm", "run", "worker"]
