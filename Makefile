# procket - see README.md. The two commands a newcomer needs:
#   make test   install what is missing, build, run every test
#   make demo   the main job, end to end, as an unprivileged user
.PHONY: all c erl test demo bench bench-dgram bench-broker check dialyzer xref eunit ct fuzz fuzz-api clean deps docs \
        install uninstall man check-man

ERLC      ?= erlc
ERL       ?= erl
VERSION   := $(shell cat VERSION)
SRC       := $(wildcard src/*.erl)
BEAMS     := $(patsubst src/%.erl,ebin/%.beam,$(SRC))
ERLC_OPTS ?= +debug_info +warn_missing_spec +warnings_as_errors

all: c erl

c:
	$(MAKE) -C c_src all WERROR=$(WERROR)

erl: $(BEAMS) ebin/procket.app

ebin/%.beam: src/%.erl
	@mkdir -p ebin
	$(ERLC) $(ERLC_OPTS) -o ebin $<

ebin/procket.app: src/procket.app.src $(SRC)
	@mkdir -p ebin
	@mods=$$(for f in $(SRC); do basename $$f .erl; done | paste -sd, -); \
	sed -e "s/{modules, \[\]}/{modules, [$$mods]}/" \
	    -e 's/{vsn, {cmd, "cat VERSION"}}/{vsn, "$(VERSION)"}/' $< > $@

# make install / make uninstall: GNU directory names; DESTDIR stages the
# tree (packages, tests). HELPER_MODE: setuid (default; 4750 root:procket
# when a group procket exists, else 4755), caps (file capabilities) or
# plain (for sudo). See scripts/install.sh and the README.
PREFIX         ?= /usr/local
EXEC_PREFIX    ?= $(PREFIX)
BINDIR         ?= $(EXEC_PREFIX)/bin
LIBEXECDIR     ?= $(EXEC_PREFIX)/libexec
LIBDIR         ?= $(EXEC_PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
DATAROOTDIR    ?= $(PREFIX)/share
MANDIR         ?= $(DATAROOTDIR)/man
DOCDIR         ?= $(DATAROOTDIR)/doc/procket
SYSCONFDIR     ?= /etc
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# where the VM finds applications without -pa (code:lib_dir())
ERLANG_LIBDIR  ?= $(shell $(ERL) -noshell -eval 'io:format("~s", [code:lib_dir()]), halt().')
HELPER_MODE    ?= setuid
INSTALL_ENV = DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" BINDIR="$(BINDIR)" \
  LIBEXECDIR="$(LIBEXECDIR)" LIBDIR="$(LIBDIR)" INCLUDEDIR="$(INCLUDEDIR)" \
  MANDIR="$(MANDIR)" DOCDIR="$(DOCDIR)" SYSCONFDIR="$(SYSCONFDIR)" \
  PKGCONFIGDIR="$(PKGCONFIGDIR)" SYSTEMDUNITDIR="$(SYSTEMDUNITDIR)" \
  ERLANG_LIBDIR="$(ERLANG_LIBDIR)" VERSION="$(VERSION)" HELPER_MODE="$(HELPER_MODE)"

# procket-exec is linked again: it runs the helper installed in LIBEXECDIR
install: all
	$(MAKE) -C c_src exec -W exec/procket_exec.c LIBEXECDIR=$(LIBEXECDIR)
	@$(INSTALL_ENV) scripts/install.sh install

uninstall:
	@$(INSTALL_ENV) scripts/install.sh uninstall

# the manual pages (roff, from docs/*.md) in _build/man; check-man lints
# them and compares their synopses with the programs' -h
man:
	@scripts/man.sh _build/man

check-man: c
	@scripts/check-man.sh

deps:
	@scripts/install-deps.sh

test: deps
	@scripts/test.sh

demo: deps all
	@scripts/demo.sh

bench: deps all
	@scripts/bench.sh
	@scripts/bench-dgram.sh
	@scripts/bench-broker.sh

bench-dgram: deps all
	@scripts/bench-dgram.sh

bench-broker: deps all
	@scripts/bench-broker.sh

fuzz: deps
	$(MAKE) -C c_src fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-60}

# fuzzing of the Erlang API (as root; README.md): FUZZ_API_SECONDS (default 60),
# FUZZ_API_SEED
fuzz-api: deps all
	@scripts/fuzz-api.sh

docs: erl
	$(ERL) -noshell -eval 'edoc:application(procket, ".", [{dir, "doc"}]), halt().'

clean:
	$(MAKE) -C c_src clean
	rm -rf ebin _build logs doc
