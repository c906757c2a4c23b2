#!/usr/bin/env bash
# Installs every Debian 12 package faultline needs to build, test and run campaigns. Idempotent:
# a second run installs nothing. Waits (up to 10 minutes) when another process holds the dpkg lock.
#
#   tools/setup.sh            # as root, or with sudo available
#   FAULTLINE_SETUP_DRY=1 tools/setup.sh   # print what would be installed
set -euo pipefail

packages=(
  # build
  g++ cmake make pkg-config git clang-format
  # the proxy end-to-end test drives the control API with it
  curl
  # the JUnit end-to-end test parses the XML back with xml.etree
  python3
  # libraries
  libboost-all-dev nlohmann-json3-dev librange-v3-dev libspdlog-dev libfmt-dev libcli11-dev
  libssl-dev libzookeeper-mt-dev libgtest-dev libgmock-dev libbenchmark-dev
  libnl-3-dev libnl-route-3-dev libnl-nf-3-dev libnftables-dev libmnl-dev libnetfilter-queue-dev
  # the system under test and the fault injectors
  etcd-server etcd-client zookeeper redis-server redis-sentinel openssh-server openssh-client iptables nftables iproute2 iputils-ping
  conntrack stress-ng procps
  # faults below the network: the FUSE filesystem under data directories, clocks through libfaketime
  fuse3 libfuse3-dev libfaketime faketime
  # the HTML report test (headless browser)
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
if [[ -n ${FAULTLINE_SETUP_DRY:-} ]]; then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup: must run as root (or with sudo) to install packages" >&2
    exit 1
  fi
fi

apt_get() {
  # DPkg::Lock::Timeout makes apt wait for a lock held by another apt or dpkg instead of failing.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"
}

for attempt in 1 2 3; do
  if apt_get update -qq && apt_get install -y -qq "${missing[@]}"; then
    echo "setup: done"
    exit 0
  fi
  echo "setup: apt-get failed (attempt $attempt of 3); retrying in 10 s" >&2
  sleep 10
done
echo "setup: could not install: ${missing[*]}" >&2
exit 1
