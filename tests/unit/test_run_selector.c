// SPDX-License-Identifier: Apache-2.0
/*
 * Tests for container selectors (run/selector.c): parsing --k8s-selector
 * text, with its bounds and errors, and matching containers described the way
 * the collection describes them.  Selectors against a real containerd are
 * covered by tests/integration/test_run_containers.py.
 */
#include "run/selector.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cri/collection.h"

static const struct cri_label web_labels[] = {
	{"app", "shop"},
	{"tier", "front"},
	{"empty", ""},
};

static const struct cri_container web = {
	.id = "0123456789abcdef",
	.name = "web",
	.pod_name = "shop-1",
	.pod_namespace = "prod",
	.pod_labels = web_labels,
	.n_pod_labels = 3,
	.mntns = 4026532000,
};

static const struct cri_container db = {
	.id = "fedcba9876543210",
	.name = "db",
	.pod_name = "shop-db",
	.pod_namespace = "prod",
	.mntns = 4026532001,
};

static void test_empty_matches_all(void **state)
{
	struct run_selector s = {0};

	(void)state;
	assert_true(run_selector_empty(&s));
	assert_true(run_selector_empty(NULL));
	assert_true(run_selector_match(&s, &web));
	assert_true(run_selector_match(NULL, &db));
	assert_false(run_selector_match(&s, NULL));
	/* "" is unset, as an empty flag value would be */
	s.container_name = "";
	assert_true(run_selector_empty(&s));
}

static void test_names(void **state)
{
	struct run_selector s = {.container_name = "web"};

	(void)state;
	assert_false(run_selector_empty(&s));
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db));

	s = (struct run_selector){.k8s_namespace = "prod"};
	assert_true(run_selector_match(&s, &web));
	assert_true(run_selector_match(&s, &db));
	s.k8s_podname = "shop-db";
	assert_false(run_selector_match(&s, &web));
	assert_true(run_selector_match(&s, &db));
	s.k8s_containername = "web"; /* every criterion must hold */
	assert_false(run_selector_match(&s, &db));

	s = (struct run_selector){.k8s_namespace = "Prod"};
	assert_false(run_selector_match(&s, &web)); /* exact, case-sensitive */
	s = (struct run_selector){.k8s_podname = "shop"};
	assert_false(run_selector_match(&s, &web)); /* not a prefix match */
}

/* Inspektor Gadget's lists: "a,b" either, "!a" not a */
static void test_lists_and_exclusions(void **state)
{
	struct run_selector s = {.container_name = "web,db"};
	char err[128];

	(void)state;
	assert_true(run_selector_match(&s, &web));
	assert_true(run_selector_match(&s, &db));
	s.container_name = "cache,db";
	assert_false(run_selector_match(&s, &web));
	assert_true(run_selector_match(&s, &db));
	s = (struct run_selector){.k8s_namespace = "!kube-system"};
	assert_true(run_selector_match(&s, &web));
	s.k8s_namespace = "!prod";
	assert_false(run_selector_match(&s, &web));
	s.k8s_namespace = "prod,!prod"; /* an exclusion wins */
	assert_false(run_selector_match(&s, &db));
	s = (struct run_selector){.k8s_podname = "!shop-db,!other"};
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db));
	s = (struct run_selector){.k8s_containername = ",web,"}; /* empty parts are nothing */
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db));

	/* labels: "k=!v" another value of k, "!k=v" not k=v (k may be absent) */
	s = (struct run_selector){0};
	assert_int_equal(run_selector_set_labels(&s, "tier=!back", err, sizeof(err)), 0);
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db)); /* no tier label at all */
	assert_int_equal(run_selector_set_labels(&s, "tier=!front", err, sizeof(err)), 0);
	assert_false(run_selector_match(&s, &web));
	assert_int_equal(run_selector_set_labels(&s, "!tier=front", err, sizeof(err)), 0);
	assert_false(run_selector_match(&s, &web));
	assert_true(run_selector_match(&s, &db));
	assert_int_equal(run_selector_set_labels(&s, "!app=other,app=shop", err, sizeof(err)), 0);
	assert_true(run_selector_match(&s, &web));
	run_selector_done(&s);
}

