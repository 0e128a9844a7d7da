# Loa: the two commands that matter are `make run` and `make test`.
EXAMPLE ?= schedules/examples/au-lau
CARGO ?= cargo
LOA := target/release/loa

.PHONY: run test deps build check agenda fuzz bench deb clean

## make run: install what is missing, build, run the demo station.
run: deps build
	./scripts/demo-media $(EXAMPLE)/media
	$(LOA) check --config $(EXAMPLE)
	$(LOA) agenda --config $(EXAMPLE)

## make test: install what is missing, then every test of the workspace.
test: deps
	$(CARGO) test --workspace --locked

deps:
	./scripts/install-deps

build:
	$(CARGO) build --release --locked --bin loa

## make bench: the figures (check + 365-day agenda of a 1,000-program station...).
bench: deps
	$(CARGO) bench --workspace --locked

## make fuzz: the loader's fuzz target (needs cargo-fuzz and a nightly toolchain
## or RUSTC_BOOTSTRAP=1); FUZZ_SECONDS defaults to 600.
FUZZ_SECONDS ?= 600
fuzz:
	cd schedules && RUSTC_BOOTSTRAP=1 cargo fuzz run load_config -- -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean
