#!/usr/bin/env bash
# Installs the Debian python3-* packages that BigCodeBench tasks import, for the system
# /usr/bin/python3 the sandbox runs (Debian bookworm). Tasks whose libraries are still
# missing afterwards are reported by `dstc eval --benchmark bigcodebench` as skipped, with
# the library named; they are never counted as passed.
#
# Not packaged in bookworm (their tasks stay skipped unless installed another way):
# textblob, faker, wikipedia, librosa, pytesseract, blake3, sendgrid, python_http_client,
# tensorflow, keras, wordninja.
#
# Usage: scripts/install-bigcodebench-deps.sh [--dry-run]
set -euo pipefail

packages=(
  python3-numpy python3-pandas python3-matplotlib python3-sklearn python3-scipy
  python3-seaborn python3-requests python3-nltk python3-tz python3-bs4 python3-dateutil
  python3-opencv python3-statsmodels python3-django python3-pil python3-rsa python3-regex
  python3-flask python3-psutil python3-cryptography python3-flask-mail python3-folium
  python3-xlwt python3-wordcloud python3-geopy python3-sympy python3-mechanize python3-docx
  python3-openpyxl python3-texttable python3-xmltodict python3-lxml python3-flask-restful
  python3-flask-login python3-flaskext.wtf python3-wtforms python3-werkzeug python3-holidays
  python3-skimage python3-shapely python3-geopandas python3-soundfile python3-natsort
  python3-prettytable python3-pycryptodome python3-pyquery python3-gensim python3-yaml
  python3-levenshtein python3-chardet
)

if [[ "${1:-}" == "--dry-run" ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "BigCodeBench Python packages: all ${#packages[@]} installed"
  exit 0
fi
echo "installing ${#missing[@]} package(s): ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
