/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside libig: the process-wide parts behind <ig/ig.h> (version, log).
 */
#ifndef LIBIG_IG_H
#define LIBIG_IG_H

/*
 * Until the program calls ig_set_log(), nothing the library or libbpf says
 * may reach stderr: the first open installs sinks that discard it.
 */
void libig_log_init(void);

#endif /* LIBIG_IG_H */
