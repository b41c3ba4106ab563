# SPDX-License-Identifier: Apache-2.0
#
# One Makefile for the whole tree.  Sources are found by directory, so adding
# a .c file to a module needs no edit here.
#
#   make                 binaries into build/bin/, gadgets into build/gadgets/
#   make test            unit tests (cmocka) and integration tests (pytest)
#   make test SANITIZE=1 the same under ASan+UBSan (build/san/)
#   make run             ig run $(GADGET) $(ARGS) on this host
#   make valgrind        unit tests under valgrind
#   make fuzz            builds and briefly runs the libFuzzer harnesses
#   make bench           the benchmark (writes docs/benchmarks.md)
#   make agent-image     build/agent-image.tar, the agent's OCI image
#   make agent-image-push AGENT_IMAGE_REF=registry.example/gadget-agent:v1
#   make krew            build/krew: kubectl-gadget's krew archive and plugin manifest
#   make install         PREFIX=/usr/local DESTDIR=... (make uninstall removes it again)
#   make lint / format / check-format
#
# Flags: CPPFLAGS, CFLAGS and LDFLAGS from the command line or the environment
# reach every object (Debian's `dpkg-buildflags` hardening builds as is).
# WERROR=1 adds -Werror: the default in a git checkout (development, CI),
# off in a tree without .git (a release tarball, a packager's build).

SHELL := /bin/bash
CC ?= gcc
CLANG ?= clang
# Gadgets: the newest clang installed (scripts/deps.sh installs clang-19), as
# `ig image build` picks it, with the llvm-strip of the same version.
# Recursive, so that it is looked up after deps.sh has run.
BPF_CLANG ?= $(shell for c in clang-19 clang-18 clang-17 clang-16 clang-15 clang; do \
	command -v $$c && break; done)
LLVM_STRIP ?= $(shell command -v llvm-strip$(patsubst clang%,%,$(notdir $(BPF_CLANG))) || \
	command -v llvm-strip)
BPFTOOL ?= bpftool
PYTHON ?= /usr/bin/python3
# the project's version is the file VERSION; a git checkout adds its commit
VERSION_BASE := $(shell cat VERSION)
VERSION := $(VERSION_BASE)$(shell git describe --always --dirty 2>/dev/null | sed 's/^/+g/')
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD ?= build
SAN_FLAGS :=
endif

WERROR ?= $(if $(wildcard .git),1,0)
WARN := -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -Wformat=2 -Wshadow \
	-Wno-unused-parameter -Wmissing-prototypes -Wstrict-prototypes
CFLAGS ?= -O2 -g
# what the user gave, for programs built like a user's (examples/)
USER_CFLAGS := $(CFLAGS)
# -fPIC: the library objects also make libig.so (the programs link them
# statically; the linker relaxes the GOT accesses there, so this costs them
# nothing measurable); after the user's flags, which may say -fPIE
override CFLAGS += -std=gnu11 $(WARN) $(SAN_FLAGS) -fPIC -D_GNU_SOURCE -I. -Iinclude \
	-I$(BUILD)/gen -DIG_VERSION='"$(VERSION)"'
# --as-needed: a program records only the libraries it uses (ig does not need
# libwebsockets, which only the kubectl plugin's port-forward uses)
override LDFLAGS += $(SAN_FLAGS) -Wl,--as-needed
# libcurl, libarchive and libcrypto are dlopen()ed (base/curl.c, base/archive.c,
# base/crypto.c): most runs of ig need none, and their dependencies cost every start
LDLIBS := -lbpf -lelf -lz -lyaml -ljansson -lssl -lcrypto -lprotobuf-c -lnghttp2 -lnettle -lzstd -lpcre2-8 \
	-lwebsockets -lpthread

