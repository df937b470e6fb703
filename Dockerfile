# Likeness: one image for every role (api, worker, start). Not built on the development machines
# (they have no Docker engine); see docs/operations.md.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:web
ENV HOST=0.0.0.0 PORT=8080 LIKENESS_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["node", "bin/likeness.mjs"]
CMD ["start"]
