// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's worker threads.  See worker.h.
 *
 * One queue of jobs to work and one list of finished ones, under one lock.
 * A worker pushes what it finished onto the list and writes the eventfd;
 * the loop takes the whole list at once and completes it in the order it
 * was finished.
 */
#include "agent/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/time.h"

/* More than the agent starts. */
#define MAX_WORKERS 16

struct agent_worker_pool {
	int fd;
	pthread_t threads[MAX_WORKERS];
	size_t n_threads;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct agent_worker_job *queue, **queue_tail, *finished;
	bool stop;
};

static void *worker_main(void *arg)
{
	struct agent_worker_pool *p = arg;
	uint64_t one = 1;

	for (;;) {
		struct agent_worker_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->queue && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->queue) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		j = p->queue;
		p->queue = j->next;
		if (!p->queue)
			p->queue_tail = &p->queue;
		pthread_mutex_unlock(&p->lock);

		j->ops->work(j);

		pthread_mutex_lock(&p->lock);
		j->next = p->finished;
		p->finished = j;
		pthread_mutex_unlock(&p->lock);
		if (write(p->fd, &one, sizeof(one)) < 0)
			base_log_debug("agent: job wakeup: %s", strerror(errno));
	}
	return NULL;
}

int agent_worker_pool_new(struct agent_worker_pool **ret)
{
	struct agent_worker_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->queue_tail = &p->queue;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->fd < 0) {
		int rc = -errno;

		agent_worker_pool_free(p);
		return rc;
	}
	*ret = p;
	return 0;
}

int agent_worker_pool_start(struct agent_worker_pool *p, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (p->n_threads == MAX_WORKERS)
			return -EINVAL;
		rc = -pthread_create(&p->threads[p->n_threads], NULL, worker_main, p);
		if (rc < 0)
			return rc;
		p->n_threads++;
	}
	return 0;
}

struct agent_worker_pool *agent_worker_pool_free(struct agent_worker_pool *p)
{
	struct agent_worker_job *j, *next;
	size_t i;

	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	for (j = p->queue; j; j = next) {
		next = j->next;
		j->ops->drop(j);
	}
	for (j = p->finished; j; j = next) {
		next = j->next;
		j->ops->drop(j);
	}
	if (p->fd >= 0)
		close(p->fd);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	return NULL;
}

int agent_worker_pool_fd(const struct agent_worker_pool *p)
{
	return p->fd;
}

void agent_worker_pool_submit(struct agent_worker_pool *p, struct agent_worker_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&p->lock);
	*p->queue_tail = j;
	p->queue_tail = &j->next;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void agent_worker_pool_complete(struct agent_worker_pool *p)
{
	struct agent_worker_job *finished, *j, *next, *rev = NULL;

	base_time_timer_drain(p->fd);
	pthread_mutex_lock(&p->lock);
	finished = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	for (j = finished; j; j = next) { /* oldest first */
		next = j->next;
		j->next = rev;
		rev = j;
	}
	for (j = rev; j; j = next) {
		next = j->next; /* done() may submit j again */
		j->ops->done(j);
	}
}
