# pgwarden: the two commands are `make dev` and `make test`.
.PHONY: dev test build debug asan bench bench-rest bench-soak fuzz clean format

JOBS ?= 2

build:
	@scripts/install-deps.sh --no-npm
	@cmake --preset release -DPGWARDEN_TESTS=OFF >/dev/null
	@cmake --build --preset release -j $(JOBS) --target pgwarden

dev: build
	@./build/release/pgwarden dev

test:
	@scripts/test.sh

debug:
	@cmake --preset debug >/dev/null && cmake --build --preset debug -j $(JOBS)

asan:
	@cmake --preset asan >/dev/null && cmake --build --preset asan -j $(JOBS)

bench: build
	@bench/run.sh

# The Data API beside pgbench -S at 16/64/256 connections (bench/data-api.mjs).
bench-rest: build
	@[ -d build/oracle/node_modules/autocannon ] || (scripts/oracle.sh start >/dev/null && scripts/oracle.sh stop >/dev/null)
	@node bench/data-api.mjs

# get-session at a fixed rate (SOAK_RATE, 2000/s) for SOAK_DURATION (60 s): zero errors, flat memory (bench/soak.mjs).
bench-soak: build
	@node bench/soak.mjs

fuzz:
	@scripts/fuzz.sh

format:
	@clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')

clean:
	rm -rf build
