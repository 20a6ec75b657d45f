/*
 * xgb_signals.c — signal masks around XGBoost calls.
 *
 * An XGBoost call cannot be interrupted half-way, and its OpenMP worker
 * threads must never run PostgreSQL's signal handlers (they touch backend
 * globals and latches).  Threads inherit the mask of the thread that creates
 * them, so during a call the backend thread blocks every asynchronous
 * signal except SIGQUIT: SIGINT, SIGTERM, SIGALRM, SIGUSR1 ... stay pending
 * and are delivered when the call returns, where CHECK_FOR_INTERRUPTS()
 * acts on them (fsxgb_after_call).  Each call is bounded (xgb_limits.c).
 *
 * SIGQUIT (immediate shutdown, crash restart) is never blocked in the
 * backend thread.  A worker created during a call inherits SIGQUIT
 * unblocked, so the kernel may pick a worker for a process-directed
 * SIGQUIT; our handler, installed in front of PostgreSQL's, forwards it to
 * the backend thread and returns there, so PostgreSQL's handler only ever
 * runs on the backend thread.
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>

#include "xgb.h"
#include "xgb_internal.h"

static sigset_t fsxgb_call_mask;
static pthread_t fsxgb_backend_thread;
static struct sigaction fsxgb_prev_quit;
static bool fsxgb_quit_installed = false;

static void
fsxgb_quit_handler(int sig, siginfo_t *info, void *uctx)
{
	if (!pthread_equal(pthread_self(), fsxgb_backend_thread))
	{
		/* a worker thread: hand it to the backend thread */
		pthread_kill(fsxgb_backend_thread, sig);
		return;
	}
	if (fsxgb_prev_quit.sa_flags & SA_SIGINFO)
		fsxgb_prev_quit.sa_sigaction(sig, info, uctx);
	else if (fsxgb_prev_quit.sa_handler == SIG_DFL)
	{
		signal(sig, SIG_DFL);
		raise(sig);
	}
	else if (fsxgb_prev_quit.sa_handler != SIG_IGN)
		fsxgb_prev_quit.sa_handler(sig);
}

void
fsxgb_signals_init(void)
{
	struct sigaction sa;

	sigfillset(&fsxgb_call_mask);
	/* synchronous signals must stay deliverable */
	sigdelset(&fsxgb_call_mask, SIGSEGV);
	sigdelset(&fsxgb_call_mask, SIGBUS);
	sigdelset(&fsxgb_call_mask, SIGFPE);
	sigdelset(&fsxgb_call_mask, SIGILL);
	sigdelset(&fsxgb_call_mask, SIGTRAP);
	sigdelset(&fsxgb_call_mask, SIGABRT);
	sigdelset(&fsxgb_call_mask, SIGSYS);
	/* immediate shutdown must reach the backend at any time */
	sigdelset(&fsxgb_call_mask, SIGQUIT);

	fsxgb_backend_thread = pthread_self();
	if (!fsxgb_quit_installed)
	{
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fsxgb_quit_handler;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);	/* as pqsignal() does */
		if (sigaction(SIGQUIT, &sa, &fsxgb_prev_quit) == 0)
			fsxgb_quit_installed = true;
	}
}

void
fsxgb_signals_block(sigset_t *old)
{
	pthread_sigmask(SIG_BLOCK, &fsxgb_call_mask, old);
}

void
fsxgb_signals_restore(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}