LIB_DIRS := base bpf oci cri k8s run agent libig
LIB_SRCS := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
# <module>/*.proto -> $(BUILD)/gen/<module>/*.pb-c.{c,h} by protoc-c, compiled into the library
PROTOS := $(wildcard $(addsuffix /*.proto,$(LIB_DIRS)))
PROTO_C := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.c)
PROTO_H := $(PROTOS:%.proto=$(BUILD)/gen/%.pb-c.h)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(PROTO_C:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
LIB := $(BUILD)/libig.a

# one program per directory of cli/: cli/<prog>/*.c -> $(BUILD)/bin/<prog>; cli/client/ is
# the control API client that ig (--remote) and kubectl-gadget share, linked into both
PROGS := $(filter-out client,$(patsubst cli/%/,%,$(sort $(dir $(wildcard cli/*/*.c)))))
CLIENT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/client/*.c))
PROG_OBJS = $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/$(1)/*.c)) \
	$(if $(filter ig kubectl-gadget,$(1)),$(CLIENT_OBJS))
ALL_PROG_OBJS := $(foreach p,$(PROGS),$(call PROG_OBJS,$(p)))
BINS := $(addprefix $(BUILD)/bin/,$(PROGS))

# gadgets/<name>/program.bpf.c -> build/gadgets/<name>/{program.bpf.o,gadget.yaml}
GADGET_NAMES := $(patsubst gadgets/%/program.bpf.c,%,$(wildcard gadgets/*/program.bpf.c))
GADGET_OBJS := $(GADGET_NAMES:%=build/gadgets/%/program.bpf.o)
GADGET_YAMLS := $(GADGET_NAMES:%=build/gadgets/%/gadget.yaml)
GADGET_HDRS := $(wildcard bpf/include/gadget/*.h)
GADGET_IMAGE_STAMPS := $(GADGET_NAMES:%=build/oci-stamps/%)
# image creation time: reproducible, from the last commit unless given
GADGET_EPOCH := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),0)
VMLINUX := build/gen/vmlinux.h
# -mcpu=v3 as oci/build.c compiles (see there why)
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Wno-unused-function \
	-Ibpf/include -Ibuild/gen -I/usr/include/$(shell $(CC) -print-multiarch)

# BPF objects the unit tests open: tests/data/bpf/*.bpf.c
TEST_BPF_OBJS := $(patsubst tests/data/bpf/%.bpf.c,build/tests/data/%.bpf.o,$(wildcard tests/data/bpf/*.bpf.c))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzz/%)

DEPS_STAMP := build/.deps-$(shell cat scripts/deps.sh | md5sum | cut -c1-8)

GADGET ?= trace_exec
ARGS ?=

.PHONY: all deps tools gadgets test unit integration run valgrind fuzz bench lint format check-format clean \
	libig examples install uninstall
.DEFAULT_GOAL := all

all: $(BINS) $(BUILD)/bin/kubectl_complete-gadget gadgets man libig examples

$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p build
	@./scripts/deps.sh
	@touch $@

deps: $(DEPS_STAMP)

# objects are rebuilt when the compiler flags change (not for the version string)
FLAGS_STAMP := $(BUILD)/.flags-$(shell echo '$(CC) $(CPPFLAGS) $(filter-out -DIG_VERSION=%,$(CFLAGS))' \
	| md5sum | cut -c1-8)
$(FLAGS_STAMP):
	@mkdir -p $(BUILD)
	@rm -f $(BUILD)/.flags-*
	@touch $@

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP) | $(DEPS_STAMP) $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# kubectl-gadget embeds deploy/*.yaml with .incbin (see cli/kubectl-gadget/manifests.c)
$(BUILD)/obj/cli/kubectl-gadget/manifests.o: $(wildcard deploy/*.yaml)
# kubectl gadget completes the in-tree gadgets' names (cli/kubectl-gadget/complete.c)
$(BUILD)/obj/cli/kubectl-gadget/complete.o: CFLAGS += -DKG_INTREE_GADGETS='"$(GADGET_NAMES)"'
$(BUILD)/obj/cli/kubectl-gadget/complete.o: $(wildcard gadgets/*/program.bpf.c)
# kubectl's plugin completion runs kubectl_complete-gadget from PATH: the
# plugin itself under that name (cli/kubectl-gadget/complete.c)
$(BUILD)/bin/kubectl_complete-gadget: $(BUILD)/bin/kubectl-gadget
	ln -sf kubectl-gadget $@

