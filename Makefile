# pg_paperclip — PGXS build of the paperclip extension.
#
#   make            build the extension
#   make install    install it (needs write access to the PostgreSQL dirs)
#   make test       install missing packages, build, install, run every suite
#                   against a throwaway cluster with shared_preload_libraries
#   make demo       the same set-up, then a sample agent end to end
#   make bench      benchmarks (test/bench), printed as ratios

EXTENSION  = paperclip
MODULE_big = paperclip
# the version the library writes (paperclip.control's default_version: one home)
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" paperclip.control)
PG_MAJOR  ?= 15

OBJS = \
	src/paperclip.o \
	src/spi_util.o \
	src/json_util.o \
	src/events.o \
	src/wakeup.o \
	src/timers.o \
	src/runs.o \
	src/activity.o \
	src/runlog.o \
	src/adapter_config.o \
	src/retries.o \
	src/liveness.o \
	src/retention.o \
	src/access.o \
	src/claims.o \
	src/serving.o \
	src/extension_drop.o \
	src/leases.o \
	src/wake_context.o \
	src/followups.o \
	src/vocabulary.o \
	src/bgworkers/common.o \
	src/bgworkers/registry.o \
	src/bgworkers/supervisor.o \
	src/bgworkers/launcher.o \
	src/bgworkers/runner_io.o \
	src/bgworkers/reconcile.o \
	src/bgworkers/log_tail.o \
	src/bgworkers/scheduler.o

# paperclip--0.1.sql is the base install script; every later version is an
# upgrade script, so a fresh install and an upgraded one are the same schema
DATA = sql/paperclip--0.1.sql $(wildcard sql/paperclip--*--*.sql)

# pg_regress: sql/<area>.sql -> expected/<area>.out
REGRESS = schema wakeup finalize cancel timers activity errors liveness retries retention cli_adapters followups indexes
REGRESS_OPTS = --load-extension=paperclip
# isolation specs: test/specs/<name>.spec -> test/expected/<name>.out
ISOLATION = enqueue-coalesce enqueue-cancel finalize-cancel claim-race deferred-followup
ISOLATION_OPTS = --inputdir=test --load-extension=paperclip

PG_CPPFLAGS = -Isrc -DPC_EXTVERSION='"$(EXTVERSION)"'
# the objects that know the version are rebuilt when it changes
src/paperclip.o src/bgworkers/launcher.o src/bgworkers/scheduler.o: paperclip.control
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Wno-cast-function-type

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# No server development files yet: only the set-up targets below work.
.DEFAULT_GOAL := help
help:
	@echo "PostgreSQL server development files are missing; run 'make test' or 'make demo' as root to install them"
else
include $(PGXS)
endif

# paperclip_runner: our executable outside the database (no backend headers).
RUNNER = paperclip_runner
RUNNER_SRCS = $(sort $(wildcard src/runner/*.c src/runner/*/*.c))
RUNNER_CFLAGS = -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc -Isrc/runner
RUNNER_LIBS = -lcjson -ldl
EXTRA_CLEAN = $(RUNNER) $(RUNNER_UNIT) $(WORKER)

