#!/usr/bin/env bash
# tools/install-deps.sh: installs what strata needs to build and test, from Debian 12's packages only.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PKGS=(build-essential cmake ninja-build pkg-config
      libfmt-dev libcli11-dev nlohmann-json3-dev liburing-dev libssl-dev libpcre2-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      python3 python3-jinja2
      bsdutils                    # `script`: the progress test drives `strata run` under a pseudo-terminal
      chromium fonts-dejavu-core) # headless Chromium loads the /strata page in the server tests
# Node.js runs the Ollama/OpenAI client tests; keep an existing install (it may not come from Debian).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then PKGS+=(nodejs npm); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "strata: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "strata: dependencies present"
