# wbemu: `make run` runs the end-to-end demo (a virgin device's FUS installs the sample wireless
# stack); `make test` runs every test. Both first install what is missing (scripts/setup.sh:
# Debian packages as root, the Rust targets and components rust-toolchain.toml lists) and build
# the guest firmware with its progress shown.
SHELL := /bin/bash
CARGO ?= cargo
export UNICORN_NO_PKG_CONFIG := 1

.PHONY: run test bench bench-campaign campaign setup firmware

run: setup firmware
	$(CARGO) run --release -p wb-cli --bin wbemu -- demo

test: setup firmware
	# Guard: the set-up left every target and component of rust-toolchain.toml installed.
	scripts/setup.sh --check
	$(CARGO) test --workspace
	# The wire formats must build for both cores' targets (no_std, no allocation).
	$(CARGO) build -p wb-proto --target thumbv6m-none-eabi
	$(CARGO) build -p wb-proto --target thumbv7em-none-eabihf

bench: setup firmware
	$(CARGO) run --release -p wb-cli --bin wbemu -- bench

# The exhaustive power-cut sweeps of the two sample installs (every flash operation, before /
# during with four tears / after) and the NRST resets all through the 16 KiB one, with JUnit
# and JSON in target/campaign/. Every sweep runs; the target fails if one did (a factory reset,
# what a torn option-byte program ends in, is not a failure).
CAMPAIGNS := campaign-install-16k campaign-install-132k campaign-resets-16k
campaign: setup firmware
	$(CARGO) build --release -p wb-cli --bin wbemu
	mkdir -p target/campaign
	status=0; for c in $(CAMPAIGNS); do \
		target/release/wbemu campaign fixtures/scenarios/$$c.toml \
			--junit target/campaign/$$c.xml --json target/campaign/$$c.json || status=1; \
	done; exit $$status

# The campaign benchmark: the 16 KiB sweep, and a sample of its cases run from power-on for
# the ratio. A failing case does not stop the figures.
bench-campaign: setup firmware
	-$(CARGO) run --release -p wb-cli --bin wbemu -- campaign fixtures/scenarios/campaign-install-16k.toml \
		--compare-naive 40

setup:
	@scripts/setup.sh

# The host build (crates/wb-firmware/build.rs) builds the firmware too, but silently; built
# here first, cargo shows its progress and the host build finds it up to date.
firmware: setup
	@firmware/build.sh
