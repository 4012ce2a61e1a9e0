#!/usr/bin/env bash
# Installs everything vstar needs on Debian 12: Debian packages, and a Python virtualenv outside the
# work tree holding the pinned PyPI `torch` wheel (LibTorch for the C++ build) plus the reference
# packages used by tools/golden and bench/. Idempotent: a second run checks and returns in seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv=${VSTAR_VENV:-$HOME/.local/share/vstar/venv}
req="$here/requirements.txt"

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git jq ffmpeg scdoc
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libopencv-dev libsimdjson-dev libcli11-dev catch2 nlohmann-json3-dev
  libpcre2-dev libutf8proc-dev libcurl4-openssl-dev libcpp-httplib-dev
  libboost-dev libboost-filesystem-dev libboost-system-dev
  libgloo-dev  # headers only: c10d's ProcessGroupGloo.hpp includes them; libtorch_cpu has Gloo built in
  python3-venv bash-completion zsh fish
)

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: Debian packages present" >&2
fi

stamp="$venv/.vstar-requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "deps: virtualenv $venv up to date" >&2
else
  py=${PYTHON:-python3}
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  echo "deps: installing PyPI packages into $venv (torch is large; once per machine)" >&2
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -r "$req"
  echo "$want" > "$stamp"
fi
echo "deps: ok (venv $venv)" >&2
