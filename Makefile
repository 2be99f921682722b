# Front door for rtsp-harness. The real build is meson (meson.build); this
# file only installs Debian packages, configures the build directories and
# runs the test stages, so that `make test` is one command on a fresh
# Debian 12 machine.
#
#   make deps    install missing Debian packages (apt-get; needs root)
#   make build   release-style build in build/ (warnings are errors)
#   make test    unit tests (plain and ASan/UBSan), integration tests,
#                and a short smoke run of every fuzz target
#   make test-peers  the integration tests that record real peers' figures
#   make fuzz    every fuzz target for FUZZ_SECONDS (default 600) each with
#                libFuzzer, then AFL++ on FUZZ_AFL_TARGETS (rtsp, pcap)
#   make valgrind  valgrind memcheck on the analyzer's and the server's tests
#   make demo    build, then run scenarios/conformance and scenarios/lab
#                against the reference server inside the network lab
#   make test-netem  the netem backend's tests inside a VM running Debian's
#                kernel (this host's kernel has no sch_netem)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

# Debian 12 packages the build, the tests and the fuzzers need.
DEB_PACKAGES := meson ninja-build pkg-config gcc clang libclang-rt-14-dev \
	libpcap-dev libnl-3-dev libnl-route-3-dev libjpeg62-turbo-dev \
	libturbojpeg0-dev libjansson-dev nettle-dev python3-pytest ffmpeg \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 python3-gi python3-jsonschema tshark tcpdump \
	chromium fonts-dejavu-core python3-lxml python3-pil libxml2-utils python3-pyflakes \
	bubblewrap xvfb xauth default-jdk parallel \
	openssh-server openssh-client rsync python3-yaml valgrind nftables iptables iproute2 afl++

# `make test-netem` only: Debian's own kernel (it has sch_netem) booted under
# qemu, with an initramfs built from busybox.
NETEM_PACKAGES := qemu-system-x86 linux-image-amd64 busybox-static cpio kmod

PYTHON := /usr/bin/python3
FUZZ_SMOKE_SECONDS ?= 4
FUZZ_SECONDS ?= 600
FUZZ_AFL_TARGETS ?= rtsp pcap

.PHONY: all deps build build-asan build-fuzz test unit-test integration-test \
	fuzz-smoke fuzz bench clean demo test-netem deps-netem bench-impair lint test-peers

all: build

deps: PACKAGES := $(DEB_PACKAGES)
deps-netem: PACKAGES := $(NETEM_PACKAGES)
deps deps-netem:
	@missing=""; \
	for p in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q 'ok installed' \
			|| missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then \
		echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages:$$missing" >&2; \
		echo "deps: run 'make deps' as root, or: sudo apt-get install$$missing" >&2; \
		exit 1; \
	else \
		echo "deps: installing$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q; \
		apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: deps
	@[ -f build/build.ninja ] || meson setup build --werror
	ninja -C build

# Unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
build-asan: deps
	@[ -f build-asan/build.ninja ] || meson setup build-asan --werror \
		-Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-asan

