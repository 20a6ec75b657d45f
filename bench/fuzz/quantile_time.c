/*
 * quantile_time.c — the first boosting round with a plain DMatrix against an
 * XGBoost QuantileDMatrix fed in batches (as src/xgb/xgb_quantile.c does):
 * build time, each round's time, the longest gap between two feeding
 * callbacks (how long a cancel waits), and a hash of the model bytes (both
 * ways must give the same model).  Random dense data, 1% missing.
 *   quantile_time ROWS COLS MODE(0 DMatrix, 1 QuantileDMatrix) STOP_AFTER(-1) NTHREAD ROUNDS
 *   env: BS batch rows (65536), D max_depth (6), WORST=1 (no regularisation, no
 *   subsampling; default subsample/colsample 0.8 as fsmml), V=1 (print gaps > 50 ms)
 * Build: cc -O2 -o quantile_time quantile_time.c -lxgboost -lm
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <xgboost/c_api.h>
static double now(void){struct timespec ts;clock_gettime(CLOCK_MONOTONIC,&ts);return ts.tv_sec+ts.tv_nsec/1e9;}
#define CK(x) do { if ((x) != 0) { fprintf(stderr, "line %d: %s\n", __LINE__, XGBGetLastError()); return 1; } } while (0)
typedef struct { float *x,*y; long rows, cols, batch, at; DMatrixHandle proxy; int stop_after; int nb; int calls; double last, maxgap; int resets; } It;
static void gap(It*it){double t=now(); if(getenv("V")&&t-it->last>0.05) fprintf(stderr,"gap %.3f before call %d (reset %d, at %ld)\n",t-it->last,it->calls,it->resets,it->at); if(it->last>0 && t-it->last>it->maxgap) it->maxgap=t-it->last; it->last=t;}
static void reset(DataIterHandle h){It*it=h;gap(it);it->at=0;it->nb=0;it->resets++;}
static int next(DataIterHandle h){It*it=h;char buf[256];long n;
 it->calls++; gap(it);
 if(it->at>=it->rows) return 0;
 if(it->stop_after>=0 && it->calls>it->stop_after) return 0;
 n=it->rows-it->at; if(n>it->batch) n=it->batch;
 snprintf(buf,sizeof buf,"{\"data\": [%lu, true], \"shape\": [%ld, %ld], \"typestr\": \"<f4\", \"version\": 3}",(unsigned long)(it->x+it->at*it->cols),n,it->cols);
 if(XGProxyDMatrixSetDataDense(it->proxy,buf)) {fprintf(stderr,"set: %s\n",XGBGetLastError());return 0;}
 snprintf(buf,sizeof buf,"{\"data\": [%lu, true], \"shape\": [%ld], \"typestr\": \"<f4\", \"version\": 3}",(unsigned long)(it->y+it->at),n);
 if(XGDMatrixSetInfoFromInterface(it->proxy,"label",buf)) {fprintf(stderr,"lab: %s\n",XGBGetLastError());return 0;}
 it->at+=n; it->nb++; return 1;}
int main(int argc,char**argv){
 long rows=atol(argv[1]), cols=atol(argv[2]); int mode=atoi(argv[3]); int stop=argc>4?atoi(argv[4]):-1; int nth=argc>5?atoi(argv[5]):1; int rounds=argc>6?atoi(argv[6]):4;
 float*x=malloc(sizeof(float)*rows*cols),*y=malloc(sizeof(float)*rows); unsigned s=42;
 for(long i=0;i<rows*cols;i++){x[i]=(float)((s=s*1664525u+1013904223u)>>8)/16777216.0f; if(i%97==0)x[i]=NAN;}
 for(long i=0;i<rows;i++) y[i]=(x[i*cols+1]+ ((s=s*1664525u+1013904223u)>>8)/16777216.0f > 1.0f);
 DMatrixHandle m; double t0=now(); char nt[16]; snprintf(nt,16,"%d",nth);
 long bs=getenv("BS")?atol(getenv("BS")):65536; It it={x,y,rows,cols,bs,0,NULL,stop,0,0,0,0,0};
 if(mode==0){CK(XGDMatrixCreateFromMat_omp(x,rows,cols,NAN,&m,nth));CK(XGDMatrixSetFloatInfo(m,"label",y,rows));}
 else { char cfg[200]; CK(XGProxyDMatrixCreate(&it.proxy)); snprintf(cfg,200,"{\"missing\": NaN, \"nthread\": %d, \"max_bin\": 256}",nth);
   it.last=now(); int rc=XGQuantileDMatrixCreateFromCallback(&it,it.proxy,NULL,reset,next,cfg,&m); gap(&it);
   printf("rc %d calls %d resets %d maxgap %.3f err %.200s\n",rc,it.calls,it.resets,it.maxgap,rc?XGBGetLastError():"");
   if(rc) return 0; }
 bst_ulong nr,nc; CK(XGDMatrixNumRow(m,&nr)); CK(XGDMatrixNumCol(m,&nc));
 printf("dmatrix %.3f s rows %lu cols %lu\n",now()-t0,(unsigned long)nr,(unsigned long)nc);
 BoosterHandle b; CK(XGBoosterCreate(&m,1,&b));
 CK(XGBoosterSetParam(b,"tree_method","hist"));CK(XGBoosterSetParam(b,"objective","binary:logistic"));
 CK(XGBoosterSetParam(b,"max_depth",getenv("D")?getenv("D"):"6"));CK(XGBoosterSetParam(b,"nthread",nt));CK(XGBoosterSetParam(b,"seed","42"));
 if(getenv("WORST")){CK(XGBoosterSetParam(b,"min_child_weight","0"));CK(XGBoosterSetParam(b,"lambda","0"));} else {CK(XGBoosterSetParam(b,"subsample","0.8"));CK(XGBoosterSetParam(b,"colsample_bytree","0.8"));}
 for(int i=0;i<rounds;i++){double t=now();CK(XGBoosterUpdateOneIter(b,i,m));printf("round %d %.3f s\n",i,now()-t);}
 const char*ev; const char*nm="train"; CK(XGBoosterEvalOneIter(b,rounds-1,&m,&nm,1,&ev)); printf("%s\n",ev);
 bst_ulong len; const char*raw; CK(XGBoosterSaveModelToBuffer(b,"{\"format\": \"ubj\"}",&len,&raw));
 unsigned long h=1469598103934665603UL; for(bst_ulong i=0;i<len;i++){h^=(unsigned char)raw[i];h*=1099511628211UL;} printf("model %lu bytes hash %lx\n",(unsigned long)len,h);
 return 0;}
