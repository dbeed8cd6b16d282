# The Flotilla API/worker image. The same image runs every production role:
#   docker run … flotilla            → `flotilla serve` (the default command)
#   docker run … flotilla node bin/flotilla.js worker
#   docker run … flotilla node bin/flotilla.js migrate
# It needs DATABASE_URL and REDIS_URL (see README "Deploy"). bench/image-smoke.sh builds it
# and runs hello-world through it.

# --- build: the full `npm run build` (server to dist/, console to dist/web/) with dev deps ----
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` would build before the sources are copied, and
# no dependency needs its install script (esbuild finds its platform package without it).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build

# --- runtime: production dependencies and the compiled code only -----------------------------
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` needs the dev toolchain, and the optional native helpers of ssh2
# (cpu-features, its crypto binding) cannot compile without a compiler; ssh2 runs without them.
# With scripts off, postinstall does not run: apply patches/ (a reviewed fix to the postgres
# driver, see README "Failure modes") explicitly. patch-package is a production dependency
# for this, and --error-on-fail stops the build if the patch no longer applies.
COPY patches ./patches
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && ./node_modules/.bin/patch-package --error-on-fail \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
COPY bin ./bin
# Embedded PGlite data, used only when DATABASE_URL is unset (a quick `docker run` trial).
RUN mkdir -p /var/lib/flotilla && chown node:node /var/lib/flotilla
# A container listens on all interfaces, and must never run commands on its host: the
# local engine stays off (jobs go to Kubernetes unless FLOTILLA_ENGINES says otherwise).
ENV HOST=0.0.0.0 \
    PORT=5000 \
    FLOTILLA_ENGINES=kubernetes \
    FLOTILLA_DATA_DIR=/var/lib/flotilla
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 1000:1000
EXPOSE 5000
CMD ["node", "bin/flotilla.js", "serve"]