static void test_labels(void **state)
{
	struct run_selector s = {0};
	char err[128];

	(void)state;
	assert_int_equal(run_selector_set_labels(&s, "app=shop", err, sizeof(err)), 0);
	assert_int_equal(s.n_labels, 1);
	assert_string_equal(s.labels[0].key, "app");
	assert_string_equal(s.labels[0].value, "shop");
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db));

	assert_int_equal(run_selector_set_labels(&s, "tier=front,app=shop", err, sizeof(err)), 0);
	assert_int_equal(s.n_labels, 2);
	assert_true(run_selector_match(&s, &web));
	assert_int_equal(run_selector_set_labels(&s, "tier=back,app=shop", err, sizeof(err)), 0);
	assert_false(run_selector_match(&s, &web));

	/* an empty value is a value: the label must be there and empty */
	assert_int_equal(run_selector_set_labels(&s, "empty=", err, sizeof(err)), 0);
	assert_true(run_selector_match(&s, &web));
	assert_false(run_selector_match(&s, &db));
	/* a value may hold '=' */
	assert_int_equal(run_selector_set_labels(&s, "k=a=b", err, sizeof(err)), 0);
	assert_string_equal(s.labels[0].value, "a=b");
	run_selector_done(&s);
	assert_int_equal(s.n_labels, 0);
	run_selector_done(&s);
}

static void test_label_errors(void **state)
{
	static const struct {
		const char *text;
		int err;
		const char *why;
	} bad[] = {
		{"", -EINVAL, "empty"},
		{"app", -EINVAL, "key=value"},
		{"=shop", -EINVAL, "empty key"},
		{"app=shop,", -EINVAL, "key=value"},
		{"a=1,,b=2", -EINVAL, "key=value"},
		{"a=1,a=2", -EINVAL, "repeated key 'a'"},
	};
	struct run_selector s = {0};
	char err[128], *big;
	size_t i, n;

	(void)state;
	assert_int_equal(run_selector_set_labels(&s, "keep=me", err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(run_selector_set_labels(&s, bad[i].text, err, sizeof(err)),
				 bad[i].err);
		assert_non_null(strstr(err, bad[i].why));
		/* nothing lost: the previous selector stands */
		assert_int_equal(s.n_labels, 1);
		assert_string_equal(s.labels[0].key, "keep");
	}

	/* one label too many */
	big = malloc(RUN_SELECTOR_MAX_TEXT + 2);
	assert_non_null(big);
	for (i = 0, n = 0; i <= RUN_SELECTOR_MAX_LABELS; i++)
		n += (size_t)snprintf(big + n, RUN_SELECTOR_MAX_TEXT - n, "%sk%zu=v", i ? "," : "",
				      i);
	assert_int_equal(run_selector_set_labels(&s, big, err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "too many"));
	/* the maximum itself is fine */
	*strrchr(big, ',') = '\0';
	assert_int_equal(run_selector_set_labels(&s, big, NULL, 0), 0);
	assert_int_equal(s.n_labels, RUN_SELECTOR_MAX_LABELS);

	/* past the text bound, whatever it holds */
	memset(big, 'a', RUN_SELECTOR_MAX_TEXT + 1);
	big[RUN_SELECTOR_MAX_TEXT + 1] = '\0';
	assert_int_equal(run_selector_set_labels(&s, big, err, sizeof(err)), -E2BIG);
	assert_int_equal(s.n_labels, RUN_SELECTOR_MAX_LABELS);
	free(big);

	assert_int_equal(run_selector_set_labels(NULL, "a=b", NULL, 0), -EINVAL);
	assert_int_equal(run_selector_set_labels(&s, NULL, NULL, 0), -EINVAL);
	run_selector_done(&s);
	run_selector_done(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_matches_all),    cmocka_unit_test(test_names),
		cmocka_unit_test(test_lists_and_exclusions), cmocka_unit_test(test_labels),
		cmocka_unit_test(test_label_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
