#!/usr/bin/env bash
# Installs the Debian packages imsrelay needs to build, test and run, and nothing when they
# are all there already. Runs as root on Debian 12 (as on the project's machines and CI).
set -euo pipefail

packages=(
    cmake make gcc clang libcmocka-dev libclang-rt-14-dev
    mingw-w64 wine64 wine nsis
    dpkg-dev python3 swaks clang-format-16
    dnsmasq-base python3-aiosmtpd libnet-ssleay-perl libio-socket-ssl-perl openssl
    libxml2-utils stress-ng
    postfix
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# postfix is here for its smtp-source load generator and as the reference the SMTP benchmarks
# (tests/bench/smtp) run privately. "No configuration": the package then writes no main.cf
# and sets up, starts and changes no system mail service.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
$SUDO apt-get update -qq
# ... and a machine whose mail already runs on another MTA (exim4, sendmail: postfix would
# replace it) keeps it: the benchmarks then say that postfix is missing.
if [[ " ${missing[*]} " == *" postfix "* ]] &&
    apt-get -s install --no-install-recommends postfix 2>/dev/null | grep -q '^Remv'; then
    echo "setup: not installing postfix, it would replace this machine's mail server" >&2
    missing=("${missing[@]/postfix/}")
fi
$SUDO apt-get install -y -qq --no-install-recommends ${missing[@]} >/dev/null
