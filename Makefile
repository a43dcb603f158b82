# wachat: nginx module for WhatsApp Cloud API webhooks (+ wachatd, the daemon).
#
#   make            build build/ngx_http_wachat_module.so for the installed nginx
#   make test       run the whole suite with prove (installs missing Debian
#                   packages first: scripts/install-deps test)
#   make install    PREFIX=/usr/local DESTDIR=: wachatd, wachatctl, the module,
#                   the console, the systemd unit, /etc/wachat (see below)
#   make deb        the Debian packages libnginx-mod-http-wachat and wachat
#   make test-asan  the same, nginx and module built with ASan + UBSan
#   make run        redis-server + nginx with the module, in the foreground
#   make bench      every benchmark, then one table (bench/all): ingest vs the
#                   nginx ceiling, consumer kb and 1 s-LLM throughput, end-to-end
#                   webhook -> Graph latency p50/p99 at a steady load, CPU us per
#                   event per process; appends it all to bench/RESULTS.md
#                   (make bench BENCH_ARGS=--quick: a short smoke run)
#   make bench-ingest   ingest benchmark (wrk) alone, appends to bench/RESULTS.md
#   make bench-consumer consumer benchmark alone, appends to bench/RESULTS.md
#   make bench-roundtrips  Redis round trips per answered event (bench/roundtrips)
#   make eval       answer quality of the kb backend on eval/*/ (eval/README.md):
#                   right, wrong, fallback on unknowns; appends to bench/RESULTS.md
#                   (EVAL_ARGS="-v --only dev": the dev questions it misses)
#   make soak       10 minutes at a steady rate: memory slopes, latency, CPU
#   make chaos      20,000 webhooks under injected faults, reconciled (bench/chaos)
#                   make chaos MODE=sentinel: Redis primary + replica + three
#                   sentinels, SENTINEL FAILOVER and kill -9 of the primary
#   make fuzz       libFuzzer targets (clang): envelope, KB, config, Graph and
#                   LLM answers (docs/fuzzing.md)
#   make valgrind   wachatd under valgrind over the end-to-end tests

SHELL      := /bin/bash
TOP        := $(CURDIR)
BUILD      := build
NGX_SRC    ?= /usr/share/nginx/src
JOBS       ?= $(shell nproc)

