/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Gadget data as Prometheus metrics, with Inspektor Gadget's contract:
 *
 *   data source annotation   metrics.collect: true
 *   field annotations         metrics.type: counter | gauge | histogram | key
 *                             metrics.unit, metrics.description, metrics.boundaries
 *   implicit counter          metrics.implicit-counter.name / .description on the
 *                             data source: one count per record and key set
 *   well-known BTF types      gadget_counter__u32/__u64, gadget_gauge__u32/__u64,
 *                             gadget_histogram_slot__u32/__u64 (arrays of log2 slots)
 *
 * and exported only when the user names the data source with
 * --otel-metrics-name DS:NAME.  NAME is the scope of the data source's
 * metrics: every family is called NAME_FIELD (sanitised to Prometheus' name
 * rules, "_total" on counters, a base-unit suffix such as "_seconds") and
 * carries the label otel_scope_name="NAME", as IG's exporter does.  Key fields
 * become labels named after the field ("k8s.namespace" -> k8s_namespace);
 * enrichment fields of the pipeline can be keys.
 *
 * Records reach a collector after the run's filters.  A counter adds the
 * field's value (map iterators are read and cleared at every fetch, so what
 * a fetch reads is what happened since the last one: the counter stays
 * monotonic whatever the kernel evicts or the fetch clears), a gauge takes
 * the last value, a histogram adds a slot array or observes a value.
 *
 * The series of one registry are bounded (RUN_METRICS_DEFAULT_MAX_SERIES,
 * or the owner's bound): a record that would need a new series past it is
 * dropped and counted, never allocated.  Nothing here is thread-safe: one
 * thread updates a registry and writes it out.
 */
#ifndef RUN_METRICS_H
#define RUN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct oci_metadata_ds;
struct run_pipeline;
struct run_metrics;
struct run_metrics_ds;

#define RUN_METRICS_DEFAULT_MAX_SERIES 10000
/* Metrics (counters, gauges, histograms, the implicit counter) of one data source. */
#define RUN_METRICS_MAX_FAMILIES 64
/* Key fields (labels) of one data source. */
#define RUN_METRICS_MAX_KEYS 16
/* Bytes of one series' label values together; longer values are cut. */
#define RUN_METRICS_MAX_KEY_BYTES 2048
/* Buckets of a histogram. */
#define RUN_METRICS_MAX_BUCKETS 64

struct run_metrics_opts {
	size_t sz;	   /* sizeof(struct run_metrics_opts) */
	size_t max_series; /* 0: RUN_METRICS_DEFAULT_MAX_SERIES */
};

/* Returns a new, empty registry in *ret; free with run_metrics_free().  -ENOMEM. */
int run_metrics_new(const struct run_metrics_opts *opts, struct run_metrics **ret);
struct run_metrics *run_metrics_free(struct run_metrics *m);

/*
 * True when the annotations of md (gadget.yaml plus --annotate) ask for
 * metrics from this data source (metrics.collect: true).
 */
bool run_metrics_wanted(const struct oci_metadata_ds *md);

/*
 * Adds the collector of one data source, exported under scope (the NAME
 * of --otel-metrics-name), reading the fields of the prepared pipeline p
 * (borrowed; it must outlive the registry's use of the collector).  md:
 * the data source's annotations.  -EINVAL with a one-line reason in err for
 * an unknown metrics.type, a histogram on a field that is neither a number
 * nor an array of numbers, a key or metric on a field the data source does
 * not have, a name that collides with another family of the registry, or
 * a data source with neither metrics nor an implicit counter.
 */
int run_metrics_add_ds(struct run_metrics *m, const char *scope, struct run_pipeline *p,
		       const struct oci_metadata_ds *md, char *err, size_t errlen,
		       struct run_metrics_ds **ret);

/* One record of the data source, after the filters.  0, or -ENOMEM. */
int run_metrics_ds_record(struct run_metrics_ds *d, const void *rec, size_t size);

/* Series now, and records dropped because a new series was past the bound. */
size_t run_metrics_series(const struct run_metrics *m);
uint64_t run_metrics_dropped(const struct run_metrics *m);

/*
 * The family names of the registry, so an owner with several registries
 * (the agent) can refuse a second one that would collide.  NULL past the end.
 */
const char *run_metrics_family_name(const struct run_metrics *m, size_t i);

/*
 * Appends the registry in the Prometheus text exposition format (0.0.4):
 * # HELP and # TYPE of each family, then its series.  The owner's own
 * families must not collide with these.  0, -E2BIG past out's maximum.
 */
int run_metrics_write(const struct run_metrics *m, struct base_buf *out);

/*
 * The family counting records of new series dropped past the bound, one
 * series per registry: gadget_metrics_dropped_series_total{run="LABEL"}.
 * For an owner of several registries (labels[i] names registries[i]); it
 * writes the family once.  0, -E2BIG.
 */
int run_metrics_write_dropped(const struct run_metrics *const *registries,
			      const char *const *labels, size_t n, struct base_buf *out);

#endif /* RUN_METRICS_H */
