# fsmml — PGXS build.  The version has one source: default_version in fsmml.control.
EXTENSION  = fsmml
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = fsmml
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA       = $(sort $(wildcard sql/$(EXTENSION)--*.sql))

# pg_regress inputs are every sql/*.sql that is not an install/upgrade script,
# run in the order of the schedule below.
REGRESS      = $(shell cat test/regress_schedule)
REGRESS_OPTS = --inputdir=.

PG_CPPFLAGS = -I$(srcdir)/src -DFSMML_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
              -Wno-sign-compare -Werror -O2
SHLIB_LINK  = -lxgboost -lcjson -lcurl -lm

EXTRA_CLEAN = META.json.tmp results regression.diffs regression.out test/kernel/kernel_cli bench/kernel_bench

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: META.json

META.json: META.json.in $(EXTENSION).control
	sed 's/@EXTVERSION@/$(EXTVERSION)/g' $< > $@

.PHONY: demo test
demo:
	./scripts/demo.sh
test:
	./scripts/test.sh
