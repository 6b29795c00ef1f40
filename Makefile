# crest: a thin Makefile over CMake + ctest. `make run` and `make test` work on a fresh Debian
# machine: they install the Debian packages they need first (as root), or say which are missing.

BUILD      ?= build
BUILD_TYPE ?= Release
PREFIX     ?= /usr/local
DESTDIR    ?=
HOST       ?= 0.0.0.0
PORT       ?= 8080
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
PYTHON     ?= /usr/bin/python3
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAVE  ?= 0
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(if $(filter true,$(CI)),-DCREST_WERROR=ON,)

BUILD_PKGS = cmake gcc make pkg-config libcmocka-dev dpkg-dev tcl libdeflate-dev
TEST_PKGS  = $(BUILD_PKGS) libsqlite3-dev python3-pytest python3-fastapi python3-email-validator python3-multipart python3-uvicorn valgrind clang libclang-rt-14-dev prometheus chromium postgresql nginx-light python3-asyncpg python3-psycopg2 python3-yaml python3-websockets
FUZZ_PKGS  = $(BUILD_PKGS) clang libclang-rt-14-dev
BENCH_PKGS = $(BUILD_PKGS) wrk nginx-light h2o python3-psutil python3-matplotlib zlib1g-dev python3-websockets
BENCH_SECONDS ?= 10
BENCH_CONNS   ?= 100
BENCH_PEERS   ?=

.PHONY: all build run test test-asan test-tsan unit e2e asan install bench bench-engine bench-items bench-pg bench-tfb format format-check clean deps-build deps-test deps-bench

all: build

build: deps-build
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@ln -sf $(BUILD)/compile_commands.json compile_commands.json

run: build
	$(BUILD)/crest serve --host $(HOST) --port $(PORT) --db ./crest.db

test: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	CREST_BIN=$(abspath $(BUILD)/crest) CREST_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-tsan
	$(MAKE) --no-print-directory valgrind

# The whole suite again on the ASan + UBSan + LSan build (with fault injection compiled in); any
# sanitizer report fails it (ctest: the process aborts; e2e: conftest scans crest's stderr).
test-asan: asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS)
	CREST_BIN=$(abspath build-asan/crest) CREST_BUILD=$(abspath $(BUILD)) CREST_FAULT_INJECTION=1 ASAN_OPTIONS=detect_leaks=1 $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

# The tests whose code runs on several threads (the blocking pool, wake-ups from other threads)
# under ThreadSanitizer (clang): any report fails them. (The memory tests are not among them: they
# read glibc's chunk sizes, which TSan's allocator does not have.)
TSAN_TESTS = test_net_loop_api test_http_stream test_serve_testclient
test-tsan: deps-fuzz
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCREST_DOCS_ASSETS=OFF \
		-DCMAKE_C_FLAGS="-fsanitize=thread -g -O1" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
		$(if $(filter true,$(CI)),-DCREST_WERROR=ON,) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -R '^($(subst $(eval) ,|,$(TSAN_TESTS)))$$'

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

e2e: build
	CREST_BIN=$(abspath $(BUILD)/crest) CREST_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

asan: deps-build
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCREST_SANITIZE=ON -DCREST_FAULT_INJECTION=ON $(if $(filter true,$(CI)),-DCREST_WERROR=ON,) >/dev/null
	@cmake --build build-asan -j $(JOBS)

install: deps-build
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	DESTDIR=$(DESTDIR) cmake --install $(BUILD)

# crest beside its peers (bench/compare.py): bench/results/latest.md and its SVG charts. The script
# installs each peer's own packages (Debian, npm) and builds it into $(BUILD)/bench-peers, so a
# peer that cannot be installed or built becomes a skipped row. BENCH_PEERS=crest,go,... selects.
bench: deps-bench build
	$(PYTHON) bench/compare.py --crest $(BUILD)/crest --seconds $(BENCH_SECONDS) --conns $(BENCH_CONNS) --build-dir $(BUILD)/bench-peers --readme README.md $(if $(BENCH_PEERS),--peers $(BENCH_PEERS),)

bench-engine: deps-bench build
	$(PYTHON) bench/engine.py --crest $(BUILD)/crest

bench-items: deps-bench build
	$(PYTHON) bench/items.py --crest $(BUILD)/crest

# the items service on PostgreSQL beside FastAPI + asyncpg (a cluster of its own, in a temp dir)
bench-pg: deps-bench build
	@sh tools/ensure-packages.sh postgresql python3-asyncpg python3-pytest python3-fastapi python3-uvicorn
	$(PYTHON) bench/items_pg.py --crest $(BUILD)/crest

# examples/tfb (the TechEmpower test types) on PostgreSQL beside FastAPI + asyncpg and pgbench -S,
# on SQLite, RSS at ready and GET /json under a held SQLite write lock: bench/results/tfb.md (~2 min)
bench-tfb: deps-bench build
	@sh tools/ensure-packages.sh postgresql python3-asyncpg python3-pytest python3-fastapi python3-uvicorn python3-jinja2 python3-uvloop python3-httptools python3-ujson
	$(PYTHON) bench/tfb.py --tfb $(BUILD)/examples/tfb

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-tsan $(FUZZ_BUILD) compile_commands.json

deps-build:
	@sh tools/ensure-packages.sh $(BUILD_PKGS)
	@command -v npm >/dev/null || sh tools/ensure-packages.sh nodejs npm # /docs assets (npm ci)
deps-test:
	@sh tools/ensure-packages.sh $(TEST_PKGS)
deps-bench:
	@sh tools/ensure-packages.sh $(BENCH_PKGS)

# crest under valgrind's memcheck: a Debug build, linked dynamically so valgrind can replace
# malloc, serves a short black-box run (tests/valgrind_run.py, ~200 mixed requests, 2 workers,
# SIGTERM); any memcheck error or definitely lost byte fails it. Takes a few seconds.
.PHONY: valgrind
valgrind: deps-build
	@sh tools/ensure-packages.sh valgrind
	@cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=Debug -DCREST_STATIC_BINARY=OFF -DCREST_TESTS=OFF >/dev/null
	@cmake --build build-valgrind -j $(JOBS) --target crest
	$(PYTHON) tests/valgrind_run.py build-valgrind/crest

# libFuzzer harnesses (tests/fuzz/README.md): clang, ASan + UBSan, every library object
# instrumented. `make fuzz` fuzzes each harness FUZZ_SECONDS on its corpus (new inputs kept only
# with FUZZ_SAVE=1); `make fuzz-smoke` replays every corpus file, then fuzzes each 3 s (~30 s).
.PHONY: fuzz fuzz-smoke fuzz-build deps-fuzz
fuzz-build: deps-fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCREST_FUZZ=ON -DCREST_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
		$(if $(filter true,$(CI)),-DCREST_WERROR=ON,) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	FUZZ_SAVE=$(FUZZ_SAVE) sh tools/fuzz.sh $(FUZZ_BUILD) fuzz $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build
	sh tools/fuzz.sh $(FUZZ_BUILD) smoke

deps-fuzz:
	@sh tools/ensure-packages.sh $(FUZZ_PKGS)
