# fsmml — PGXS build.  The version has one source: default_version in fsmml.control.
EXTENSION  = fsmml
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big = fsmml
# One directory per subsystem (README, "Layout"); kernel/ is pure C without PostgreSQL headers.
OBJS = \
	src/fsmml.o src/privilege.o src/locks.o \
	src/kernel/features_kernel.o src/kernel/features_check.o src/kernel/features_catalog.o \
	src/kernel/metrics.o src/kernel/walkforward.o src/kernel/kmeans.o src/kernel/statefsm.o \
	src/kernel/exec_rules.o src/kernel/ensemble.o src/kernel/simulator.o src/kernel/tpe.o \
	src/kernel/model_validate.o src/kernel/quantreg.o src/kernel/forest.o src/kernel/forest_ubj.o src/kernel/base64.o \
	src/xgb/xgb_errors.o src/xgb/xgb_signals.o src/xgb/xgb_json.o src/xgb/xgb_matrix.o \
	src/xgb/xgb_booster.o src/xgb/xgb_params.o src/xgb/xgb_predict.o src/xgb/xgb_forest.o src/xgb/xgb_validate.o \
	src/xgb/xgb_limits.o src/xgb/xgb_sql.o src/xgb/xgb_quantile.o src/xgb/xgb_custom.o \
	src/data/timeframe.o src/data/bars.o src/data/bulk_insert.o src/data/features_sql.o src/data/features_build.o \
	src/data/resample.o src/data/dataset.o \
	src/train/train.o src/train/train_params.o src/train/progress.o src/train/holdout_bt.o \
	src/registry/registry.o src/registry/promotion.o src/registry/version_info.o \
	src/registry/promote.o src/registry/model_io.o src/registry/model_card.o \
	src/serve/champion_cache.o src/serve/payload.o src/serve/predict.o \
	src/serve/pred_write.o src/serve/score.o src/serve/score_agents.o src/serve/series_write.o src/agents/agent.o \
	src/serve/live_state.o src/serve/model_cache.o src/serve/live_score.o src/serve/live_checks.o src/serve/live_listeners.o src/serve/live_trigger.o src/serve/live_capture.o src/serve/live_predict.o \
	src/agents/agent_jsonb.o src/agents/agent_params.o src/agents/agent_train.o src/agents/agent_promote.o src/agents/calibration.o \
	src/agents/direction_xgb.o src/agents/regime_kmeans.o src/agents/vol_quantile.o src/agents/state_fsm.o \
	src/agents/exec_rules_agent.o src/agents/ensemble_weighted.o src/bgw/scheduler.o src/bgw/bgw_xact.o src/bgw/launcher.o \
	src/bgw/worker.o src/bgw/schedule_sql.o src/bgw/drift_ref.o src/bgw/warm_start.o \
	src/kernel/sim_signals.o src/backtest/backtest_core.o src/backtest/backtest_sql.o src/backtest/optimize.o \
	src/backtest/optimize_params.o src/backtest/report.o src/backtest/svg.o \
	src/bgw/endpoints.o src/bgw/delivery_sign.o src/bgw/outbox_gate.o src/bgw/delivery_http.o src/bgw/delivery_shmem.o src/bgw/delivery_lanes.o \
	src/bgw/delivery_worker.o
DATA       = $(sort $(wildcard sql/$(EXTENSION)--*.sql))

# pg_regress inputs are every sql/*.sql that is not an install/upgrade script,
# run in the order of the schedule below.
REGRESS      = $(shell cat test/regress_schedule)
REGRESS_OPTS = --inputdir=.
# Isolation specs: test/isolation/specs/*.spec, expected output in test/isolation/expected/.
ISOLATION      = $(shell cat test/isolation_schedule 2>/dev/null)
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=fsmml

SUBSYSTEMS  = kernel xgb data train registry serve agents bgw backtest
PG_CPPFLAGS = -I$(srcdir)/src $(addprefix -I$(srcdir)/src/,$(SUBSYSTEMS)) -DFSMML_VERSION=\"$(EXTVERSION)\"
PG_CFLAGS   = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
              -Wno-sign-compare -Werror -O2 $(FSMML_CFLAGS)
# FSMML_CFLAGS=-DUSE_ASSERT_CHECKING builds the assert-enabled variant the test suite also runs.
SHLIB_LINK  = -lxgboost -lcjson -lcurl -lcrypto -lm

EXTRA_CLEAN = META.json.tmp results output_iso regression.diffs regression.out test/kernel/kernel_cli bench/kernel_bench

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

all: META.json

# Every object depends on every header of src/: PGXS tracks no header dependencies, and an object
# left from before a struct changed (FsXgbBooster, DeliveryShared, ...) corrupts memory at run time.
FSMML_HEADERS = $(wildcard src/*.h src/*/*.h)
$(OBJS): $(FSMML_HEADERS)
ifeq ($(with_llvm), yes)
$(OBJS:.o=.bc): $(FSMML_HEADERS)
endif

META.json: META.json.in $(EXTENSION).control
	sed 's/@EXTVERSION@/$(EXTVERSION)/g' $< > $@

.PHONY: demo test
demo:
	./scripts/demo.sh
test:
	./scripts/test.sh
