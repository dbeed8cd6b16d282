# The Flotilla API/worker image. The same image runs every production role:
#   docker run … flotilla            → `flotilla serve` (the default command)
#   docker run … flotilla node bin/flotilla.js worker
#   docker run … flotilla node bin/flotilla.js migrate
# It needs DATABASE_URL and REDIS_URL (see README "Production deployment").

# --- build: compile src/ to dist/ with the dev toolchain -------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/buildServer.mjs ./scripts/
COPY drizzle ./drizzle
COPY src ./src
RUN npm run build

# --- runtime: production dependencies and the compiled code only -----------------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: dist/ comes from the build stage (prepare would need the dev toolchain).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
COPY bin ./bin
# Embedded PGlite data, used only when DATABASE_URL is unset (a quick `docker run` trial).
RUN mkdir -p /var/lib/flotilla && chown node:node /var/lib/flotilla
# A container listens on all interfaces, and must never run commands on its host: the
# local engine stays off (jobs go to Kubernetes unless FLOTILLA_ENGINES says ECS).
ENV HOST=0.0.0.0 \
    PORT=5000 \
    FLOTILLA_ENGINES=kubernetes \
    FLOTILLA_DATA_DIR=/var/lib/flotilla
USER node
EXPOSE 5000
CMD ["node", "bin/flotilla.js", "serve"]
