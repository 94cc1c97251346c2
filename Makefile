# StreamVerse build. `make` builds build/streamverse; `make test` installs what is
# missing, builds the release and the sanitizer variants and runs every test;
# `make run` starts the platform on ./data. See README.md.
#
# Variants (V=...): rel (default, -O2), san (clang, ASan+UBSan, arena debug
# mode), fuzz (clang, libFuzzer instrumentation for tests/fuzz).

V        ?= rel
PKGS     := jansson sqlite3 libcurl libsodium libavformat libavcodec libavutil \
            libavfilter libswscale libswresample
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wvla -Wno-unused-parameter
COMMON   := -std=c17 -D_GNU_SOURCE -Isrc -pthread $(WARN) $(PKG_CFLAGS)

ifeq ($(V),rel)
  CC     ?= cc
  OUT    := build
  CFLAGS_V := -O2 -g
  LDFLAGS_V :=
else ifeq ($(V),san)
  CC     := clang
  OUT    := build/san
  CFLAGS_V := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
              -fno-sanitize-recover=undefined -DSV_ARENA_MALLOC
  LDFLAGS_V := -fsanitize=address,undefined
else ifeq ($(V),fuzz)
  CC     := clang
  OUT    := build/fuzz
  CFLAGS_V := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
              -DSV_ARENA_MALLOC -DSV_FUZZING
  LDFLAGS_V := -fsanitize=fuzzer,address,undefined
else
  $(error unknown variant V=$(V))
endif

CFLAGS  += $(COMMON) $(CFLAGS_V) -MMD -MP
LDLIBS  := $(PKG_LIBS) -lpthread -lm

SRCS      := $(shell find src -name '*.c' | sort)
MAIN_SRC  := src/cli/main.c
LIB_SRCS  := $(filter-out $(MAIN_SRC),$(SRCS))
LIB_OBJS  := $(LIB_SRCS:%.c=$(OUT)/obj/%.o)
MAIN_OBJ  := $(MAIN_SRC:%.c=$(OUT)/obj/%.o)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(OUT)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

.PHONY: all deps run test test-only san fuzz-build fuzz format format-check lint \
        bench clean unit

ifeq ($(V),fuzz)
all: $(FUZZ_BINS)
else
all: $(OUT)/streamverse $(UNIT_BINS)
endif

$(OUT)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The OpenAPI document is embedded with .incbin: rebuild when it changes.
$(OUT)/obj/src/api/openapi_doc.o: src/api/openapi.json

$(OUT)/libsv.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(OUT)/streamverse: $(MAIN_OBJ) $(OUT)/libsv.a
	$(CC) $(LDFLAGS_V) -pthread -o $@ $^ $(LDLIBS)

# A unit test may #include the .c it tests; it links against the library for
# everything else (the linker takes the test's own copy first).
$(OUT)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(OUT)/libsv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(OUT)/libsv.a $(LDFLAGS_V) $(LDLIBS) \
	    -Wl,--allow-multiple-definition

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(OUT)/libsv.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(OUT)/libsv.a $(LDFLAGS_V) $(LDLIBS) \
	    -Wl,--allow-multiple-definition

deps:
	@bash scripts/deps.sh

# The first start seeds a demo library (a few synthetic clips, and the real
# recordings the tests fetched into build/test-media when they are there);
# the server's workers make them playable within seconds.
run: deps
	@$(MAKE) --no-print-directory
	@mkdir -p data
	./build/streamverse demo --data ./data --log-level warn \
	    $(if $(wildcard build/test-media),--recordings build/test-media,) || true
	./build/streamverse serve --data ./data

san:
	@$(MAKE) --no-print-directory V=san

fuzz-build:
	@$(MAKE) --no-print-directory V=fuzz

# Every test, in both variants, plus a short run of each fuzzer. One summary line.
test: deps
	@$(MAKE) --no-print-directory -j2
	@$(MAKE) --no-print-directory -j2 V=san
	@$(MAKE) --no-print-directory -j2 V=fuzz
	@bash tests/run.sh

# Runs the suite on what is built, without installing or building.
test-only:
	@bash tests/run.sh

# Long fuzzing: FUZZ_SECONDS per harness (default 600).
fuzz: fuzz-build
	@bash tests/fuzz/run.sh long $${FUZZ_SECONDS:-600}

bench: all
	@bash bench/http/run.sh

format:
	clang-format -i $(SRCS) $(wildcard src/*/*.h) $(UNIT_SRCS) $(FUZZ_SRCS)

format-check:
	@clang-format --dry-run --Werror $(SRCS) $(wildcard src/*/*.h)

lint:
	@bash scripts/lint.sh

clean:
	rm -rf build

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
