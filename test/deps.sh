#!/usr/bin/env bash
# Installs the Debian 12 packages the build and the test suites need, when
# missing, and the OS user agents run as (paperclip.agent_os_user, isolation
# on), with its home (paperclip.agent_home_directory), when missing.
set -euo pipefail
pkgs=(postgresql-15 postgresql-server-dev-15 postgresql-15-pgtap
      libtap-parser-sourcehandler-pgtap-perl libcurl4-openssl-dev libcjson-dev build-essential procps curl perl
      postgresql-contrib libcap2-bin)
agent_user=paperclip-agent
agent_home=/var/lib/paperclip-agent
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "$(id -u)" -ne 0 ]; then
	getent passwd "$agent_user" >/dev/null ||
		echo "note: no OS user $agent_user: agents need it (as root: useradd --system --user-group" \
			"--home-dir $agent_home --create-home --shell /usr/sbin/nologin $agent_user)" >&2
	if [ ${#missing[@]} -gt 0 ]; then
		echo "missing packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
		exit 1
	fi
	exit 0
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! getent passwd "$agent_user" >/dev/null; then
	echo "creating the OS user $agent_user (home $agent_home) that agents run as"
	useradd --system --user-group --home-dir "$agent_home" --create-home \
		--shell /usr/sbin/nologin "$agent_user"
	chmod 700 "$agent_home"
fi
if [ ! -d "$agent_home" ]; then
	install -d -o "$agent_user" -g "$(id -gn "$agent_user")" -m 700 "$agent_home"
fi
