#!/usr/bin/env bash
# Install the local-chain tools (anvil, solc-js, the Aave v3 and Uniswap v3 contract artifacts) from
# npm into localchain/node_modules, at the exact versions of localchain/package-lock.json.
# Needs node (>= 18) and npm; the on-chain tests (tests/localchain) skip without them.
set -euo pipefail
cd "$(dirname "$0")/../localchain"
missing=()
command -v node >/dev/null 2>&1 || missing+=(node)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "install_chain_tools: ${missing[*]} not found; install Node.js 18+ with npm (e.g. 'apt-get install nodejs npm')" >&2
  echo "install_chain_tools: without them the local-chain tests in tests/localchain are skipped" >&2
  exit 2
fi
start=$(date +%s)
# --ignore-scripts: anvil's postinstall only checks the platform binary, which npm already picked.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
echo "install_chain_tools: anvil $(node_modules/.bin/anvil --version | head -1 | awk '{print $3}'), solc-js $(node -p 'require("solc/package.json").version') ready in localchain/node_modules ($(($(date +%s) - start))s)"
