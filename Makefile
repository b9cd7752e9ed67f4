# Gatehouse: `make run` serves the console on SQLite; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: setup build run test test-rust test-e2e size bench bench-scale bench-ingest bench-calibration bench-slider bench-kpis bench-flags bench-retention bench-load fuzz audit fmt

setup:
	@scripts/setup

## Release build of the server and the WebAssembly bundle, with precompressed assets.
build: setup
	cargo leptos build --release
	@scripts/compress-site

## Serve on http://127.0.0.1:3000 with SQLite at ./data/gatehouse.db.
run: build
	@mkdir -p data
	target/release/gatehouse serve

## Unit, store (SQLite + Postgres when GATEHOUSE_TEST_POSTGRES_URL is set), HTTP, size budget and browser tests.
test: setup
	@scripts/test

## Loopback benchmarks; figures go to docs/BENCHMARKS.md.
bench: build
	@scripts/bench

## Page latency with ~1,000,000 runs and ~20,000,000 test cases (the database is generated once
## under ~/.cache/gatehouse, which takes most of an hour).
bench-scale: build
	@scripts/bench-scale

## A ~100 MB JUnit report through HTTP with `gatehouse push`, and the parser against Python's
## junitparser on the same report.
bench-ingest: build
	@scripts/bench-ingest-http
	@scripts/junitparser-compare

## The calibration report over 1,000,000 scored runs, beside scikit-learn on the same data.
bench-calibration:
	@scripts/calibration-bench

## The threshold slider in Chromium over 100,000 predictions (release build, Playwright).
bench-slider: build
	@scripts/slider-bench

## The overview's KPIs over 1,000,000 runs, 50,000 deployments and 100,000 alerts, on SQLite
## (and on Postgres when KPI_BENCH_POSTGRES_URL names a database it may empty).
bench-kpis:
	@cargo run -q --release -p gatehouse --example kpi_bench
	@if [ -n "$$KPI_BENCH_POSTGRES_URL" ]; then DATABASE_URL="$$KPI_BENCH_POSTGRES_URL" cargo run -q --release -p gatehouse --example kpi_bench; fi

## Flag evaluations per second on one core (server pinned to CPU 0, wrk to CPU 1).
bench-flags: build
	@scripts/bench-flags

## Purge, backup and restore on the demo data at --scale 10 (SQLite, release build).
bench-retention: build
	@scripts/bench-retention

## 60 s of mixed load (pages, ingestion, API reads, flags) at 600 req/s on the demo data at
## --scale 10: SQLite, and Postgres when LOAD_POSTGRES_URL is set.
bench-load: build
	@scripts/bench-load

## Each fuzz target for FUZZ_SECONDS (default 60) with cargo-fuzz, seeded with the shared
## fixtures; crashes are kept in fuzz/regressions/ (replayed by `make test`).
fuzz:
	@scripts/fuzz

## cargo-audit of Cargo.lock against a local copy of the RustSec advisory database (offline;
## see scripts/audit). Also a step of `make test` where a copy is present.
audit:
	@scripts/audit

## Print the size of the release WebAssembly bundle and check it against the budget.
size:
	@scripts/bundle-size

fmt:
	cargo fmt --all
