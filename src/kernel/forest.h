/*
 * forest.h — an XGBoost 1.7 tree ensemble (gbtree, numerical splits) as
 * flat node arrays, evaluated one row at a time with XGBoost's own float
 * arithmetic: live scoring's single-row prediction without XGBoost's
 * per-call cost.  Pure C (cJSON, no PostgreSQL headers).
 */
#ifndef FSMML_FOREST_H
#define FSMML_FOREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum FsForestLink
{
	FS_LINK_IDENTITY,			/* reg:*, custom objectives: the margin */
	FS_LINK_SIGMOID,			/* binary:logistic */
	FS_LINK_SOFTMAX				/* multi:softprob */
} FsForestLink;

typedef struct FsForestNode
{
	int32_t		left;			/* forest-wide index of the left child; -1: a leaf */
	int32_t		right;
	uint32_t	feature;		/* split feature; bit 31: missing goes left */
	float		value;			/* split condition, or the leaf's value */
} FsForestNode;

typedef struct FsForest
{
	int32_t		ntrees;
	int32_t		ngroups;		/* outputs per row */
	int32_t		nfeatures;
	FsForestLink link;
	float		base_margin;
	int32_t    *root;			/* [ntrees] index of each tree's root */
	int32_t    *group;			/* [ntrees] output the tree adds to */
	FsForestNode *nodes;
	int64_t		nnodes;
} FsForest;

typedef void *(*FsForestAlloc) (size_t size, void *arg);

/*
 * Fills f from a model saved by XGBoost 1.7 as JSON (XGBoosterSaveModelToBuffer
 * with format "json", parsed by cJSON).  Returns 0, or -1 with why in err
 * when the model is one this evaluator does not reproduce (gblinear, dart,
 * categorical splits, an unknown objective) or is malformed.  Arrays come
 * from alloc.
 */
extern int	fs_forest_from_json(const cJSON *model, FsForestAlloc alloc, void *arg,
								FsForest *f, char *err, size_t errlen);

/*
 * The same forest from a model saved as UBJSON (format "ubj"), read in place
 * (forest_ubj.c): the split conditions as the float32 XGBoost keeps, no text
 * written and parsed, no node per array element.  Same refusals as
 * fs_forest_from_json; every length is checked against buf.
 */
extern int	fs_forest_from_ubj(const void *buf, size_t len, FsForestAlloc alloc, void *arg,
							   FsForest *f, char *err, size_t errlen);

/* Shared by the two readers. */
#define FS_MISSING_LEFT 0x80000000u	/* FsForestNode.feature: missing goes left */
#define FS_MAX_NODES_PER_TREE (1 << 28)
extern int	fs_forest_fail(char *err, size_t errlen, const char *msg, const char *detail);
extern int	fs_forest_set_objective(FsForest *f, const char *objective, double base, double nclass,
									double nfeat, char *err, size_t errlen);
extern bool fs_forest_is_tree(const FsForestNode *nodes, int32_t base, int n);
extern int	fs_forest_alloc_nodes(FsForest *f, int64_t total, FsForestAlloc alloc, void *arg,
								  char *err, size_t errlen);
extern int	fs_forest_set_node(FsForest *f, int64_t total, int n, int i, int64_t l, int64_t r,
							   int64_t feat, int64_t default_left, double value, char *err, size_t errlen);

/*
 * out[0..ngroups) for one row of nfeatures floats (NaN: missing), after the
 * objective's link, as XGBoost's CPU predictor computes it.
 */
extern void fs_forest_predict_row(const FsForest *f, const float *x, float *out);

#endif							/* FSMML_FOREST_H */
