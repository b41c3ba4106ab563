/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gadget agent's settings: config.yaml, the environment and the command
 * line, merged with the precedence docs/agent.md gives (flag, then
 * environment, then file, then built-in default).
 *
 * The file is strict: an unknown key, or a value of the wrong type, is an
 * error whose message names the key (with its dotted path and line) so that
 * a typo in a ConfigMap does not go unnoticed as a silently ignored key.  A
 * key set to null (what Helm writes to remove a default) keeps the default.
 *
 * Parsing only reads; agent_config_validate() checks what the values mean
 * (addresses, the label selector, names) once every source is merged.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/log.h"

#define AGENT_CONFIG_DEFAULT_PATH "/etc/gadget/config.yaml"
/* Largest config.yaml read. */
#define AGENT_CONFIG_MAX_BYTES (1u << 20)
/* Entries of runtimes, oci.insecureRegistries, oci.allowedGadgets, oci.publicKeys. */
#define AGENT_CONFIG_MAX_RUNTIMES 4
#define AGENT_CONFIG_MAX_LIST	  256
/* Longest string value of any key. */
#define AGENT_CONFIG_MAX_VALUE 4096
/* Bounds of queue.maxRecords. */
#define AGENT_CONFIG_MAX_QUEUE_RECORDS (1u << 24)

#define AGENT_CONFIG_DEFAULT_NAMESPACE	 "gadget"
#define AGENT_CONFIG_DEFAULT_LABEL	 "type=gadget-instance"
#define AGENT_CONFIG_DEFAULT_LISTEN	 "127.0.0.1:8484"
#define AGENT_CONFIG_DEFAULT_UNIX	 "/run/gadget/agent.sock"
#define AGENT_CONFIG_DEFAULT_HEALTH	 "0.0.0.0:8485"
#define AGENT_CONFIG_DEFAULT_STORE	 "/var/lib/ig/oci-store"
#define AGENT_CONFIG_DEFAULT_MAX_RECORDS 65536
/* Gadget metrics, with Inspektor Gadget's names and defaults (docs/metrics.md). */
#define AGENT_CONFIG_DEFAULT_METRICS_ADDRESS "0.0.0.0:2224"
#define AGENT_CONFIG_DEFAULT_METRICS_SERIES  10000
#define AGENT_CONFIG_MAX_METRICS_SERIES	     1000000
/* Instances' records as JSON lines (docs/agent.md "Logs"). */
#define AGENT_CONFIG_DEFAULT_LOGS_DIR	  "/var/log/gadget"
#define AGENT_CONFIG_DEFAULT_LOGS_SIZE_MB 100
#define AGENT_CONFIG_DEFAULT_LOGS_BACKUPS 3
#define AGENT_CONFIG_CONTAINERD_SOCKET	  "/run/containerd/containerd.sock"
#define AGENT_CONFIG_CRIO_SOCKET	  "/run/crio/crio.sock"

/* Defaults and bounds of listen.helloTimeout, listen.idleTimeout and oci.pullTimeout. */
#define AGENT_CONFIG_DEFAULT_HELLO_MS 10000
#define AGENT_CONFIG_DEFAULT_IDLE_MS  600000
#define AGENT_CONFIG_DEFAULT_PULL_MS  300000
#define AGENT_CONFIG_MIN_TIMEOUT_MS   100
#define AGENT_CONFIG_MAX_TIMEOUT_MS   (24ull * 3600 * 1000)
/* Bounds of memoryBudget (0 is "from the memory limit"). */
#define AGENT_CONFIG_MIN_BUDGET (4ull << 20)
#define AGENT_CONFIG_MAX_BUDGET (64ull << 30)

struct agent_config_runtime {
	char *name;	   /* "containerd" or "cri-o" */
	char *socket_path; /* a host path */
};

