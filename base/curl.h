/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl, loaded with dlopen() on first use rather than linked.
 *
 * libcurl brings some 40 shared libraries (GnuTLS, Kerberos, LDAP, libxml2,
 * ICU, ...) whose loading and relocation would cost every start of ig about
 * 9 MB and several milliseconds, also for runs of a cached gadget that never
 * speak HTTP.  Code that uses libcurl includes this header instead of
 * <curl/curl.h>, calls base_curl_load() before its first curl call (in its
 * constructor, so that a missing library is reported where the user acts),
 * and then calls curl as usual: each curl function it names becomes a call
 * through a pointer of that function's own declared type, so arguments are
 * still checked against curl's prototypes.
 *
 * curl's typecheck-gcc.h turns curl_easy_setopt() and curl_easy_getinfo()
 * into macros that check option values; they cannot also redirect the call,
 * so they are left out (CURL_DISABLE_TYPECHECK) and the values of those
 * varargs calls are not checked, as for any compiler but GCC and clang.
 */
#ifndef BASE_CURL_H
#define BASE_CURL_H

#include <stddef.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

/* Every libcurl function the tree calls; add a name here to call another. */
#define BASE_CURL_FUNCS(X)                                                                         \
	X(curl_easy_cleanup)                                                                       \
	X(curl_easy_escape)                                                                        \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_init)                                                                          \
	X(curl_easy_perform)                                                                       \
	X(curl_easy_reset)                                                                         \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_strerror)                                                                      \
	X(curl_free)                                                                               \
	X(curl_global_init)                                                                        \
	X(curl_multi_add_handle)                                                                   \
	X(curl_multi_cleanup)                                                                      \
	X(curl_multi_info_read)                                                                    \
	X(curl_multi_init)                                                                         \
	X(curl_multi_perform)                                                                      \
	X(curl_multi_poll)                                                                         \
	X(curl_multi_remove_handle)                                                                \
	X(curl_multi_strerror)                                                                     \
	X(curl_share_cleanup)                                                                      \
	X(curl_share_init)                                                                         \
	X(curl_share_setopt)                                                                       \
	X(curl_slist_append)                                                                       \
	X(curl_slist_free_all)                                                                     \
	X(curl_url)                                                                                \
	X(curl_url_cleanup)                                                                        \
	X(curl_url_get)                                                                            \
	X(curl_url_set)                                                                            \
	X(curl_version_info)

/* Filled once by base_curl_load(); use the curl names, not this table. */
struct base_curl_fns {
#define BASE_CURL_PTR(f) __typeof__(f) *p_##f;
	BASE_CURL_FUNCS(BASE_CURL_PTR)
#undef BASE_CURL_PTR
};
extern struct base_curl_fns base_curl_fns;

/* Longest message base_curl_load() writes. */
#define BASE_CURL_ERRLEN 256

/*
 * Loads libcurl and runs curl_global_init() the first time it is called in
 * the process, from any thread; later calls return the first result.  0 on
 * success; -ELIBACC when the library cannot be loaded, -ELIBBAD when it
 * lacks a function named above, -ENOMEM when curl_global_init() failed.  On
 * failure the message for the user ("libcurl.so.4 not found: install
 * libcurl4") goes to err when err is not NULL, so a caller that only got
 * the -errno from a constructor can call this again to explain it.
 */
int base_curl_load(char *err, size_t len);

/*
 * From here on the curl names call through the table.  curl.h makes the
 * varargs calls macros that take exactly three arguments; so do these.
 */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#undef curl_share_setopt
#define curl_easy_getinfo(h, info, arg)	  base_curl_fns.p_curl_easy_getinfo(h, info, arg)
#define curl_easy_setopt(h, opt, param)	  base_curl_fns.p_curl_easy_setopt(h, opt, param)
#define curl_share_setopt(sh, opt, param) base_curl_fns.p_curl_share_setopt(sh, opt, param)
#define curl_easy_cleanup		  base_curl_fns.p_curl_easy_cleanup
#define curl_easy_escape		  base_curl_fns.p_curl_easy_escape
#define curl_easy_init			  base_curl_fns.p_curl_easy_init
#define curl_easy_perform		  base_curl_fns.p_curl_easy_perform
#define curl_easy_reset			  base_curl_fns.p_curl_easy_reset
#define curl_easy_strerror		  base_curl_fns.p_curl_easy_strerror
#define curl_free			  base_curl_fns.p_curl_free
#define curl_global_init		  base_curl_fns.p_curl_global_init
#define curl_multi_add_handle		  base_curl_fns.p_curl_multi_add_handle
#define curl_multi_cleanup		  base_curl_fns.p_curl_multi_cleanup
#define curl_multi_info_read		  base_curl_fns.p_curl_multi_info_read
#define curl_multi_init			  base_curl_fns.p_curl_multi_init
#define curl_multi_perform		  base_curl_fns.p_curl_multi_perform
#define curl_multi_poll			  base_curl_fns.p_curl_multi_poll
#define curl_multi_remove_handle	  base_curl_fns.p_curl_multi_remove_handle
#define curl_multi_strerror		  base_curl_fns.p_curl_multi_strerror
#define curl_share_cleanup		  base_curl_fns.p_curl_share_cleanup
#define curl_share_init			  base_curl_fns.p_curl_share_init
#define curl_slist_append		  base_curl_fns.p_curl_slist_append
#define curl_slist_free_all		  base_curl_fns.p_curl_slist_free_all
#define curl_url			  base_curl_fns.p_curl_url
#define curl_url_cleanup		  base_curl_fns.p_curl_url_cleanup
#define curl_url_get			  base_curl_fns.p_curl_url_get
#define curl_url_set			  base_curl_fns.p_curl_url_set
#define curl_version_info		  base_curl_fns.p_curl_version_info

#endif /* BASE_CURL_H */
