#!/usr/bin/env bash
# Bundle the local preview's card renderer at build time (run by `make install`'s stamp and `make vendor`):
# `npm ci` from the committed lockfile, then copy the two minified browser files and their licences into
# bot/static/vendor/ (ignored by git). The bot serves them itself; nothing is fetched from a CDN at run time.
set -euo pipefail
cd "$(dirname "$0")"
VENDOR=../static/vendor

if ! command -v npm >/dev/null 2>&1; then
    echo "bot/web: npm is not installed, so the local preview cannot draw cards" >&2
    echo "bot/web: install Node.js and npm (apt-get install npm), then run: make vendor" >&2
    exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
mkdir -p "$VENDOR"
cp node_modules/adaptivecards/dist/adaptivecards.min.js "$VENDOR/adaptivecards.min.js"
cp node_modules/markdown-it/dist/markdown-it.min.js "$VENDOR/markdown-it.min.js"
cp node_modules/adaptivecards/LICENSE "$VENDOR/LICENSE.adaptivecards"
cp node_modules/markdown-it/LICENSE "$VENDOR/LICENSE.markdown-it"
echo "bot/web: bundled adaptivecards $(node -p 'require("./node_modules/adaptivecards/package.json").version') and markdown-it $(node -p 'require("./node_modules/markdown-it/package.json").version') into bot/static/vendor/"