# man pages, from the same --help texts the commands print (help2man)
MAN_PAGES := $(addprefix $(BUILD)/man/,ig.1 ig-run.1 ig-image.1 ig-daemon.1 kubectl-gadget.1 \
	kubectl-gadget-run.1 kubectl-gadget-deploy.1 kubectl-gadget-attach.1 gadget-agent.1)
HELP2MAN = help2man -N --no-discard-stderr --version-string=$(VERSION)
.PHONY: man
man: $(MAN_PAGES)
$(BUILD)/man/ig.1: $(BUILD)/bin/ig
	@mkdir -p $(dir $@)
	$(HELP2MAN) -n "run eBPF gadgets on this host" -o $@ $<
$(BUILD)/man/ig-%.1: $(BUILD)/bin/ig
	@mkdir -p $(dir $@)
	$(HELP2MAN) --help-option="$* --help" -n "ig $*" -o $@ $<
$(BUILD)/man/kubectl-gadget.1: $(BUILD)/bin/kubectl-gadget
	@mkdir -p $(dir $@)
	$(HELP2MAN) -n "run eBPF gadgets on the nodes of a Kubernetes cluster" -o $@ $<
$(BUILD)/man/kubectl-gadget-%.1: $(BUILD)/bin/kubectl-gadget
	@mkdir -p $(dir $@)
	$(HELP2MAN) --help-option="$* --help" -n "kubectl gadget $*" -o $@ $<
$(BUILD)/man/gadget-agent.1: $(BUILD)/bin/gadget-agent
	@mkdir -p $(dir $@)
	$(HELP2MAN) -n "the per-node gadget agent" -o $@ $<

# the same for libcurl, libarchive and libcrypto (base/curl.c, base/archive.c, base/crypto.c)
SONAME_OF = $(shell objdump -p /usr/lib/$$($(CC) -print-multiarch)/$(1) 2>/dev/null | \
	awk '/SONAME/ { print $$2 }')
$(BUILD)/obj/base/curl.o: CFLAGS += -DBASE_CURL_SONAME='"$(call SONAME_OF,libcurl.so)"'
$(BUILD)/obj/base/archive.o: CFLAGS += -DBASE_ARCHIVE_SONAME='"$(call SONAME_OF,libarchive.so)"'
$(BUILD)/obj/base/crypto.o: CFLAGS += -DBASE_CRYPTO_SONAME='"$(call SONAME_OF,libcrypto.so)"'

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: %.proto | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen $<

# generated code: built with the project's flags except the ones protoc-c's
# output does not meet
$(BUILD)/obj/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -Wno-shadow -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

define PROG_RULE
$(BUILD)/bin/$(1): $(call PROG_OBJS,$(1)) $(LIB)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS) $(call PROG_OBJS,$(1)) $(LIB) $$(LDLIBS) -o $$@
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))

