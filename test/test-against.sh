#!/usr/bin/env bash
# make test-cassert / test-pg17 / test-pg18: builds (once, cached) the
# server named by VARIANT from Debian's source package, builds and installs
# the extension against it in a scratch copy of the tree (the checkout's
# own build for the packaged server is left alone), then runs every suite
# against a throwaway cluster of it. Ends with "N passed, N failed".
#
#   test/test-against.sh 15-cassert|17|18
set -euo pipefail
variant=${1:?usage: test/test-against.sh 15-cassert|17|18}
cd "$(dirname "$0")/.."
root=$PWD

start=$SECONDS
pg_config=$(./test/pgbuild.sh "$variant")
echo "== against $("$pg_config" --version) ($variant): $pg_config (ready in $((SECONDS - start)) s)"

build=$(mktemp -d "${TMPDIR:-/tmp}/pc_build.XXXXXX")
trap 'rm -rf "$build"' EXIT
tar -C "$root" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=paperclip_runner --exclude=paperclip_worker -cf - . | tar -C "$build" -xf -
make -s -C "$build" PG_CONFIG="$pg_config" all >/dev/null
make -s -C "$build" PG_CONFIG="$pg_config" install >/dev/null
PG_CONFIG=$pg_config ./test/with-cluster.sh ./test/run-all.sh
