#!/usr/bin/env bash
# Vendors the Swagger UI of the /docs page: installs the swagger-ui-dist
# version that gateway/docsui/package-lock.json pins and copies the few files
# the page uses into gateway/docsui/dist/. dist/ is committed (go:embed needs
# the files at build time, so building arcgate needs no npm); CI re-runs this
# script and fails if dist/ changes. To upgrade: change the version in
# gateway/docsui/package.json, run `npm install --prefix gateway/docsui
# --ignore-scripts`, then this script, and commit all three.
set -euo pipefail
cd "$(dirname "$0")/../gateway/docsui"
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf dist
mkdir dist
for f in swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "node_modules/swagger-ui-dist/$f" dist/
done
