# llm-relay - plain GNU Makefile (see README.md for the two commands).
#   make            build the responders and the mock upstream into build/
#   make test       install missing packages, build, run every test
#   make run        start memcached, the web server and the responders
#   make SANITIZE=1 ASan+UBSan build into build-san/
#   make lint       clang-format check and banned functions
#   make fuzz       run every fuzz target for FUZZ_SECONDS each

SHELL      := /bin/bash
CC         ?= cc
SANITIZE   ?= 0
PORT       ?= 8080
SERVER     ?= lighttpd
FUZZ_SECONDS ?= 20

ifeq ($(SANITIZE),1)
BUILD      := build-san
# float-cast-overflow: gcc leaves it out of "undefined" (a double beyond
# an integer's range converted, as the budget bypass of issue 19 did).
SANFLAGS   := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT        := -O1 -g
else
BUILD      := build
SANFLAGS   :=
OPT        := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif
# A frame bigger than a page probes each page it takes: a coroutine that
# runs past its stack meets the guard page below it (SIGSEGV), never the
# memory of a neighbour (lib/loop.c).
OPT        += -fstack-clash-protection

PKGS       := libcurl jansson libmemcached libcrypto
WARN       := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Wpointer-arith -Wsign-compare -Wformat=2 -Werror
CFLAGS     += -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(SANFLAGS) \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS     += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lmemcachedutil -lfcgi -lm -pthread
LDFLAGS    += $(SANFLAGS)

