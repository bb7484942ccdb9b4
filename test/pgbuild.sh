#!/usr/bin/env bash
# Builds a PostgreSQL server from Debian's source package and installs it
# into a cache outside the checkout, once; later calls only print its
# pg_config.
#
#   test/pgbuild.sh 15-cassert   postgresql-15 of bookworm (the installed
#                                server's version), --enable-cassert --enable-debug
#   test/pgbuild.sh 15           the same without assertions (-O2: for benchmarks)
#   test/pgbuild.sh 17           postgresql-17 of trixie
#   test/pgbuild.sh 18           postgresql-18 of forky
#
# Prints the path of the build's pg_config on stdout (progress on stderr).
# PAPERCLIP_PG_CACHE (default /var/cache/pg_paperclip) holds the builds.
# Needs root the first time (apt-get: the deb-src entries, build tools).
set -euo pipefail

variant=${1:?usage: test/pgbuild.sh 15-cassert|15|17|18}
cache=${PAPERCLIP_PG_CACHE:-/var/cache/pg_paperclip}
here=$(cd "$(dirname "$0")" && pwd)

case $variant in
15-cassert)
	pkg=postgresql-15
	# the same version as the installed server
	want=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
	extra=(--enable-cassert --enable-debug)
	cflags="-Og -g"
	;;
15)
	pkg=postgresql-15
	want=$(dpkg-query -W -f='${Version}' postgresql-15 2>/dev/null || true)
	extra=(--enable-debug)
	cflags="-O2 -g"
	;;
17 | 18)
	pkg=postgresql-$variant
	want=
	extra=(--enable-debug)
	cflags="-O2 -g"
	;;
*)
	echo "unknown variant: $variant" >&2
	exit 2
	;;
esac

log() { echo "pgbuild $variant: $*" >&2; }

ensure_sources() {
	local list=/etc/apt/sources.list.d/paperclip-src.sources
	local known
	known=$(apt-cache showsrc "$pkg" 2>/dev/null | grep -c "^Package: $pkg\$" || true)
	if [ "${known:-0}" -eq 0 ]; then
		[ "$(id -u)" -eq 0 ] || { log "needs root to add deb-src entries"; exit 1; }
		log "adding deb-src entries ($list)"
		cp "$here/pgbuild.sources" "$list"
		apt-get update -qq >&2
	fi
	local need=() p
	for p in bison flex libreadline-dev zlib1g-dev libicu-dev pkg-config dpkg-dev \
		build-essential libssl-dev libpq-dev; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
	done
	if [ ${#need[@]} -gt 0 ]; then
		[ "$(id -u)" -eq 0 ] || { log "missing build tools: ${need[*]}"; exit 1; }
		log "installing ${need[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
	fi
}

# The versions of $pkg the sources offer, best first: the installed
# server's own when given, then the newest.
candidates() {
	{
		[ -n "$want" ] && echo "$want"
		apt-cache showsrc "$pkg" | sed -n 's/^Version: //p' | sort -uV -r
	} | awk '!seen[$0]++'
}

# Downloads the first candidate the mirror serves (a security update's
# source may not be mirrored); prints its version.
download() {
	local v
	for v in $(candidates); do
		if apt-get source --download-only -qq "$pkg=$v" >/dev/null 2>&1; then
			echo "$v"
			return 0
		fi
		log "source of $pkg $v not reachable; trying the next version"
	done
	previous_orig
}

# The mirror may lag its own index: the newest version's files may be
# missing from the pool while an earlier point release's upstream tarball
# is still there. Fetches, with apt's own downloader, the orig tarball of
# one of the three previous point releases from the pool directory apt
# names; prints its upstream version. Not checked against a signed index
# (apt has none for it): said on stderr.
previous_orig() {
	local uri name upstream ext major minor m file
	read -r uri name _ < <(apt-get source --print-uris -qq "$pkg" 2>/dev/null |
		grep -m 1 '\.orig\.tar\.') || return 1
	uri=${uri//\'/}
	upstream=${name#"${pkg}_"}
	upstream=${upstream%%.orig.tar.*}
	ext=${name##*.orig.}
	major=${upstream%%.*}
	minor=${upstream#*.}
	case $minor in '' | *[!0-9]*) return 1 ;; esac
	for ((m = minor - 1; m >= 0 && m >= minor - 3; m--)); do
		file="${pkg}_${major}.${m}.orig.${ext}"
		if /usr/lib/apt/apt-helper download-file "${uri%/*}/$file" "$file" >/dev/null 2>&1; then
			log "using $file from the pool (the index names $upstream, whose source is missing); not checked against a signed index"
			echo "$major.$m"
			return 0
		fi
	done
	return 1
}

ensure_sources
# a build of any version of this variant in the cache serves
for done_prefix in "$cache/$variant"-[0-9]*; do
	if [ -x "$done_prefix/bin/pg_config" ] && [ -f "$done_prefix/.complete" ]; then
		echo "$done_prefix/bin/pg_config"
		exit 0
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pgbuild.XXXXXX")
chmod 755 "$work"
trap 'rm -rf "$work"' EXIT
cd "$work"
version=$(download) || { log "no source of $pkg could be downloaded"; exit 1; }
upstream=${version%%-*}
prefix=$cache/$variant-$upstream
log "building $pkg $version into $prefix (a few minutes, once)"
(
	tar -xf "$(ls "${pkg}_${upstream}".orig.tar.* | head -n 1)"
	cd "postgresql-$upstream"
	./configure --prefix="$prefix" "${extra[@]}" --with-icu --with-openssl \
		--without-llvm CFLAGS="$cflags" >configure.log 2>&1 ||
		{ tail -n 30 configure.log >&2; exit 1; }
	jobs=$(($(nproc) + 1))
	make -s -j"$jobs" >build.log 2>&1 || { tail -n 40 build.log >&2; exit 1; }
	make -s -j"$jobs" -C src/test/isolation >>build.log 2>&1 || { tail -n 40 build.log >&2; exit 1; }
	rm -rf "$prefix"
	make -s install >>build.log 2>&1
	make -s -C src/test/isolation install >>build.log 2>&1 || true
	# pg_isolation_regress and isolationtester beside pg_regress in pgxs
	pgxs=$(dirname "$("$prefix/bin/pg_config" --pgxs)")/..
	for f in src/test/isolation/pg_isolation_regress src/test/isolation/isolationtester; do
		install -D -m 755 "$f" "$pgxs/test/isolation/$(basename "$f")"
	done
) >&2 || { log "build failed"; exit 1; }
# pgTAP is plain SQL: the Debian package's files serve every major
share=$("$prefix/bin/pg_config" --sharedir)
cp /usr/share/postgresql/15/extension/pgtap* "$share/extension/" 2>/dev/null || true
touch "$prefix/.complete"
log "done"
echo "$prefix/bin/pg_config"
