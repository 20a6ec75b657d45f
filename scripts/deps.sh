#!/usr/bin/env bash
# deps.sh — installs, from Debian's packages, what building and testing fsmml need.
# Runs `apt-get update` once, and only when something is missing.
set -euo pipefail

PKGS=(make gcc libc6-dev
      postgresql-15 postgresql-server-dev-15
      libxgboost-dev libcjson-dev libcurl4-openssl-dev libssl-dev
      postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
      python3 python3-numpy python3-pandas python3-xgboost python3-psycopg2 python3-sklearn python3-statsmodels
      python3-optuna chromium
      ca-certificates gzip procps bc)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
        exit 1
    fi
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