# ---- libig, the public library (include/ig/*.h, docs/library.md) ----
# The archive $(LIB) that the programs link is libig.a itself; libig.so is
# linked from the same objects and exports only the versioned ig_* symbols of
# libig/libig.map.  ig.pc is written for the prefix it is installed under.
LIBIG_HDRS := $(wildcard include/ig/*.h)
LIBIG_SOMAJOR := 0
LIBIG_SONAME := libig.so.$(LIBIG_SOMAJOR)
LIBIG_REAL := libig.so.$(VERSION_BASE)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

libig: $(BUILD)/libig.so $(LIB)

$(BUILD)/$(LIBIG_REAL): $(LIB_OBJS) libig/libig.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBIG_SONAME) -Wl,--version-script=libig/libig.map \
		-Wl,-z,defs $(LIB_OBJS) $(LDLIBS) -o $@

$(BUILD)/libig.so: $(BUILD)/$(LIBIG_REAL)
	ln -sf $(LIBIG_REAL) $(BUILD)/$(LIBIG_SONAME)
	ln -sf $(LIBIG_SONAME) $@

# the examples are built as a user builds against libig: the public headers
# and the shared library only, with the user's flags
examples: $(EXAMPLES)

$(BUILD)/examples/%: examples/%.c $(LIBIG_HDRS) $(BUILD)/libig.so
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(USER_CFLAGS) -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) \
		-Iinclude $(LDFLAGS) $< -L$(BUILD) -lig -Wl,-rpath,'$$ORIGIN/..' -o $@

$(VMLINUX): | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp
	@mv $@.tmp $@

gadgets: $(GADGET_OBJS) $(GADGET_YAMLS) $(GADGET_IMAGE_STAMPS)

# BPF objects built into the library: bpf/progs/<name>.bpf.c ->
# build/gen/bpf/<name>.bpf.o, linked into bpf/<name>.c with .incbin (one copy
# for every BUILD, like vmlinux.h)
LIB_BPF_OBJS := $(patsubst bpf/progs/%.bpf.c,build/gen/bpf/%.bpf.o,$(wildcard bpf/progs/*.bpf.c))
build/gen/bpf/%.bpf.o: bpf/progs/%.bpf.c $(VMLINUX) $(GADGET_HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	llvm-strip -g $@.tmp
	@mv $@.tmp $@
$(BUILD)/obj/bpf/socket_enricher.o: build/gen/bpf/socket_enricher.bpf.o

build/gadgets/%/program.bpf.o: gadgets/%/program.bpf.c $(VMLINUX) $(GADGET_HDRS)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -Igadgets/$* -c $< -o $@.tmp
	$(LLVM_STRIP) -g $@.tmp
	@mv $@.tmp $@

build/gadgets/%/gadget.yaml: gadgets/%/gadget.yaml
	@mkdir -p $(dir $@)
	cp $< $@

# ... and as images <name>:latest in build/oci-store, where `ig run <name>`
# finds them, built by the ig just built.  The stamp holds the digest.
$(foreach g,$(GADGET_NAMES),$(eval build/oci-stamps/$(g): $(wildcard gadgets/$(g)/*)))
build/oci-stamps/%: $(GADGET_HDRS) $(VMLINUX) oci/build.c | $(BUILD)/bin/ig
	@mkdir -p $(dir $@)
	SOURCE_DATE_EPOCH=$(GADGET_EPOCH) $(BUILD)/bin/ig image build gadgets/$* -t $*:latest \
		--store build/oci-store -I bpf/include -I build/gen > $@.tmp
	@mv $@.tmp $@

build/tests/data/%.bpf.o: tests/data/bpf/%.bpf.c $(VMLINUX) $(GADGET_HDRS)
	@mkdir -p $(dir $@)
	$(BPF_CLANG) $(BPF_CFLAGS) -c $< -o $@

# -larchive: test_oci_store writes its hostile tarballs with libarchive itself
$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(TEST_BPF_OBJS) $(VMLINUX)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DTEST_DATA_DIR='"$(CURDIR)/tests/data"' \
		-DTEST_BPF_DIR='"$(CURDIR)/build/tests/data"' \
		-DTEST_GADGETS_DIR='"$(CURDIR)/build/gadgets"' $(LDFLAGS) $< $(LIB) $(LDLIBS) -lcmocka \
		-larchive -o $@

# the tiny CRI client the containerd integration tests drive pods with
$(BUILD)/tests/cri_pod: tests/helpers/cri_pod.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# the Kubernetes client driver the API server integration tests run
$(BUILD)/tests/k8s_tool: tests/helpers/k8s_tool.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# the pods/portforward driver the port-forward integration tests run
$(BUILD)/tests/pf_tool: tests/helpers/pf_tool.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# the control API client the agent integration tests run
$(BUILD)/tests/agent_client: tests/helpers/agent_client.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# the raw gRPC client the CRI transport integration tests run
$(BUILD)/tests/cri_call: tests/helpers/cri_call.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# test_agent_raw renders records in the layouts of the gadgets built here
unit: $(UNIT_BINS) $(GADGET_OBJS) $(GADGET_YAMLS)
	@./scripts/kernel-fs.sh
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

tools: ; ./scripts/k8s-tools.sh

# the agent's container image, an OCI image tarball for `ctr -n k8s.io images
# import` (the name deploy/ and charts/gadget use); see docs/agent.md
AGENT_BIN ?= $(BUILD)/bin/gadget-agent
# named with the project's version: the tag deploy/ and the chart's appVersion use
AGENT_IMAGE ?= gadget-agent:$(VERSION_BASE)
.PHONY: agent-image
agent-image: $(AGENT_BIN) scripts/agent-image.py
	SOURCE_DATE_EPOCH=$(GADGET_EPOCH) $(PYTHON) scripts/agent-image.py --binary $(AGENT_BIN) \
		--name $(AGENT_IMAGE) --install-name gadget-agent --out build/agent-image.tar \
		--dlopen $(call SONAME_OF,libcurl.so) \
		--dlopen $(call SONAME_OF,libarchive.so) \
		--dlopen $(call SONAME_OF,libcrypto.so)

# pushes that image to the registry reference AGENT_IMAGE_REF with ig's own
# registry client (docs/install.md); AGENT_IMAGE_INSECURE=1 for plain HTTP
AGENT_IMAGE_REF ?=
AGENT_IMAGE_INSECURE ?=
.PHONY: agent-image-push
agent-image-push: agent-image $(BUILD)/bin/ig
	./scripts/agent-image-push.sh $(BUILD)/bin/ig build/agent-image.tar "$(AGENT_IMAGE)" \
		"$(AGENT_IMAGE_REF)" "$(AGENT_IMAGE_INSECURE)"

# kubectl-gadget as a krew plugin: build/krew/{gadget.yaml,kubectl-gadget-linux-<arch>.tar.gz},
# the manifest pointing at KREW_URI_BASE/<archive> (docs/install.md)
KREW_URI_BASE ?= https://example.invalid/ig/releases/download/v$(VERSION_BASE)
.PHONY: krew
krew: $(BUILD)/bin/kubectl-gadget packaging/krew/gadget.yaml.in
	SOURCE_DATE_EPOCH=$(GADGET_EPOCH) ./scripts/krew.sh $(BUILD)/bin/kubectl-gadget \
		$(VERSION_BASE) "$(KREW_URI_BASE)" build/krew

integration: all tools $(BUILD)/tests/cri_pod $(BUILD)/tests/k8s_tool \
		$(BUILD)/tests/pf_tool $(BUILD)/tests/agent_client $(BUILD)/tests/cri_call
	IG=$(CURDIR)/$(BUILD)/bin/ig IG_GADGETS=$(CURDIR)/build/gadgets \
		CRI_POD=$(CURDIR)/$(BUILD)/tests/cri_pod \
		K8S_TOOL=$(CURDIR)/$(BUILD)/tests/k8s_tool \
		PF_TOOL=$(CURDIR)/$(BUILD)/tests/pf_tool \
		AGENT_CLIENT=$(CURDIR)/$(BUILD)/tests/agent_client \
		CRI_CALL=$(CURDIR)/$(BUILD)/tests/cri_call \
		KUBECTL=$(CURDIR)/build/tools/bin/kubectl HELM=$(CURDIR)/build/tools/bin/helm \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# only the three-node cluster-mode end-to-end test (tests/integration/cluster.py)
.PHONY: e2e
e2e: all tools $(BUILD)/tests/cri_pod
	CRI_POD=$(CURDIR)/$(BUILD)/tests/cri_pod GADGET_AGENT=$(CURDIR)/$(BUILD)/bin/gadget-agent \
		KUBECTL_GADGET=$(CURDIR)/$(BUILD)/bin/kubectl-gadget \
		KUBECTL=$(CURDIR)/build/tools/bin/kubectl HELM=$(CURDIR)/build/tools/bin/helm \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/integration/test_cluster.py

test: all unit integration

run: all
	$(BUILD)/bin/ig run $(GADGET) $(ARGS)

valgrind: $(UNIT_BINS)
	@./scripts/kernel-fs.sh
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
		valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
		--suppressions=tests/unit/libbpf.supp \
		$$t >/dev/null; done

build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(PROTO_C:$(BUILD)/%=build/%) $(LIB_BPF_OBJS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Iinclude -Ibuild/gen \
		-DIG_VERSION='"fuzz"' $< $(LIB_SRCS) $(PROTO_C:$(BUILD)/%=build/%) $(LDLIBS) -o $@

FUZZ_SECONDS ?= 20
fuzz: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
		echo "== $$n"; $$f -max_total_time=$(FUZZ_SECONDS) build/fuzz/corpus-$$n \
		tests/fuzz/corpus/$$n 2>&1 | tail -2; done

bench: all tools $(BUILD)/tests/cri_pod $(BUILD)/tests/k8s_tool $(BUILD)/tests/agent_client
	$(PYTHON) bench/run.py

LINT_BANNED := '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|system|popen)\s*\('
lint:
	@! grep -nE $(LINT_BANNED) $$(git ls-files '*.c' '*.h' | grep -v '^bpf/include/') \
		|| { echo "lint: banned function above"; exit 1; }
	@echo "lint: ok"

format:
	clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^gadgets/')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h' | grep -v '^gadgets/')

clean:
	rm -rf build

# ---- make install / uninstall ----
# PREFIX/bin: ig, gadget-agent, kubectl-gadget; PREFIX/lib/ig/oci-store: the
# in-tree gadgets (ig and libig find them there); LIBDIR: libig.so, libig.a and
# pkgconfig/ig.pc; INCLUDEDIR/ig: the headers; man pages and completion files
# when the build made them (build/man, build/completion); the docs.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/ig
GADGETDIR := $(PREFIX)/lib/ig
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

$(BUILD)/ig.pc: libig/ig.pc.in Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION_BASE)|' -e 's|@LIBS@|$(LDLIBS)|' $< > $@
.PHONY: $(BUILD)/ig.pc

install: all $(BUILD)/ig.pc
	./scripts/install.sh install "$(DESTDIR)" "$(BUILD)" "$(BINDIR)" "$(LIBDIR)" \
		"$(INCLUDEDIR)" "$(MANDIR)" "$(DOCDIR)" "$(GADGETDIR)" "$(BASHCOMPDIR)" \
		"$(ZSHCOMPDIR)" "$(FISHCOMPDIR)" "$(LIBIG_REAL)" "$(LIBIG_SONAME)"

uninstall:
	./scripts/install.sh uninstall "$(DESTDIR)" "$(BUILD)" "$(BINDIR)" "$(LIBDIR)" \
		"$(INCLUDEDIR)" "$(MANDIR)" "$(DOCDIR)" "$(GADGETDIR)" "$(BASHCOMPDIR)" \
		"$(ZSHCOMPDIR)" "$(FISHCOMPDIR)" "$(LIBIG_REAL)" "$(LIBIG_SONAME)"

# keep the test objects the unit tests need between runs
.SECONDARY: $(TEST_BPF_OBJS) $(PROTO_C) $(PROTO_H)

-include $(LIB_OBJS:.o=.d) $(ALL_PROG_OBJS:.o=.d)