# paperclip_worker: runs the agent runs of a database on any machine, over
# libpq (no backend headers), with the same runner; installed beside pg_ctl.
WORKER = paperclip_worker
WORKER_SRCS = $(sort $(wildcard src/worker/*.c))
WORKER_CFLAGS = -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Isrc -I'$(shell $(PG_CONFIG) --includedir 2>/dev/null)' \
	-DPC_RUNNER_DEFAULT='"$(pkglibdir)/$(RUNNER)"' -DPC_WORKER_VERSION='"$(EXTVERSION)"'
WORKER_LIBDIR = $(shell $(PG_CONFIG) --libdir 2>/dev/null)
WORKER_LIBS = -L'$(WORKER_LIBDIR)' -Wl,-rpath,'$(WORKER_LIBDIR)' -lpq -lcjson

# The runner's unit tests (test/unit, run by test/run-all.sh): the pieces of
# the CLI adapters that need no process -- line reader, templates, parsers,
# command lines, outcomes -- and the http adapter's address classes.
RUNNER_UNIT = test/unit/cli_unit
RUNNER_UNIT_SRCS = src/runner/lines.c $(sort $(wildcard src/runner/adapters/parse_*.c)) \
	$(addprefix src/runner/adapters/, cli.c claude.c codex.c cli_output.c cli_outcome.c template.c retry_time.c \
	netaddr.c)

# The library's objects follow its headers (servers built without
# --enable-depend track no header dependencies: a struct changed in a header
# would leave objects compiled against its old layout).
$(OBJS): $(wildcard src/*.h src/bgworkers/*.h)

ifneq ($(PGXS),)
all: $(RUNNER) $(RUNNER_UNIT) $(WORKER)
install: install-runner install-worker
endif

$(RUNNER): $(RUNNER_SRCS) $(wildcard src/runner/*.h src/runner/*/*.h) src/protocol.h src/agent_rules.h
	$(CC) $(RUNNER_CFLAGS) -o $@ $(RUNNER_SRCS) $(RUNNER_LIBS)

# Agent isolation (README, "Agents are isolated from the server"): installed by
# root, paperclip_runner gets the file capabilities cap_setuid,cap_setgid (used
# only to map the agents' OS user into each run's namespaces), and only the
# server's group RUNNER_GROUP may execute it. chown clears file capabilities:
# setcap comes last. Packagers (DESTDIR) set both in their package.
RUNNER_GROUP ?= postgres

.PHONY: install-runner
install-runner: $(RUNNER)
	$(INSTALL_PROGRAM) $(RUNNER) '$(DESTDIR)$(pkglibdir)/$(RUNNER)'
	@if [ -n "$(DESTDIR)" ]; then :; \
	elif [ "$$(id -u)" -ne 0 ]; then \
		echo "note: not root: $(pkglibdir)/$(RUNNER) has no capabilities; agent isolation needs (as root)" \
			"setcap cap_setuid,cap_setgid+ep $(pkglibdir)/$(RUNNER), or paperclip.agent_isolation = off"; \
	else \
		if getent group '$(RUNNER_GROUP)' >/dev/null; then \
			chown root:'$(RUNNER_GROUP)' '$(pkglibdir)/$(RUNNER)' && chmod 0750 '$(pkglibdir)/$(RUNNER)'; \
		else \
			echo "note: no group $(RUNNER_GROUP) (make install RUNNER_GROUP=<the server's group>):" \
				"$(pkglibdir)/$(RUNNER) stays executable by everyone"; \
		fi; \
		setcap cap_setuid,cap_setgid+ep '$(pkglibdir)/$(RUNNER)' || \
			echo "WARNING: setcap failed (is libcap2-bin installed?): agent isolation will be unavailable"; \
	fi

$(WORKER): $(WORKER_SRCS) src/worker/worker.h src/protocol.h
	$(CC) $(WORKER_CFLAGS) -o $@ $(WORKER_SRCS) $(WORKER_LIBS)

.PHONY: install-worker
install-worker: $(WORKER)
	$(INSTALL_PROGRAM) $(WORKER) '$(DESTDIR)$(bindir)/$(WORKER)'

$(RUNNER_UNIT): test/unit/cli_unit.c $(RUNNER_UNIT_SRCS) $(wildcard src/runner/*.h src/runner/*/*.h) src/protocol.h
	$(CC) $(RUNNER_CFLAGS) -o $@ test/unit/cli_unit.c $(RUNNER_UNIT_SRCS) -lcjson

.PHONY: deps test demo bench test-installed bench-installed test-cassert test-pg17 test-pg18

# The suites' and benchmarks' own databases keep their runs queued: the
# workers serve postgres only there (test/with-cluster.sh sets the same).
TEST_SETTINGS = -o paperclip.database_name=postgres -o paperclip.unserved_warning=off

# Install what a fresh Debian 12 machine lacks (as root); a no-op when all is there.
deps:
	@./test/deps.sh

# Every suite against a throwaway cluster with the library preloaded;
# ends with one line "N passed, N failed".
test: deps
	$(MAKE) -s all
	$(MAKE) -s install
	pg_virtualenv -t -v $(PG_MAJOR) -o shared_preload_libraries=paperclip $(TEST_SETTINGS) ./test/run-all.sh

# Every suite against servers built from Debian's source packages (cached in
# /var/cache/pg_paperclip; the first build takes minutes): PostgreSQL 15 with
# assertions (freed memory clobbered), and the other supported majors.
# Every suite against a throwaway cluster of the installation PG_CONFIG names
# (after make install PG_CONFIG=...): for servers built by test/pgbuild.sh.
test-installed:
	PG_CONFIG=$(PG_CONFIG) ./test/with-cluster.sh ./test/run-all.sh

# The benchmarks against the installation PG_CONFIG names (as test-installed).
bench-installed:
	PG_CONFIG=$(PG_CONFIG) ./test/with-cluster.sh -o synchronous_commit=off ./test/bench/run.sh

test-cassert: deps
	./test/test-against.sh 15-cassert

test-pg17: deps
	./test/test-against.sh 17

test-pg18: deps
	./test/test-against.sh 18

demo: deps
	$(MAKE) -s all
	$(MAKE) -s install
	pg_virtualenv -t -v $(PG_MAJOR) -o shared_preload_libraries=paperclip ./test/demo.sh

bench: deps
	$(MAKE) -s all
	$(MAKE) -s install
	pg_virtualenv -t -v $(PG_MAJOR) -o shared_preload_libraries=paperclip $(TEST_SETTINGS) -o synchronous_commit=off ./test/bench/run.sh