build-fuzz: deps
	@[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz --werror -Dfuzz=true
	ninja -C build-fuzz

unit-test: build build-asan
	meson test -C build --print-errorlogs
	meson test -C build-asan --print-errorlogs

# The integration tests run against the AddressSanitizer/UBSan/LeakSanitizer
# binary. Those marked `plain` record real peers' own figures (ffmpeg,
# GStreamer and gst-rtsp-server over both transports, about two minutes):
# `make test-peers` runs them with the plain binary, and .ci/run runs that
# stage after `make test`.
integration-test: build build-asan
	RTSP_HARNESS_BIN=$(CURDIR)/build-asan/rtsp-harness RTSP_HARNESS_SANITIZED=1 \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1 \
		$(PYTHON) -m pytest -v --durations=30 tests/integration

test-peers: build
	$(PYTHON) -m pytest -v -m plain tests/integration

# Every libFuzzer target for FUZZ_SMOKE_SECONDS, two at a time (no AFL++).
fuzz-smoke: build-fuzz
	FUZZ_AFL_TARGETS= fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

# The campaign: every libFuzzer target, then AFL++ on FUZZ_AFL_TARGETS (the
# same harnesses built with afl-clang-fast), FUZZ_SECONDS each, two at a
# time; figures in fuzz/work/summary.txt (docs/fuzzing.md).
fuzz: build-fuzz
	@[ -f build-fuzz-afl/build.ninja ] || CC=afl-clang-fast meson setup build-fuzz-afl --werror -Dfuzz=true
	ninja -C build-fuzz-afl $(patsubst %,fuzz/fuzz_%,$(FUZZ_AFL_TARGETS))
	FUZZ_AFL_TARGETS='$(FUZZ_AFL_TARGETS)' fuzz/run.sh $(FUZZ_SECONDS)

# The Python test code and fixtures: unused imports and undefined names.
lint: deps
	$(PYTHON) -m pyflakes tests fixtures bench

# valgrind memcheck on the plain build: the analyzer's and the server's unit
# tests (test_replay forks the real server and drives it with scenarios),
# `analyze` on every whole-pcap seed of fuzz/corpus/analyze, and `serve`
# under each attack of tests/tools/rtsp_attack.c. A forked child's errors
# show only in the log, so the log is searched too; 99 tells valgrind's
# verdict from analyze's own exit status 1.
VALGRIND := valgrind --leak-check=full --errors-for-leak-kinds=definite
VALGRIND_TESTS := rtpstream pcapin tcpreasm ipreasm series loop media sender auth replay
VALGRIND_ATTACKS := 'cycles --count 500' 'idle --count 200 --hold 1' 'pipeline --count 2000' \
	'oversized --count 12 --concurrency 4' 'sessions --count 1000 --concurrency 8'
valgrind: build
	meson test -C build --print-errorlogs --timeout-multiplier 4 \
		--wrapper '$(VALGRIND) --error-exitcode=1' $(VALGRIND_TESTS)
	@! grep -E 'ERROR SUMMARY: [1-9]' build/meson-logs/testlog-valgrind.txt
	@for f in fuzz/corpus/analyze/*; do \
		rc=0; $(VALGRIND) -q --error-exitcode=99 build/rtsp-harness analyze --json "$$f" \
			>/dev/null || rc=$$?; \
		[ $$rc -ne 99 ] || { echo "valgrind: analyze $$f: errors above" >&2; exit 1; }; \
		echo "valgrind: analyze $$f: clean"; \
	done
	@out=$$(mktemp); $(VALGRIND) -q --error-exitcode=99 build/rtsp-harness serve \
		--media fixtures --port 0 >$$out & pid=$$!; \
	for i in $$(seq 300); do grep -q '^ready ' $$out && break; sleep 0.1; done; \
	port=$$(sed -n 's|^ready rtsp://[^:]*:\([0-9]*\)/$$|\1|p' $$out); rm -f $$out; \
	[ -n "$$port" ] || { kill $$pid; echo "valgrind: serve did not start" >&2; exit 1; }; \
	for a in $(VALGRIND_ATTACKS); do \
		build/tests/rtsp-attack --port $$port --attack $$a --interval-ms 20 \
			|| { kill $$pid; exit 1; }; \
	done; \
	kill -TERM $$pid; rc=0; wait $$pid || rc=$$?; \
	[ $$rc -eq 0 ] || { echo "valgrind: serve under attack: exit status $$rc" >&2; exit 1; }; \
	echo "valgrind: serve under attack: clean"

test: lint unit-test integration-test fuzz-smoke valgrind

# The main job: the reference server in the lab, the conformance and lab
# suites under the default impairment profile (DEMO_IMPAIR).
DEMO_IMPAIR ?= delay 20ms 5ms loss 0.5%
demo: build
	@name=demo-$$(date -u +%Y%m%d-%H%M%S); rc=0; \
	build/rtsp-harness run --name $$name \
		--server-cmd '{harness} serve --media {media_dir} --port {port} --session-timeout 3' \
		--impair '$(DEMO_IMPAIR)' scenarios/conformance scenarios/lab || rc=$$?; \
	if [ -f reports/$$name/index.html ]; then \
		echo "HTML report (open it in a browser; it works offline): $$(pwd)/reports/$$name/index.html"; \
	fi; \
	exit $$rc

# The netem backend for real: its unit test, then every server scenario on
# the netem backend, inside a VM running Debian's kernel (tests/netem/run-vm).
NETEM_SCENARIOS := scenarios/conformance scenarios/lab
test-netem: build deps-netem
	tests/netem/run-vm build/tests/test_netem
	tests/netem/run-vm build/rtsp-harness run --backend netem --captures /tmp/captures \
		--reports /tmp/reports --server-cmd '{harness} serve --media {media_dir} --port {port} --session-timeout 3' \
		$(NETEM_SCENARIOS)

# Server scale against gst-rtsp-server, measured in the same run (minutes).
bench: build
	$(PYTHON) bench/server_scale --binary build/rtsp-harness

# The userspace impairment backend's delay error at 1000 packets/s.
bench-impair: build
	build/bench/impair-delay

clean:
	rm -rf build build-asan build-fuzz build-fuzz-afl fuzz/work fuzz/artifacts