LIB_SRC    := $(wildcard lib/*.c)
LIB_OBJ    := $(LIB_SRC:lib/%.c=$(BUILD)/lib/%.o)
HANDLERS   := chat models health admin
BINS       := $(HANDLERS:%=$(BUILD)/relay-%) $(BUILD)/mock-upstream
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

.PHONY: all deps test unit unit-bins integration node lint fuzz fuzz-smoke run clean deploy-check images test-containers \
        valgrind format bench icount soak-short loopbench piibench
.DEFAULT_GOAL := all

all: $(BINS)

$(BUILD)/lib/%.o: lib/%.c $(wildcard lib/*.h) | $(BUILD)/lib
	$(CC) $(CFLAGS) -c -o $@ $<

# The console's files are built into lib/ui.o (.incbin).
$(BUILD)/lib/ui.o build-fuzz/lib/ui.o: $(wildcard ui/*)

$(BUILD)/librelay.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/relay-%: handlers/%.c $(BUILD)/librelay.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/librelay.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/mock-upstream: tests/mock/mock_upstream.c | $(BUILD)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) $(SANFLAGS) -o $@ $< $(LDFLAGS) -ljansson

# Unit tests include the module under test (to reach its statics) and link
# the rest of the library.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(BUILD)/librelay.a $(wildcard lib/*.h tests/unit/*.h) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(BUILD)/librelay.a \
	    $(LDFLAGS) $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD) $(BUILD)/lib $(BUILD)/tests build-fuzz build-fuzz/lib:
	mkdir -p $@

deps:
	@scripts/deps.sh

unit-bins: $(UNIT_BINS)

unit: $(UNIT_BINS)
	@scripts/unit.sh $(UNIT_BINS)

integration: all
	@BUILD=$(BUILD) tests/integration/run.sh

node: all
	@BUILD=$(BUILD) tests/integration/run.sh node

# The 60 s soak on the release build, where RSS and fd counts mean what
# they say (the sanitizer build's RSS is ASan's quarantine).
soak-short: all
	@BUILD=build SERVERS=lighttpd ONLY='^t_soak_short$$' tests/integration/run.sh shell

# The whole suite: lint, unit tests plain and under ASan+UBSan (there also
# with every allocation failed in turn, where a leak or a bad free on an
# error path is caught), integration through lighttpd and Caddy with the
# sanitizer build (SDK, browser and coding-agent tests included), the fuzz
# corpora replayed, valgrind, the instruction count, and the images built
# and run as a deployment (make test-containers).
test: deps
	$(MAKE) lint
	$(MAKE) -j2 all unit-bins
	$(MAKE) deploy-check
	UNIT_OOM=0 $(MAKE) unit
	$(MAKE) -j2 SANITIZE=1 all unit-bins
	$(MAKE) SANITIZE=1 unit
	$(MAKE) SANITIZE=1 integration
	$(MAKE) soak-short
	$(MAKE) -j2 $(FUZZ_BINS)
	$(MAKE) fuzz-smoke
	$(MAKE) valgrind
	$(MAKE) icount
	$(MAKE) test-containers
	@echo "make test: all suites passed"

# One image per responder, built with podman from a Debian base made here
# (scripts/images.sh); the container test starts them (tests/containers/).
images:
	@scripts/images.sh

test-containers: all images
	@BUILD=$(BUILD) tests/containers/run.sh
	@tests/containers/compose.sh
	@RELAY_FRONT=front-lighttpd tests/containers/compose.sh

# deploy/: the systemd units verified offline (scripts/deploy_check.sh).
deploy-check: all
	@BUILD=$(BUILD) scripts/deploy_check.sh

# Instructions per request (callgrind) against bench/icount.baseline:
# fails past +20%. Counted, not timed, so it holds on a busy machine.
icount: all
	@bench/icount.sh

valgrind: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do \
	  valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
	    --error-exitcode=9 $$t >/dev/null || exit 1; done; echo "valgrind: no leaks"

FUZZ_CC    := clang
# implicit-conversion (clang only): clean on every committed corpus.
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -pthread -g -O1 \
              -fsanitize=fuzzer,address,undefined,float-cast-overflow,implicit-conversion \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# The library once, instrumented for coverage but without libFuzzer's
# main; each target links it.
FUZZ_LIBFLAGS := $(subst -fsanitize=fuzzer,-fsanitize=fuzzer-no-link,$(FUZZ_FLAGS))
FUZZ_OBJ   := $(filter-out build-fuzz/lib/server.o,$(LIB_SRC:lib/%.c=build-fuzz/lib/%.o))

build-fuzz/lib/%.o: lib/%.c $(wildcard lib/*.h) | build-fuzz/lib
	$(FUZZ_CC) $(FUZZ_LIBFLAGS) -c -o $@ $<

# The arithmetic of money and quotas: every UBSan report fatal there (in
# the rest of the library they are printed, as before).
FUZZ_ARITH := -fno-sanitize-recover=undefined,float-cast-overflow,implicit-conversion
build-fuzz/lib/num.o build-fuzz/lib/gate.o build-fuzz/lib/quota.o build-fuzz/lib/chatreq.o: FUZZ_LIBFLAGS += $(FUZZ_ARITH)
build-fuzz/fuzz_cost: private FUZZ_FLAGS += $(FUZZ_ARITH)

build-fuzz/librelay.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/librelay.a $(wildcard tests/fuzz/*.h) | build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< build-fuzz/librelay.a $(LDLIBS)

# Replay every committed corpus (fast, deterministic): part of make test.
fuzz-smoke: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); \
	  $$f -runs=0 tests/fuzz/corpus/$${n#fuzz_} >/dev/null 2>&1 || { \
	    echo "fuzz-smoke: $$n failed"; $$f -runs=0 tests/fuzz/corpus/$${n#fuzz_}; exit 1; }; \
	  echo "fuzz-smoke: $$n ok"; done

# Explore: each target for FUZZ_SECONDS, new inputs kept in a scratch dir.
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p build-fuzz/new-$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -dict=tests/fuzz/$${n#fuzz_}.dict \
	    build-fuzz/new-$$n tests/fuzz/corpus/$${n#fuzz_} || exit 1; done

lint:
	@scripts/lint.sh

format:
	clang-format -i lib/*.c lib/*.h handlers/*.c tests/unit/*.c tests/fuzz/*.c

run: deps all
	@BUILD=$(BUILD) PORT=$(PORT) SERVER=$(SERVER) scripts/run.sh

clean:
	rm -rf build build-san build-fuzz

bench: all
	@bench/run.sh

# lib/loop.c's waits, coroutines against callbacks, and the two switches
# (bench/loopbench.c): the figures behind docs/architecture.md's choice.
$(BUILD)/bench/loopbench: bench/loopbench.c $(BUILD)/librelay.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/librelay.a $(LDFLAGS) $(LDLIBS)

# Outbound PII protection's cost per request and per stream event
# (bench/piibench.c): the figures in docs/compliance.md.
$(BUILD)/bench/piibench: bench/piibench.c $(BUILD)/librelay.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/librelay.a $(LDFLAGS) $(LDLIBS)

piibench: $(BUILD)/bench/piibench
	@$<

$(BUILD)/bench/loopbench-ucontext: bench/loopbench.c lib/loop.c $(BUILD)/librelay.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DRELAY_CORO_UCONTEXT -include lib/loop.c -o $@ $< \
	    $(BUILD)/librelay.a $(LDFLAGS) $(LDLIBS)

loopbench: $(BUILD)/bench/loopbench $(BUILD)/bench/loopbench-ucontext
	@for b in $^; do echo "$$(basename $$b):"; $$b $(LOOPBENCH_ARGS); done

$(BUILD)/tests/test_loop_ucontext: lib/loop.c tests/unit/test_loop.c
