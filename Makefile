# procket - see README.md. The two commands a newcomer needs:
#   make test   install what is missing, build, run every test
#   make demo   the main job, end to end, as an unprivileged user
.PHONY: all c erl test demo bench bench-dgram bench-broker check dialyzer xref eunit ct fuzz fuzz-api clean deps docs

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
	    -e 's/{vsn, "[^"]*"}/{vsn, "$(VERSION)"}/' $< > $@

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
