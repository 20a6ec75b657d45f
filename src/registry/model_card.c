/*
 * model_card.c — fsmml_model_card(version_id): a markdown summary of a
 * version (data window, split, hyper-parameters, metrics per fold and on the
 * hold-out, backtest, feature importance, risks flagged from the numbers,
 * where to use it).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "dataset.h"
#include "fsmml.h"
#include "registry.h"
#include "version_info.h"
#include "xgb.h"

#define CARD_TOP_FEATURES 15

/* ---------------------------------------------------------------- model card */

static cJSON *
jget(const cJSON *o, const char *key)
{
	if (o == NULL || !cJSON_IsObject(o))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

static bool
jnum(const cJSON *o, const char *key, double *out)
{
	cJSON	   *i = jget(o, key);

	if (i == NULL || !cJSON_IsNumber(i) || !isfinite(i->valuedouble))
		return false;
	*out = i->valuedouble;
	return true;
}

/* printf of a double without a "-0.000" */
static char *
fmt_double(double v, int digits)
{
	char	   *s = psprintf("%.*f", digits, v);

	if (s[0] == '-' && strspn(s + 1, "0.") == strlen(s + 1))
		return s + 1;
	return s;
}

static char *
num_or_na(const cJSON *o, const char *key, int digits)
{
	double		v;

	return jnum(o, key, &v) ? fmt_double(v, digits) : "n/a";
}

static char *
int_or_na(const cJSON *o, const char *key)
{
	double		v;

	return jnum(o, key, &v) ? psprintf("%.0f", v) : "n/a";
}

static char *
pct_or_na(const cJSON *o, const char *key, int digits)
{
	double		v;

	return jnum(o, key, &v) ? psprintf("%s%%", fmt_double(100 * v, digits)) : "n/a";
}

/* A JSON value as a table cell: strings as is, others as JSON. */
static char *
json_cell(const cJSON *item)
{
	if (item == NULL || cJSON_IsNull(item))
		return "n/a";
	if (cJSON_IsString(item))
		return item->valuestring;
	if (cJSON_IsNumber(item))
	{
		double		v = item->valuedouble;

		if (v == floor(v) && fabs(v) < 1e15)
			return psprintf("%.0f", v);
		return psprintf("%.10g", v);
	}
	return fsxgb_json_print(item);
}

/* Markdown table cell: | and newlines escaped. */
static char *
md(const char *s)
{
	StringInfoData b;

	if (s == NULL)
		return "n/a";
	initStringInfo(&b);
	for (; *s; s++)
	{
		if (*s == '|')
			appendStringInfoString(&b, "\\|");
		else if (*s == '\n' || *s == '\r')
			appendStringInfoChar(&b, ' ');
		else
			appendStringInfoChar(&b, *s);
	}
	return b.data;
}

static bool
json_true(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(jget(o, key));
}

typedef struct FeatScore
{
	const char *name;
	double		gain;
} FeatScore;

static int
featscore_cmp(const void *a, const void *b)
{
	const FeatScore *x = a;
	const FeatScore *y = b;

	if (x->gain != y->gain)
		return x->gain < y->gain ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Feature importance section (gain, from the model). */
static void
card_importance(StringInfo s, VersionInfo *v, MemoryContext cxt)
{
	FsXgbBooster *b;
	char	  **names;
	double	   *scores;
	int			n;
	bool		named;
	FeatScore  *fs;
	double		total = 0;

	appendStringInfoString(s, "\n## Feature importance (gain, top 15)\n\n");
	if (v->model == NULL || (strcmp(v->model_format, "xgboost-ubj") != 0 &&
							 strcmp(v->model_format, "xgboost-json") != 0))
	{
		appendStringInfo(s, "n/a: the model is not an XGBoost model (format %s).\n",
						 v->model_format);
		return;
	}
	b = fsxgb_booster_load_bytea(cxt, v->model);
	named = fsmml_booster_feature_names(b, cxt) != NIL;
	n = fsxgb_feature_score(b, "gain", &names, &scores);
	if (n == 0)
	{
		appendStringInfoString(s, "n/a: no tree of the model splits on any feature.\n");
		return;
	}
	fs = palloc(sizeof(FeatScore) * n);
	for (int i = 0; i < n; i++)
	{
		int			idx;
		char		tail;

		fs[i].name = names[i];
		fs[i].gain = isfinite(scores[i]) ? scores[i] : 0;
		total += fs[i].gain;
		/* XGBoost says f<i> when the booster has no names: map to ours */
		if (!named && sscanf(names[i], "f%d%c", &idx, &tail) == 1 &&
			idx >= 0 && idx < v->nfeatures)
			fs[i].name = v->feature_names[idx];
	}
	qsort(fs, n, sizeof(FeatScore), featscore_cmp);
	appendStringInfoString(s, "| rank | feature | gain | share |\n|---:|---|---:|---:|\n");
	for (int i = 0; i < n && i < CARD_TOP_FEATURES; i++)
		appendStringInfo(s, "| %d | %s | %.4g | %s%% |\n", i + 1, md(fs[i].name), fs[i].gain,
						 total > 0 ? fmt_double(100 * fs[i].gain / total, 1) : "n/a");
	appendStringInfo(s, "\n%d of %d features are used by some split; gain is the average loss reduction of a split on the feature.\n",
					 n, v->nfeatures);
}

/* Known risks, derived from the numbers. */
static void
card_risks(StringInfo s, VersionInfo *v, cJSON *params, cJSON *metrics)
{
	cJSON	   *holdout = jget(metrics, "holdout");
	cJSON	   *bt = jget(holdout, "backtest");
	cJSON	   *folds = jget(metrics, "folds");
	cJSON	   *f;
	double		auc,
				x,
				y;
	double		fmin = INFINITY,
				fmax = -INFINITY,
				fsum = 0;
	int			nf = 0;
	int			before;

	appendStringInfoString(s, "\n## Known risks\n\n");
	before = s->len;

	if (json_true(params, "imported") || json_true(metrics, "imported"))
		appendStringInfoString(s, "- Imported model: not validated by fsmml. It was trained elsewhere; no walk-forward or hold-out evaluation was run on this data, so nothing below vouches for it.\n");
	if (json_true(params, "synthetic") ||
		(cJSON_IsString(jget(params, "data")) && strstr(jget(params, "data")->valuestring, "synthetic")) ||
		(cJSON_IsString(jget(params, "data_source")) && strstr(jget(params, "data_source")->valuestring, "synthetic")))
		appendStringInfoString(s, "- Trained on synthetic data: the numbers say nothing about a real market.\n");

	if (holdout == NULL && !json_true(metrics, "imported"))
		appendStringInfoString(s, "- No hold-out evaluation is recorded for this version.\n");

	if (jnum(holdout, "auc", &auc))
	{
		if (fabs(auc - 0.5) <= 0.02)
			appendStringInfo(s, "- Hold-out AUC %s is within 0.5 ± 0.02: no evidence of an edge.\n",
							 fmt_double(auc, 4));
		else if (auc < 0.48)
			appendStringInfo(s, "- Hold-out AUC %s is below 0.5: the model ranks worse than chance on unseen bars.\n",
							 fmt_double(auc, 4));
		else if (auc > 0.75)
			appendStringInfo(s, "- Hold-out AUC %s is far above what direction models reach on real markets: suspect look-ahead (a feature or label that sees the future) or synthetic, predictable data.\n",
							 fmt_double(auc, 4));
	}
	else if (holdout != NULL)
		appendStringInfoString(s, "- Hold-out AUC is undefined (one class only, or no rows).\n");

	if (cJSON_IsArray(folds))
	{
		cJSON_ArrayForEach(f, folds)
		{
			if (jnum(f, "auc", &x))
			{
				fmin = Min(fmin, x);
				fmax = Max(fmax, x);
				fsum += x;
				nf++;
			}
		}
	}
	if (nf >= 2 && fmax - fmin > 0.1)
		appendStringInfo(s, "- Fold AUCs range from %s to %s: performance is unstable across time.\n",
						 fmt_double(fmin, 4), fmt_double(fmax, 4));
	if (nf >= 1 && jnum(holdout, "auc", &auc) && fsum / nf - auc > 0.05)
		appendStringInfo(s, "- Hold-out AUC %s is well below the walk-forward mean %s: overfitting or a change of regime.\n",
						 fmt_double(auc, 4), fmt_double(fsum / nf, 4));

	if (jnum(bt, "sharpe", &x) && x > 5)
		appendStringInfo(s, "- Hold-out Sharpe %s is implausibly high for a live market: check for look-ahead and for fills the backtest assumes (%s).\n",
						 fmt_double(x, 2),
						 jget(bt, "total_return") ? "at the next bar's open and at stop or target prices, no slippage" :
						 "every bar at its close, no slippage");
	if (jnum(holdout, "rows", &x) && x < 500)
		appendStringInfo(s, "- Small hold-out (%.0f rows): its metrics are noisy.\n", x);
	if (jnum(holdout, "pos_rate", &x) && fabs(x - 0.5) > 0.1)
		appendStringInfo(s, "- Unbalanced labels (%s%% up moves in the hold-out): accuracy is misleading; read AUC and Brier.\n",
						 fmt_double(100 * x, 1));

	if (jnum(bt, "trades", &x))
	{
		if (x == 0)
			appendStringInfoString(s, "- No trades in the hold-out backtest: the threshold is never crossed, so PnL says nothing.\n");
		else if (x < 30)
			appendStringInfo(s, "- Few trades (%.0f) in the hold-out backtest: PnL, Sharpe and win rate are not statistically meaningful.\n", x);
	}
	if (jnum(bt, "pnl", &x) && x <= 0 && !(jnum(bt, "trades", &y) && y == 0))
		appendStringInfo(s, "- Hold-out PnL after fees is %s: the strategy lost money on unseen bars.\n",
						 fmt_double(x, 4));
	if (jnum(bt, "max_drawdown", &x) && x >= 0.2)
		appendStringInfo(s, "- Hold-out max drawdown of %s%%: expect deep losing streaks.\n",
						 fmt_double(100 * x, 1));
	else if (jnum(bt, "max_drawdown", &x) && jnum(bt, "pnl", &y) && y > 0 && x > y)
		appendStringInfo(s, "- Hold-out max drawdown (%s) exceeds the PnL (%s).\n",
						 fmt_double(x, 4), fmt_double(y, 4));
	if (jnum(bt, "profit_factor", &x) && x < 1 && !(jnum(bt, "trades", &y) && y == 0))
		appendStringInfo(s, "- Profit factor %s < 1: losses outweigh gains.\n", fmt_double(x, 2));

	if (s->len == before)
		appendStringInfoString(s, "- None flagged by the automatic checks. A hold-out is one period of one market: monitor live results.\n");
}

/* fsmml_model_card(version_id) → markdown */
PG_FUNCTION_INFO_V1(fsmml_model_card);

Datum
fsmml_model_card(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	VersionInfo *v;
	cJSON	   *params;
	cJSON	   *metrics;
	cJSON	   *rows;
	cJSON	   *holdout;
	cJSON	   *bt;
	cJSON	   *folds;
	cJSON	   *xgbp;
	cJSON	   *item;
	StringInfoData s;
	char	   *instance;
	double		x;
	int			horizon = 1;
	double		threshold = 0;
	text	   *result;
	RegistryCall call;

	fsmml_registry_call_begin(&call);
	v = fsmml_version_read(id, true, true);
	params = fsxgb_json_parse_owned(v->params, call.cxt);
	metrics = fsxgb_json_parse_owned(v->metrics, call.cxt);
	rows = jget(metrics, "rows");
	holdout = jget(metrics, "holdout");
	bt = jget(holdout, "backtest");
	folds = jget(metrics, "folds");
	if (jnum(params, "horizon", &x) && x >= 1)
		horizon = (int) x;
	if (jnum(params, "threshold", &x))
		threshold = x;
	instance = fsmml_instance_name(v->agent, v->symbol, v->timeframe);

	initStringInfo(&s);
	appendStringInfo(&s, "# %s %s (%s)\n\n", instance, v->version, v->status);
	appendStringInfo(&s, "- version id: " INT64_FORMAT "\n", v->id);
	appendStringInfo(&s, "- created: %s by %s (fsmml %s)\n", v->created_at, v->created_by,
					 v->ext_version);
	if (v->promoted_at)
		appendStringInfo(&s, "- promoted: %s by %s (%s)\n", v->promoted_at,
						 v->promoted_by ? v->promoted_by : "n/a",
						 v->promote_reason ? v->promote_reason : "no reason given");
	appendStringInfo(&s, "- model: %s, sha256 %s\n", v->model_format, v->model_sha256);
	if (json_true(params, "imported"))
		appendStringInfoString(&s, "- imported: trained outside fsmml\n");

	/* data window */
	appendStringInfoString(&s, "\n## Data window\n\n| set | from | to |\n|---|---|---|\n");
	appendStringInfo(&s, "| train | %s | %s |\n", v->train_from ? v->train_from : "n/a",
					 v->train_to ? v->train_to : "n/a");
	appendStringInfo(&s, "| test (hold-out) | %s | %s |\n", v->test_from ? v->test_from : "n/a",
					 v->test_to ? v->test_to : "n/a");
	appendStringInfo(&s, "\nRows: %s bars, %s dropped for a NULL feature, %s without a label yet, %s used: %s to train, %s held out.\n",
					 int_or_na(rows, "bars"), int_or_na(rows, "dropped_null"),
					 int_or_na(rows, "dropped_unlabeled"), int_or_na(rows, "used"),
					 int_or_na(rows, "train"), int_or_na(rows, "holdout"));
	if (jget(params, "lookback"))
		appendStringInfo(&s, "Look-back: %s.\n", json_cell(jget(params, "lookback")));

	/* split */
	appendStringInfoString(&s, "\n## Split\n\n");
	appendStringInfo(&s, "- walk-forward folds: %s\n", json_cell(jget(params, "folds")));
	appendStringInfo(&s, "- hold-out share (test_size): %s\n", json_cell(jget(params, "test_size")));
	if (jget(params, "purge"))
		appendStringInfo(&s, "- purge: %s bars\n", json_cell(jget(params, "purge")));
	else
		appendStringInfo(&s, "- purge: %d bar(s), the label horizon\n", horizon);
	appendStringInfo(&s, "- embargo: %s bars\n", json_cell(jget(params, "embargo")));
	appendStringInfo(&s, "- boosting rounds: %s at most, early stopping after %s; rounds run %s, best iteration %s\n",
					 json_cell(jget(params, "rounds")),
					 json_cell(jget(params, "early_stopping_rounds")),
					 int_or_na(metrics, "rounds"), int_or_na(metrics, "best_iteration"));

	/* hyper-parameters */
	appendStringInfoString(&s, "\n## Hyper-parameters\n\n");
	xgbp = jget(params, "xgb");
	if (cJSON_IsObject(xgbp) && cJSON_GetArraySize(xgbp) > 0)
	{
		appendStringInfoString(&s, "| parameter | value |\n|---|---|\n");
		cJSON_ArrayForEach(item, xgbp)
			appendStringInfo(&s, "| %s | %s |\n", md(item->string), md(json_cell(item)));
	}
	else
		appendStringInfoString(&s, "n/a\n");

	/* folds */
	appendStringInfoString(&s, "\n## Metrics per fold\n\n");
	if (cJSON_IsArray(folds) && cJSON_GetArraySize(folds) > 0)
	{
		appendStringInfoString(&s, "| fold | train rows | rows | auc | brier | logloss | accuracy |\n"
							   "|---:|---:|---:|---:|---:|---:|---:|\n");
		cJSON_ArrayForEach(item, folds)
			appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s | %s |\n",
							 int_or_na(item, "fold"), int_or_na(item, "train_rows"),
							 jget(item, "test_rows") ? int_or_na(item, "test_rows") :
							 int_or_na(item, "rows"),
							 num_or_na(item, "auc", 4),
							 num_or_na(item, "brier", 4), num_or_na(item, "logloss", 4),
							 num_or_na(item, "accuracy", 4));
	}
	else
		appendStringInfoString(&s, "n/a: no walk-forward folds recorded.\n");

	/* hold-out */
	appendStringInfoString(&s, "\n## Hold-out\n\n");
	if (holdout)
	{
		appendStringInfoString(&s, "| rows | auc | brier | logloss | accuracy | positives rate |\n"
							   "|---:|---:|---:|---:|---:|---:|\n");
		appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s |\n",
						 int_or_na(holdout, "rows"), num_or_na(holdout, "auc", 4),
						 num_or_na(holdout, "brier", 4), num_or_na(holdout, "logloss", 4),
						 num_or_na(holdout, "accuracy", 4), pct_or_na(holdout, "pos_rate", 2));
		if (jget(holdout, "from"))
			appendStringInfo(&s, "\nFrom %s to %s.\n", json_cell(jget(holdout, "from")),
							 json_cell(jget(holdout, "to")));
	}
	else
		appendStringInfoString(&s, "n/a: no hold-out evaluation recorded.\n");

	/* backtest */
	appendStringInfoString(&s, "\n## Backtest\n\n");
	if (bt)
	{
		appendStringInfoString(&s, "| pnl | sharpe | sortino | max drawdown | calmar | profit factor | win rate | trades |\n"
							   "|---:|---:|---:|---:|---:|---:|---:|---:|\n");
		appendStringInfo(&s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
						 num_or_na(bt, "pnl", 4), num_or_na(bt, "sharpe", 2),
						 num_or_na(bt, "sortino", 2), num_or_na(bt, "max_drawdown", 4),
						 num_or_na(bt, "calmar", 2), num_or_na(bt, "profit_factor", 2),
						 pct_or_na(bt, "win_rate", 1), int_or_na(bt, "trades"));
		if (jget(bt, "total_return"))
			appendStringInfo(&s, "\nPnL is the total return of the hold-out through the bar simulator, as fsmml_backtest runs the version's predictions: ExecRules at %s / %s, entry at the next bar's open, stop and target against high and low (stop first), %s bps per fill (fees paid %s), %s trades, %s ambiguous exits, exposure %s.\n",
							 num_or_na(bt, "long_threshold", 2), num_or_na(bt, "short_threshold", 2),
							 json_cell(jget(bt, "fee_bps")), num_or_na(bt, "fees_paid", 4),
							 int_or_na(bt, "trades"), int_or_na(bt, "ambiguous_exits"),
							 pct_or_na(bt, "exposure", 1));
		else
			appendStringInfo(&s, "\nPnL is the sum of per-bar net returns on the hold-out after fees (%s bps per change of position; fees paid %s), exposure %s.\n",
							 json_cell(jget(params, "fee_bps")), num_or_na(bt, "fees", 4),
							 pct_or_na(bt, "exposure", 1));
	}
	else
		appendStringInfoString(&s, "n/a: no hold-out backtest recorded.\n");

	card_importance(&s, v, call.cxt);
	card_risks(&s, v, params, metrics);

	/* where to use it */
	appendStringInfoString(&s, "\n## Where to use it\n\n");
	appendStringInfo(&s, "- instance: %s on %s %s bars, scored on each closed bar\n", v->agent,
					 v->symbol, v->timeframe);
	appendStringInfo(&s, "- horizon: %d bar(s): the prediction is the probability that close(t+%d) > close(t)\n",
					 horizon, horizon);
	appendStringInfoString(&s, "- payload: {\"prob_up\": p}\n");
	appendStringInfo(&s, "- threshold: %s: long when p >= 0.5 + threshold and p > 0.5, short when p <= 0.5 - threshold and p < 0.5, flat otherwise\n",
					 fmt_double(threshold, 4));
	appendStringInfo(&s, "- inputs (%d, in this order): ", v->nfeatures);
	for (int i = 0; i < v->nfeatures; i++)
		appendStringInfo(&s, "%s%s", i > 0 ? ", " : "", v->feature_names[i]);
	appendStringInfoString(&s, "\n");
	if (strcmp(v->status, "champion") == 0)
		appendStringInfoString(&s, "- status: champion, the version fsmml scores with\n");
	else if (strcmp(v->status, "challenger") == 0)
		appendStringInfo(&s, "- status: challenger, not used for scoring until promoted: fsmml_promote(" INT64_FORMAT ")\n",
						 v->id);
	else
		appendStringInfo(&s, "- status: retired; fsmml_promote(" INT64_FORMAT ") brings it back\n",
						 v->id);

	result = (text *) MemoryContextAlloc(call.caller, s.len + VARHDRSZ);
	SET_VARSIZE(result, s.len + VARHDRSZ);
	memcpy(VARDATA(result), s.data, s.len);
	fsmml_registry_call_end(&call);
	PG_RETURN_TEXT_P(result);
}