MODULE_SRCS := config $(wildcard ngx_wachat_module/*.c ngx_wachat_module/*.h \
                                   common/*.c common/*.h)
MODULE     := $(BUILD)/ngx_http_wachat_module.so

CC         ?= cc
UNIT_CFLAGS := -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -g \
               -Ingx_wachat_module -Icommon
UNIT_LIBS  := -lyajl -lcrypto

PROVE      ?= prove
PROVE_ARGS ?= -j2

.PHONY: all module daemon test test-suite test-asan run bench bench-ingest bench-consumer bench-roundtrips fuzz clean \
        eval \
        valgrind chaos soak

all: module daemon

module: $(MODULE)

# Configure a copy of the Debian nginx source tree with the flags the packaged
# nginx was built with, so the .so loads into /usr/sbin/nginx unchanged.
# (debian/rules adds dpkg-buildflags through NGX_CC_OPT and NGX_LD_OPT)
NGX_CC_OPT ?=
NGX_LD_OPT ?=

$(BUILD)/nginx/objs/Makefile: $(NGX_SRC)/conf_flags config
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    $(if $(NGX_CC_OPT),--with-cc-opt="$(NGX_CC_OPT)") \
	    $(if $(NGX_LD_OPT),--with-ld-opt="$(NGX_LD_OPT)") \
	    > $(TOP)/$(BUILD)/nginx-configure.log

# cp + mv: a running nginx that has the old .so mapped must not see it change
$(MODULE): $(BUILD)/nginx/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules -j$(JOBS) >/dev/null
	cp $(BUILD)/nginx/objs/ngx_http_wachat_module.so $@.tmp && mv -f $@.tmp $@

# AddressSanitizer + UBSan.  nginx-dev ships headers only, so nginx itself
# cannot be rebuilt from it: the module is built instrumented and loaded into
# the packaged /usr/sbin/nginx with the sanitizer runtimes preloaded (the
# harness sets LD_PRELOAD for nginx only, from WACHAT_NGINX_PRELOAD).
ASAN_DIR   := $(BUILD)/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MODULE := $(ASAN_DIR)/ngx_http_wachat_module.so
ASAN_PRELOAD := $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)

$(ASAN_DIR)/nginx/objs/Makefile: $(NGX_SRC)/conf_flags config
	rm -rf $(ASAN_DIR)/nginx && mkdir -p $(ASAN_DIR) && cp -r $(NGX_SRC) $(ASAN_DIR)/nginx
	cd $(ASAN_DIR)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    --with-cc-opt="-O1 -g $(ASAN_FLAGS)" --with-ld-opt="$(ASAN_FLAGS)" \
	    > $(TOP)/$(ASAN_DIR)/nginx-configure.log

$(ASAN_MODULE): $(ASAN_DIR)/nginx/objs/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(ASAN_DIR)/nginx -f objs/Makefile modules -j$(JOBS) >/dev/null
	cp $(ASAN_DIR)/nginx/objs/ngx_http_wachat_module.so $@.tmp && mv -f $@.tmp $@

# The envelope parser is plain C: its files, the contract and the UTF-8
# checker it shares with wachatd, nothing of nginx.
ENVELOPE_SRCS := $(wildcard ngx_wachat_module/wachat_envelope*.c) \
                 common/wachat_contract.c common/wachat_utf8.c
ENVELOPE_HDRS := $(wildcard ngx_wachat_module/wachat_envelope*.h) \
                 common/wachat_contract.h common/wachat_utf8.h

# A unit test is one binary, build/NAME_test, built from tests/NAME_test.c
# (main) and the other tests/NAME_*.c beside it, which share tests/NAME_test.h.
unit_parts = $(wildcard tests/$(1)_*.c tests/$(1)_*.h) tests/tap.h

$(BUILD)/envelope_test: $(call unit_parts,envelope) $(ENVELOPE_SRCS) \
                        $(ENVELOPE_HDRS)
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) $(EXTRA_CFLAGS) -o $@ \
	    $(filter tests/%.c,$^) $(ENVELOPE_SRCS) $(UNIT_LIBS) $(EXTRA_LDFLAGS)

# The daemon and its command-line tool: one object per source of every room
# under wachatd/ (docs/architecture.md), and the contract both programs share.
WACHATD_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                  -Wall -Wextra -Werror -O2 -g -Iwachatd -Icommon -I$(BUILD)/gen
WACHATD_LIBS := -lhiredis -levent -lcurl -lyajl -lcrypto -lstemmer -lm

# sd_notify (Type=notify) when libsystemd-dev is there: the packages always
# have it (Build-Depends); a build without it runs everywhere but tells
# systemd nothing.
ifeq ($(shell pkg-config --exists libsystemd 2>/dev/null && echo y),y)
WACHATD_CFLAGS += -DWACHAT_HAVE_SYSTEMD
WACHATD_LIBS += -lsystemd
endif

# The config file read without -c or $$WACHAT_CONF: the example in the tree
# for a build used in place, $(SYSCONFDIR)/wachat/wachatd.conf for what
# `make install` and the packages install (built apart, under build/dist).
CONF_PATH  ?= conf/wachatd.conf
WACHATD_CFLAGS += -DWACHAT_CONF_PATH='"$(CONF_PATH)"'
# wachatctl is wachatctl.c (main, the command table) and its commands, ctl_*.c
WACHATCTL_SRCS := wachatd/main/wachatctl.c $(wildcard wachatd/main/ctl_*.c)
# wachatd is wachatd.c (main) and wachatd_*.c, sharing wachatd_int.h
WACHATD_MAIN_SRCS := wachatd/main/wachatd.c $(wildcard wachatd/main/wachatd_*.c)
WACHATD_MAINS := $(WACHATD_MAIN_SRCS) $(WACHATCTL_SRCS)
WACHATD_LIB_SRCS := $(filter-out $(WACHATD_MAINS),$(wildcard wachatd/*/*.c)) \
                    $(wildcard common/*.c)
WACHATD_HDRS := $(wildcard wachatd/*/*.h common/*.h)
WACHATD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(WACHATD_LIB_SRCS))
WACHATD_BINS := $(BUILD)/wachatd $(BUILD)/wachatctl

daemon: $(WACHATD_BINS)

# the objects that use WACHAT_CONF_PATH are rebuilt when CONF_PATH changes
$(BUILD)/conf_path: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CONF_PATH)' | cmp -s - $@ || echo '$(CONF_PATH)' > $@

$(BUILD)/obj/wachatd/lib/config.o $(BUILD)/obj/wachatd/main/wachatd.o \
$(BUILD)/obj/wachatd/main/wachatctl.o: $(BUILD)/conf_path

.PHONY: FORCE
FORCE:

$(BUILD)/obj/%.o: %.c $(WACHATD_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(WACHATD_CFLAGS) $(EXTRA_CFLAGS) -c -o $@ $<

# the kb's Traditional -> Simplified Chinese table, from OpenCC's data
KB_FOLD := $(BUILD)/gen/kb_fold.h

$(KB_FOLD): scripts/gen-kb-fold
	@mkdir -p $(dir $@)
	scripts/gen-kb-fold $@

$(BUILD)/obj/wachatd/answer/kb_lang.o: $(KB_FOLD)

$(BUILD)/wachatd: $(patsubst %.c,$(BUILD)/obj/%.o,$(WACHATD_MAIN_SRCS)) $(WACHATD_OBJS)
	$(CC) $(EXTRA_LDFLAGS) -o $@ $^ $(WACHATD_LIBS)

$(BUILD)/wachatctl: $(patsubst %.c,$(BUILD)/obj/%.o,$(WACHATCTL_SRCS)) $(WACHATD_OBJS)
	$(CC) $(EXTRA_LDFLAGS) -o $@ $^ $(WACHATD_LIBS)

UNIT_TESTS := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/*_test.c))

.SECONDEXPANSION:
$(BUILD)/%_test: $$(call unit_parts,$$*) $(WACHATD_OBJS)
	$(CC) $(WACHATD_CFLAGS) $(EXTRA_CFLAGS) -o $@ \
	    $(filter tests/%.c,$^) $(WACHATD_OBJS) $(WACHATD_LIBS) $(EXTRA_LDFLAGS)

# On a fresh machine `make test` and `make run` install what they need
# first (scripts/install-deps says what it installs; set NO_DEPS=1 to skip).
DEPS = $(if $(NO_DEPS),@:,@scripts/install-deps)

test:
	$(DEPS) test
	$(MAKE) test-suite

test-suite: $(MODULE) daemon $(UNIT_TESTS)
	$(PROVE) $(PROVE_ARGS) -r t/

# The daemon, its tool and the unit tests are rebuilt instrumented under
# build/asan; the .t wrappers and the harness take them from the variables.
ASAN_BINS := $(ASAN_DIR)/envelope_test $(ASAN_DIR)/wachatd $(ASAN_DIR)/wachatctl \
             $(patsubst $(BUILD)/%,$(ASAN_DIR)/%,$(UNIT_TESTS))

test-asan: $(ASAN_MODULE)
	$(MAKE) BUILD=$(ASAN_DIR) EXTRA_CFLAGS="$(ASAN_FLAGS)" \
	    EXTRA_LDFLAGS="$(ASAN_FLAGS)" $(ASAN_BINS)
	WACHAT_SKIP_PACKAGE=1 \
	WACHAT_MODULE=$(TOP)/$(ASAN_MODULE) \
	WACHAT_NGINX_PRELOAD="$(ASAN_PRELOAD)" \
	WACHAT_ENVELOPE_TEST=$(TOP)/$(ASAN_DIR)/envelope_test \
	WACHAT_CONFIG_TEST=$(TOP)/$(ASAN_DIR)/config_test \
	WACHAT_KB_TEST=$(TOP)/$(ASAN_DIR)/kb_test \
	WACHAT_GUARD_TEST=$(TOP)/$(ASAN_DIR)/guard_test \
	WACHAT_LANG_TEST=$(TOP)/$(ASAN_DIR)/lang_test \
	WACHAT_HOURS_TEST=$(TOP)/$(ASAN_DIR)/hours_test \
	WACHAT_RETRY_TEST=$(TOP)/$(ASAN_DIR)/retry_test \
	WACHAT_HTTP_TEST=$(TOP)/$(ASAN_DIR)/http_test \
	WACHATD=$(TOP)/$(ASAN_DIR)/wachatd \
	WACHATCTL=$(TOP)/$(ASAN_DIR)/wachatctl \
	ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=print_stacktrace=1 \
	    $(PROVE) $(PROVE_ARGS) -r t/

fuzz: $(BUILD)/fuzz_envelope $(BUILD)/fuzz_kb $(BUILD)/fuzz_config \
      $(BUILD)/fuzz_graph $(BUILD)/fuzz_llm $(BUILD)/fuzz_embed

# the parser and search only: editing, the vectors (and their fusion) and
# their cache need libcrypto, libevent and the embeddings client, none of
# which it reads
KB_SRCS := $(filter-out wachatd/answer/kb_edit.c wachatd/answer/kb_edit_file.c \
                        wachatd/answer/kb_embed.c wachatd/answer/kb_vec.c \
                        wachatd/answer/kb_fuse.c, \
                        $(wildcard wachatd/answer/kb*.c)) common/wachat_utf8.c

$(BUILD)/fuzz_kb: fuzz/kb_fuzz.c fuzz/fuzz_common.h $(KB_SRCS) $(KB_FOLD)
	@mkdir -p $(BUILD)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iwachatd -Icommon \
	    -I$(BUILD)/gen -o $@ fuzz/kb_fuzz.c $(KB_SRCS) -lstemmer -lm

$(BUILD)/fuzz_envelope: fuzz/envelope_fuzz.c $(ENVELOPE_SRCS) $(ENVELOPE_HDRS)
	@mkdir -p $(BUILD)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_wachat_module \
	    -Icommon -o $@ fuzz/envelope_fuzz.c $(ENVELOPE_SRCS) $(UNIT_LIBS)

FUZZ_CC := clang -g -O1 -fsanitize=fuzzer,address,undefined -Iwachatd -Icommon

# the config is every wachatd/lib/config*.c (one file per responsibility)
# and hours.c, which checks working_hours
CONFIG_SRCS := $(wildcard wachatd/lib/config*.c) wachatd/lib/hours.c \
               wachatd/lib/log.c common/wachat_utf8.c

$(BUILD)/fuzz_config: fuzz/config_fuzz.c fuzz/fuzz_common.h $(CONFIG_SRCS) \
                      $(wildcard wachatd/lib/config*.h) wachatd/lib/log.h common/wachat_utf8.h
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -o $@ fuzz/config_fuzz.c $(CONFIG_SRCS) -lm

# graph.c and llm.c hold their HTTP clients too: they need http*.c and its
# libraries, and the shared JSON, buffer and UTF-8 helpers
FUZZ_CLIENT_SRCS := wachatd/clients/http.c wachatd/clients/http_xfer.c \
                    wachatd/clients/http_request.c wachatd/clients/http_api.c \
                    wachatd/lib/json.c wachatd/lib/buf.c common/wachat_utf8.c
FUZZ_CLIENT_HDRS := wachatd/clients/http.h wachatd/clients/http_int.h \
                    wachatd/lib/json.h wachatd/lib/buf.h \
                    common/wachat_utf8.h
GRAPH_SRCS := wachatd/clients/graph.c wachatd/clients/graph_build.c \
              wachatd/clients/graph_codes.c

$(BUILD)/fuzz_graph: fuzz/graph_fuzz.c fuzz/fuzz_common.h $(GRAPH_SRCS) \
                     wachatd/clients/graph.h $(FUZZ_CLIENT_SRCS) $(FUZZ_CLIENT_HDRS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -o $@ fuzz/graph_fuzz.c $(GRAPH_SRCS) $(FUZZ_CLIENT_SRCS) \
	    -lcurl -levent -lyajl

$(BUILD)/fuzz_llm: fuzz/llm_fuzz.c fuzz/fuzz_common.h wachatd/clients/llm.c \
                   wachatd/clients/llm.h $(FUZZ_CLIENT_SRCS) $(FUZZ_CLIENT_HDRS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -o $@ fuzz/llm_fuzz.c wachatd/clients/llm.c $(FUZZ_CLIENT_SRCS) \
	    -lcurl -levent -lyajl -lm

$(BUILD)/fuzz_embed: fuzz/embed_fuzz.c fuzz/fuzz_common.h \
                     wachatd/clients/embed.c wachatd/clients/embed.h \
                     $(FUZZ_CLIENT_SRCS) $(FUZZ_CLIENT_HDRS)
	@mkdir -p $(BUILD)
	$(FUZZ_CC) -o $@ fuzz/embed_fuzz.c wachatd/clients/embed.c \
	    $(FUZZ_CLIENT_SRCS) -lcurl -levent -lyajl -lm

run:
	$(DEPS) run
	$(MAKE) $(MODULE) daemon
	scripts/wachat-run

# the answer-quality evaluation: the daemon's answerer on every eval/*/ set
EVAL_DIRS := $(patsubst %/kb.md,%,$(wildcard eval/*/kb.md))

$(BUILD)/kb_eval: eval/kb_eval.c \
                  $(WACHATD_OBJS)
	$(CC) $(WACHATD_CFLAGS) $(EXTRA_CFLAGS) -o $@ eval/kb_eval.c \
	    $(WACHATD_OBJS) $(WACHATD_LIBS) $(EXTRA_LDFLAGS)

EVAL_ARGS ?= --record bench/RESULTS.md

eval: $(BUILD)/kb_eval
	$(BUILD)/kb_eval $(EVAL_ARGS) $(EVAL_DIRS)

# --- make install: the same files the Debian packages hold (make deb) --------
#
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage] [SYSCONFDIR=/etc]
#
# wachatd, wachatctl (built apart under $(BUILD)/dist, with the installed
# config, $(SYSCONFDIR)/wachat/wachatd.conf, as their default), the module
# and its load_module snippet where Debian's nginx looks for them, the agent
# console, the nginx site and the sample knowledge base under
# $(DATADIR)/wachat, the systemd unit, and the config, which is never
# overwritten.  The wachat user, the secrets and Redis's password are the
# packages' postinst's job, or the operator's (README, "Run in production").
#
# The knowledge base is data the business edits, from the console too:
# wachatd writes it, and the unit lets it write only its state directory,
# so the config names $(STATEDIR)/kb.md.  Installed for real (no DESTDIR),
# make install copies the sample there unless a file is there already (or
# the $(SYSCONFDIR)/wachat/kb.md an older install made: install-kb); staged
# (DESTDIR=...), it leaves that to the package's postinst on the target.
# STATEDIR is the unit's StateDirectory=wachat: point it elsewhere only to
# try the install without root.
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
STATEDIR   ?= /var/lib/wachat
UNITDIR    ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(SYSCONFDIR)/systemd/system)
NGX_MODULES_DIR ?= /usr/lib/nginx/modules
NGX_MODULES_CONF ?= /usr/share/nginx/modules-available
DIST       := $(BUILD)/dist
INSTALL    ?= install

# what the installed files say about where the others are
INSTALL_SUBST := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
                 -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g'

# The installed config is conf/wachatd.conf with the production choices: a
# Redis password and the agent API, both from files beside it; the
# knowledge base and the media in the state directory, where wachatd may
# write.
PROD_CONF_SED := -e 's|^\# redis_password_file .*|redis_password_file redis.password|' \
                 -e 's|^\# api_listen  .*|api_listen          127.0.0.1:8091|' \
                 -e 's|^\# api_secret_file .*|api_secret_file     api.secret|' \
                 -e 's|^kb  .*|kb                  $(STATEDIR)/kb.md|' \
                 -e 's|^\# media_dir .*|media_dir           $(STATEDIR)/media|' \
                 -e 's|^\# wachatd / wachatctl example config (wachatd -c conf/wachatd.conf)\.|\# wachatd / wachatctl config, as installed: $(SYSCONFDIR)/wachat/wachatd.conf.|'

.PHONY: dist install install-kb uninstall

# the daemon again, with the installed config path built in
dist:
	$(MAKE) BUILD=$(DIST) CONF_PATH=$(SYSCONFDIR)/wachat/wachatd.conf \
	    $(DIST)/wachatd $(DIST)/wachatctl

install: $(MODULE) dist
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(NGX_MODULES_DIR) $(DESTDIR)$(NGX_MODULES_CONF) \
	    $(DESTDIR)$(DATADIR)/wachat/console $(DESTDIR)$(DATADIR)/wachat/nginx \
	    $(DESTDIR)$(DATADIR)/doc/wachat $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(DATADIR)/man/man1 $(DESTDIR)$(DATADIR)/man/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/wachat
	$(INSTALL) -m 755 $(DIST)/wachatd $(DESTDIR)$(SBINDIR)/wachatd
	$(INSTALL) -m 755 $(DIST)/wachatctl $(DESTDIR)$(BINDIR)/wachatctl
	$(INSTALL) -m 644 $(MODULE) $(DESTDIR)$(NGX_MODULES_DIR)/ngx_http_wachat_module.so
	echo 'load_module modules/ngx_http_wachat_module.so;' \
	    > $(DESTDIR)$(NGX_MODULES_CONF)/mod-http-wachat.conf
	chmod 644 $(DESTDIR)$(NGX_MODULES_CONF)/mod-http-wachat.conf
	$(INSTALL) -m 644 console/* $(DESTDIR)$(DATADIR)/wachat/console/
	sed $(INSTALL_SUBST) conf/nginx-site.conf \
	    > $(DESTDIR)$(DATADIR)/wachat/nginx/wachat-site.conf
	sed -e 's|/srv/wachat/console/|$(DATADIR)/wachat/console/|g' \
	    -e 's|/etc/wachat/|$(SYSCONFDIR)/wachat/|g' conf/nginx-agent.conf \
	    > $(DESTDIR)$(DATADIR)/wachat/nginx/agent.conf
	chmod 644 $(DESTDIR)$(DATADIR)/wachat/nginx/*.conf
	sed $(INSTALL_SUBST) conf/wachatd.service.in \
	    > $(DESTDIR)$(UNITDIR)/wachatd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/wachatd.service
	$(INSTALL) -m 644 README.md $(DESTDIR)$(DATADIR)/doc/wachat/README.md
	$(INSTALL) -m 644 man/wachatctl.1 $(DESTDIR)$(DATADIR)/man/man1/wachatctl.1
	$(INSTALL) -m 644 man/wachatd.8 $(DESTDIR)$(DATADIR)/man/man8/wachatd.8
	test -e $(DESTDIR)$(SYSCONFDIR)/wachat/wachatd.conf || \
	    { sed $(PROD_CONF_SED) conf/wachatd.conf \
	          > $(DESTDIR)$(SYSCONFDIR)/wachat/wachatd.conf && \
	      chmod 644 $(DESTDIR)$(SYSCONFDIR)/wachat/wachatd.conf; }
	$(INSTALL) -m 644 conf/kb.md $(DESTDIR)$(DATADIR)/wachat/kb.md
	$(if $(DESTDIR),,@$(MAKE) --no-print-directory install-kb)
	@echo "make install: done. Next: the wachat user, the secrets in" \
	      "$(SYSCONFDIR)/wachat and Redis's password (README, \"Run in production\")"

# what the package's postinst does: the knowledge base wachatd edits, from
# the sample or from where an older install kept it, never overwritten;
# owned by root until the operator makes the wachat user (README).  Never
# staged: DESTDIR plays no part.
OLD_KB := $(SYSCONFDIR)/wachat/kb.md
install-kb:
	@if test -e $(STATEDIR)/kb.md; then \
	    echo "make install: $(STATEDIR)/kb.md exists: kept"; \
	else \
	    from=$(DATADIR)/wachat/kb.md; \
	    if test -f $(OLD_KB); then from=$(OLD_KB); fi; \
	    echo "$(INSTALL) -m 640 $$from $(STATEDIR)/kb.md"; \
	    $(INSTALL) -d -m 750 $(STATEDIR) && \
	    $(INSTALL) -m 640 $$from $(STATEDIR)/kb.md || exit 1; \
	    if test $$from = $(OLD_KB); then \
	        echo "make install: set \"kb $(STATEDIR)/kb.md\" in" \
	             "$(SYSCONFDIR)/wachat/wachatd.conf (wachatd may write only" \
	             "there), then remove $(OLD_KB)"; \
	    fi; \
	fi

# --- make deb: libnginx-mod-http-wachat and wachat, built the Debian way ----
#
# From a copy of the tree under $(BUILD)/deb (dpkg-buildpackage writes the
# .deb files beside the source directory), unsigned, then lintian.  Needs
# the Build-Depends of debian/control (scripts/install-deps package).
DEB_VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
DEB_DIR    := $(BUILD)/deb
DEB_SRC    := $(DEB_DIR)/wachat-$(DEB_VERSION)

.PHONY: deb
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	tar --exclude=./build --exclude=./.git --exclude=./debian/build -cf - . \
	    | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="parallel=$(JOBS) $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b > ../build.log 2>&1 \
	    || { tail -n 40 ../build.log; exit 1; }
	ls -1 $(DEB_DIR)/*.deb
	if command -v lintian > /dev/null; then \
	    lintian --display-info $(DEB_DIR)/*.changes || true; fi

# the programs, the module and the files that are not the operator's
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/wachatd $(DESTDIR)$(BINDIR)/wachatctl \
	    $(DESTDIR)$(NGX_MODULES_DIR)/ngx_http_wachat_module.so \
	    $(DESTDIR)$(NGX_MODULES_CONF)/mod-http-wachat.conf \
	    $(DESTDIR)$(UNITDIR)/wachatd.service \
	    $(DESTDIR)$(DATADIR)/man/man1/wachatctl.1 $(DESTDIR)$(DATADIR)/man/man8/wachatd.8
	rm -rf $(DESTDIR)$(DATADIR)/wachat $(DESTDIR)$(DATADIR)/doc/wachat

# every benchmark, one summary table; BENCH_ARGS go to bench/all (--quick, --only ...)
bench: module daemon
	bench/all $(BENCH_ARGS)

bench-ingest: $(MODULE)
	bench/ingest

bench-consumer: daemon
	bench/consumer

# Redis round trips per answered event; RT_ARGS="--baseline <rev>" adds a
# build of that revision, measured in the same run
bench-roundtrips: daemon
	bench/roundtrips $(RT_ARGS)

chaos: module daemon
	bench/chaos $(if $(filter sentinel,$(MODE)),--sentinel)

soak: module daemon
	bench/soak

valgrind: module daemon
	scripts/valgrind-wachatd

clean:
	rm -rf $(BUILD)
