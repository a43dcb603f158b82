# wachat: nginx module for WhatsApp Cloud API webhooks (+ the consumer daemon).
#
#   make            build build/ngx_http_wachat_module.so for the installed nginx
#   make test       run the whole suite with prove
#   make test-asan  the same, nginx and module built with ASan + UBSan
#   make run        redis-server + nginx with the module, in the foreground
#   make bench-ingest   ingest benchmark (wrk), appends to bench/RESULTS.md
#   make fuzz       libFuzzer target for the envelope parser (clang)

SHELL      := /bin/bash
TOP        := $(CURDIR)
BUILD      := build
NGX_SRC    ?= /usr/share/nginx/src
JOBS       ?= $(shell nproc)

MODULE_SRCS := config $(wildcard ngx_wachat_module/*.c ngx_wachat_module/*.h)
MODULE     := $(BUILD)/ngx_http_wachat_module.so

CC         ?= cc
UNIT_CFLAGS := -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O1 -g \
               -Ingx_wachat_module
UNIT_LIBS  := -lyajl -lcrypto

PROVE      ?= prove
PROVE_ARGS ?= -j2

.PHONY: all module test test-asan run bench bench-ingest fuzz clean

all: module

module: $(MODULE)

# Configure a copy of the Debian nginx source tree with the flags the packaged
# nginx was built with, so the .so loads into /usr/sbin/nginx unchanged.
$(BUILD)/nginx/Makefile: $(NGX_SRC)/conf_flags config
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD) && cp -r $(NGX_SRC) $(BUILD)/nginx
	cd $(BUILD)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    > $(TOP)/$(BUILD)/nginx-configure.log

$(MODULE): $(BUILD)/nginx/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(BUILD)/nginx -f objs/Makefile modules -j$(JOBS) >/dev/null
	cp $(BUILD)/nginx/objs/ngx_http_wachat_module.so $@

# AddressSanitizer + UBSan.  nginx-dev ships headers only, so nginx itself
# cannot be rebuilt from it: the module is built instrumented and loaded into
# the packaged /usr/sbin/nginx with the sanitizer runtimes preloaded (the
# harness sets LD_PRELOAD for nginx only, from WACHAT_NGINX_PRELOAD).
ASAN_DIR   := $(BUILD)/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_MODULE := $(ASAN_DIR)/ngx_http_wachat_module.so
ASAN_PRELOAD := $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)

$(ASAN_DIR)/nginx/Makefile: $(NGX_SRC)/conf_flags config
	rm -rf $(ASAN_DIR)/nginx && mkdir -p $(ASAN_DIR) && cp -r $(NGX_SRC) $(ASAN_DIR)/nginx
	cd $(ASAN_DIR)/nginx && source ./conf_flags && \
	    ./configure "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    --with-cc-opt="-O1 -g $(ASAN_FLAGS)" --with-ld-opt="$(ASAN_FLAGS)" \
	    > $(TOP)/$(ASAN_DIR)/nginx-configure.log

$(ASAN_MODULE): $(ASAN_DIR)/nginx/Makefile $(MODULE_SRCS)
	$(MAKE) -C $(ASAN_DIR)/nginx -f objs/Makefile modules -j$(JOBS) >/dev/null
	cp $(ASAN_DIR)/nginx/objs/ngx_http_wachat_module.so $@

$(BUILD)/envelope_test: tests/envelope_test.c ngx_wachat_module/wachat_envelope.c \
                        ngx_wachat_module/wachat_envelope.h
	@mkdir -p $(BUILD)
	$(CC) $(UNIT_CFLAGS) $(EXTRA_CFLAGS) -o $@ tests/envelope_test.c \
	    ngx_wachat_module/wachat_envelope.c $(UNIT_LIBS) $(EXTRA_LDFLAGS)

test: $(MODULE) $(BUILD)/envelope_test
	$(PROVE) $(PROVE_ARGS) t/

test-asan: $(ASAN_MODULE)
	$(MAKE) $(ASAN_DIR)/envelope_test BUILD=$(ASAN_DIR) \
	    EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)"
	WACHAT_MODULE=$(TOP)/$(ASAN_MODULE) \
	WACHAT_NGINX_PRELOAD="$(ASAN_PRELOAD)" \
	WACHAT_ENVELOPE_TEST=$(TOP)/$(ASAN_DIR)/envelope_test \
	ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=print_stacktrace=1 \
	    $(PROVE) $(PROVE_ARGS) t/

fuzz: $(BUILD)/fuzz_envelope

$(BUILD)/fuzz_envelope: fuzz/envelope_fuzz.c ngx_wachat_module/wachat_envelope.c
	@mkdir -p $(BUILD)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Ingx_wachat_module \
	    -o $@ fuzz/envelope_fuzz.c ngx_wachat_module/wachat_envelope.c $(UNIT_LIBS)

run: $(MODULE)
	scripts/wachat-run

bench: bench-ingest

bench-ingest: $(MODULE)
	bench/ingest

clean:
	rm -rf $(BUILD)
