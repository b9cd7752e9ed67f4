# Gatehouse: `make run` serves the console on SQLite; `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: setup build run test test-rust test-e2e size bench fmt

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

## Print the size of the release WebAssembly bundle and check it against the budget.
size:
	@scripts/bundle-size

fmt:
	cargo fmt --all
