# wbemu: `make run` runs the end-to-end demo (a virgin device's FUS installs the sample wireless stack); `make test` runs every
# test. Both install what is missing first (system packages need root; rust targets come from
# rust-toolchain.toml through rustup).
SHELL := /bin/bash
CARGO ?= cargo
export UNICORN_NO_PKG_CONFIG := 1
APT_PACKAGES := cmake libclang-dev

.PHONY: run test bench setup

run: setup
	$(CARGO) run --release -p wb-cli --bin wbemu -- demo

test: setup
	$(CARGO) test --workspace
	# The wire formats must build for both cores' targets (no_std, no allocation).
	$(CARGO) build -p wb-proto --target thumbv6m-none-eabi
	$(CARGO) build -p wb-proto --target thumbv7em-none-eabihf

bench: setup
	$(CARGO) run --release -p wb-cli --bin wbemu -- bench

setup:
	@missing=""; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	dpkg-query -W -f='$${Status}' libclang-dev 2>/dev/null | grep -q "ok installed" || missing="$$missing libclang-dev"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "cargo not found: install rustup (https://rustup.rs)"; exit 1; }
	@rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
