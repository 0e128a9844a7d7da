# Loa: the two commands that matter are `make run` and `make test`.
EXAMPLE ?= schedules/examples/au-lau
CARGO ?= cargo
LOA := target/release/loa

.PHONY: run test lint audit deps deps-run deps-test deps-deb deps-lint build check agenda fuzz bench differential deb clean

## make run: install what is missing, build, run the demo station
## (the example station plus a program every minute, its own mosquitto and
## simulated relays and boards: scripts/demo; Ctrl-C stops all of it).
run: deps-run build
	./scripts/demo

## make test: install what is missing, then every test of the workspace and
## the fuzz targets' seed replays (the ten-minute relay test runs beside the
## rest: scripts/test). CI (.ci/run) runs `make lint` first.
test: deps-test
	CARGO="$(CARGO)" ./scripts/test

## make lint: the checks CI (.ci/run) runs before `make test`: rustfmt (the workspace and
## both fuzz workspaces), clippy on every target with every warning an error
## (the lints every crate keeps: [workspace.lints] in Cargo.toml), and
## cargo-deny's licence, ban and source policy (deny.toml). cargo fetch
## downloads the crates of every platform the lock file names, so that
## cargo-deny itself runs offline (--frozen).
lint: deps-lint
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --all --manifest-path schedules/fuzz/Cargo.toml -- --check
	$(CARGO) fmt --all --manifest-path audio/fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) fetch --locked
	$(CARGO) deny --frozen check --hide-inclusion-graph licenses bans sources

## make audit: the RustSec advisories against Cargo.lock (cargo-deny; needs
## the network for the advisory database, so it is not part of `make test`).
audit: deps-lint
	$(CARGO) deny --locked check --hide-inclusion-graph advisories

## make deps: what every target below needs; each target installs only its
## own (scripts/install-deps PURPOSE): `make run` builds no packaging tool.
deps:
	./scripts/install-deps all
deps-run:
	./scripts/install-deps run
deps-test:
	./scripts/install-deps test
deps-deb:
	./scripts/install-deps deb
deps-lint:
	./scripts/install-deps lint

build:
	$(CARGO) build --release --locked --bin loa

## make bench: the figures (check + 365-day agenda of a 1,000-program station...).
bench: deps-test
	$(CARGO) bench --workspace --locked

## make fuzz: a fuzz target from its committed seeds (cargo-fuzz is installed
## if missing; no nightly needed: RUSTC_BOOTSTRAP=1). FUZZ_SECONDS defaults to
## 600. FUZZ_TARGET picks the target: load_config (the default: the loader),
## parse_yaml (the YAML parser alone), both in schedules/fuzz; probe_decode
## (any bytes as a media file: length probe and full decode) in audio/fuzz.
## FUZZ_CRATE (schedules or audio) follows from the target. probe_decode runs
## the daemon's path (a decoder's panic is the file's error, not a crash);
## FUZZ_FEATURES=uncontained makes every decoder panic a finding. FUZZ_ARGS adds
## libFuzzer options (e.g. "-fork=1 -ignore_crashes=1" to go on after a
## finding). An input slower than 10 s counts as a finding. New inputs go to
## <crate>/fuzz/corpus/, findings to <crate>/fuzz/artifacts/ (see
## schedules/fuzz/README.md and audio/fuzz/README.md).
FUZZ_SECONDS ?= 600
FUZZ_TARGET ?= load_config
FUZZ_CRATE ?= $(if $(filter probe_decode,$(FUZZ_TARGET)),audio,schedules)
FUZZ_FEATURES ?=
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p $(FUZZ_CRATE)/fuzz/corpus/$(FUZZ_TARGET)
	cd $(FUZZ_CRATE) && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $(FUZZ_TARGET) \
		$(if $(FUZZ_FEATURES),--features $(FUZZ_FEATURES)) \
		fuzz/corpus/$(FUZZ_TARGET) fuzz/seeds/$(FUZZ_TARGET) \
		-- -max_total_time=$(FUZZ_SECONDS) -timeout=10 $(FUZZ_ARGS)

## make differential: `loa agenda` against `loa simulate` on random stations
## and schedules (SPEC section 4), DIFF_CASES of them from DIFF_SEED; a case
## that disagrees prints its seed, its station and schedule as YAML and both
## sides (daemon/src/runtime/scheduler/differential.rs lists the differences
## found and how SPEC settled each). make test replays the cases settled and
## runs 300 of the whole domain.
DIFF_CASES ?= 5000
DIFF_SEED ?= 17456877
differential: deps-run
	LOA_DIFF_CASES=$(DIFF_CASES) LOA_DIFF_SEED=$(DIFF_SEED) $(CARGO) test --locked -p loa --lib \
		differential -- --include-ignored --nocapture

## make deb: the Debian package, target/debian/loa_VERSION-1_amd64.deb (binary,
## unit, the example station as /etc/loa, docs, schemas; postinst creates the
## loa user). Contents: [package.metadata.deb] in daemon/Cargo.toml.
deb: deps-deb
	./scripts/build-deb

clean:
	$(CARGO) clean