/* Every string is owned; NULL only where the comment says so. */
struct agent_config {
	char *node_name; /* NULL: not given */
	char *host_root;
	char *gadget_namespace;
	char *instance_label; /* "key=value" */
	struct agent_config_runtime runtimes[AGENT_CONFIG_MAX_RUNTIMES];
	size_t n_runtimes;
	char *listen_address;
	char *listen_unix; /* "" turns the unix socket off */
	/* group name or gid that may use the unix socket too (0660); "": root only (0600) */
	char *listen_unix_group;
	char *health_address;
	char *store_dir;
	char **insecure_registries;
	size_t n_insecure_registries;
	char **allowed_gadgets;
	size_t n_allowed_gadgets;
	bool verify_image;  /* oci.verifyImage: check signatures when keys are given */
	char **public_keys; /* oci.publicKeys: PEM texts */
	size_t n_public_keys;
	bool disallow_pulling; /* oci.disallowPulling */
	uint32_t queue_max_records;
	enum base_log_level log_level;

	/* the gadget metrics endpoint: otel-metrics-listen, -listen-address, -max-series */
	bool metrics_listen;
	char *metrics_address;
	uint32_t metrics_max_series;

	/*
	 * logs.channel: where instances' records go by default ("none",
	 * "stdout" or "file"); files are <hostRoot><logs.directory>/<instance>.log
	 */
	char *logs_channel;
	char *logs_dir;
	uint32_t logs_max_size_mb;
	uint32_t logs_max_backups;
	bool listen_address_given; /* listen.address came from the file, not the default */
	uint64_t hello_timeout_ms;
	uint64_t idle_timeout_ms;
	uint64_t pull_timeout_ms;
	uint64_t memory_budget; /* bytes; 0: from the cgroup's memory limit */
};

/* Fills c with the built-in defaults.  -ENOMEM (c is then safe to _done()). */
int agent_config_init(struct agent_config *c);
void agent_config_done(struct agent_config *c);

/*
 * Applies a config.yaml document of len bytes over what c holds.  name is
 * used in messages ("config.yaml", a path).  -EINVAL with "<name>:<line>:
 * <key>: <why>" in err for bad YAML, an unknown key or a wrong type; -E2BIG
 * past the limits above.  On failure c may be partly updated.
 */
int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name,
		       char *err, size_t errlen);

/*
 * Reads the file at path and applies it.  A missing file is -ENOENT; with
 * missing_ok it is 0 and nothing changes.
 */
int agent_config_load(struct agent_config *c, const char *path, bool missing_ok, char *err,
		      size_t errlen);

/*
 * Overrides one of the keys the environment and flags may set: "nodeName",
 * "hostRoot", "gadgetNamespace", "logLevel".  -EINVAL for another key or a
 * bad log level (err says which).
 */
int agent_config_set(struct agent_config *c, const char *key, const char *value, char *err,
		     size_t errlen);

/*
 * Checks the merged settings: listen.address a loopback host:port,
 * health.address a host:port, instanceConfigMapLabel "key=value",
 * gadgetNamespace a DNS label, socket paths absolute, allowedGadgets
 * patterns, publicKeys PEM public keys.  -EINVAL with "<key>: <why>" in err.
 */
int agent_config_validate(const struct agent_config *c, char *err, size_t errlen);

/*
 * listen.unixSocketGroup as a gid: a number, or a group name looked up in
 * the group database; 0 when it is "" (root only).  -EINVAL with
 * "listen.unixSocketGroup: ..." in err for a name that is no group.
 */
int agent_config_unix_group(const struct agent_config *c, unsigned int *ret_gid, char *err,
			    size_t errlen);

/* "debug", "info", "warn", "error" -> level; -EINVAL otherwise. */
int agent_config_parse_log_level(const char *s, enum base_log_level *ret);

/*
 * "a.b.c.d:port", "[v6]:port" or "localhost:port" into a socket address;
 * -EINVAL when it is not one.  *ret_loopback tells whether it is a loopback
 * address (may be NULL).
 */
int agent_config_parse_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len,
			       bool *ret_loopback);

#endif /* AGENT_CONFIG_H */
