/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local image store: an OCI image layout directory.
 *
 *   <dir>/oci-layout              {"imageLayoutVersion":"1.0.0"}
 *   <dir>/index.json              one descriptor per tagged image, named by
 *                                 the annotation org.opencontainers.image.ref.name
 *                                 (the full canonical reference)
 *   <dir>/blobs/sha256/<hex>      content-addressed blobs
 *   <dir>/.lock                   flock()ed by every writer
 *
 * A gadget image is an image index (or a single manifest) whose manifest for
 * linux/<arch> has the gadget.yaml as config
 * (application/vnd.gadget.config.v1+yaml) and the eBPF ELF as its one layer
 * (application/vnd.gadget.ebpf.program.v1+binary).
 *
 * Safety against crashes: blobs and index.json are written to a temporary
 * file in <dir>, fsync()ed, checked and renamed into place, so readers only
 * ever see complete files.  Safety against other processes: every change
 * runs under an exclusive flock() on <dir>/.lock.  A caller that writes
 * several blobs and then tags them (a build, a pull) brackets the sequence
 * with oci_store_lock()/oci_store_unlock() so that a concurrent removal
 * cannot collect the blobs before the tag points at them.  Readers take no
 * lock: they verify every blob's digest instead.
 *
 * Everything read from the store is bounded (the limits below), because a
 * store directory may come from elsewhere (an imported tarball, a copy).
 *
 * On failure, every function returns -errno and leaves a one-line message
 * for the user in oci_store_errmsg().  A store object is not thread-safe.
 */
#ifndef OCI_STORE_H
#define OCI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "oci/digest.h"

#define OCI_STORE_DEFAULT_DIR "/var/lib/ig/oci-store"

#define OCI_MEDIA_TYPE_INDEX	      "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST	      "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_GADGET_CONFIG  "application/vnd.gadget.config.v1+yaml"
#define OCI_MEDIA_TYPE_GADGET_PROGRAM "application/vnd.gadget.ebpf.program.v1+binary"

#define OCI_ANNOTATION_REF_NAME	     "org.opencontainers.image.ref.name"
#define OCI_ANNOTATION_CREATED	     "org.opencontainers.image.created"
#define OCI_ANNOTATION_TITLE	     "org.opencontainers.image.title"
#define OCI_ANNOTATION_DESCRIPTION   "org.opencontainers.image.description"
#define OCI_ANNOTATION_SOURCE	     "org.opencontainers.image.source"
#define OCI_ANNOTATION_DOCUMENTATION "org.opencontainers.image.documentation"
#define OCI_ANNOTATION_URL	     "org.opencontainers.image.url"
#define OCI_ANNOTATION_AUTHORS	     "org.opencontainers.image.authors"

/* Largest index or manifest blob read. */
#define OCI_STORE_MAX_MANIFEST (4u << 20)
/* Largest index.json of the store (many tags). */
#define OCI_STORE_MAX_INDEX (16u << 20)
/* Largest eBPF program layer. */
#define OCI_STORE_MAX_PROGRAM (256u << 20)
/* Largest blob of any kind accepted by put or import. */
#define OCI_STORE_MAX_BLOB OCI_STORE_MAX_PROGRAM
/* Descriptors visited when walking one image (index + manifests + blobs). */
#define OCI_STORE_MAX_DESCRIPTORS 1024
/* Entries and total bytes of a tarball import. */
#define OCI_STORE_MAX_IMPORT_ENTRIES 4096
#define OCI_STORE_MAX_IMPORT_BYTES   (1ull << 32)

struct oci_store;

/*
 * Opens the layout at dir, creating the directory (and its parents), the
 * oci-layout file, an empty index.json and blobs/sha256 when missing.
 * -ENOTDIR/-EACCES/... from the file system; -EINVAL if dir holds an
 * oci-layout of another version.  Returns a new object in *ret; free with
 * oci_store_free().
 */
int oci_store_open(const char *dir, struct oci_store **ret);
struct oci_store *oci_store_free(struct oci_store *s);
const char *oci_store_dir(const struct oci_store *s);
/* The message for the last failure on s ("" if none yet); borrowed. */
const char *oci_store_errmsg(const struct oci_store *s);

/*
 * Takes the store's exclusive lock (waiting for other processes); calls
 * nest, and only the outermost unlock releases it.  Every writing call below
 * takes the lock itself; use these to make several calls one unit.
 */
int oci_store_lock(struct oci_store *s);
void oci_store_unlock(struct oci_store *s);

/*
 * Stores len bytes as a blob.  When expect is not NULL it must be the
 * blob's digest (-EBADMSG otherwise, nothing written).  The digest is
 * written to digest_out when that is not NULL.  -E2BIG past
 * OCI_STORE_MAX_BLOB.  Storing a blob that is already there rewrites it,
 * which also repairs a corrupt copy.
 */
int oci_store_put_blob(struct oci_store *s, const void *buf, size_t len, const char *expect,
		       char digest_out[OCI_DIGEST_SIZE]);
/*
 * Reads blob digest, at most max bytes, and checks its digest.  Returns 0
 * and a malloc()ed copy in *ret_buf (NUL-terminated, for JSON and YAML
 * users; the terminator is not counted in *ret_len).  -ENOENT if absent,
 * -EFBIG if larger than max, -EBADMSG if its content does not match its
 * digest (a corrupt blob), -EOPNOTSUPP for another algorithm than sha256,
 * -EINVAL for a malformed digest.
 */
int oci_store_get_blob(struct oci_store *s, const char *digest, size_t max, void **ret_buf,
		       size_t *ret_len);
/* 1 if the blob file exists (its content is not checked), 0 if not, or -errno. */
int oci_store_has_blob(struct oci_store *s, const char *digest);
/*
 * 1 if the store holds image ref, 0 if not, or -errno (-EINVAL for a
 * malformed reference, or index.json unreadable).  A digest reference is
 * held when its blob is there, a tag when index.json names it.  Nothing
 * else is read, so an image that is present but broken (a missing or
 * corrupt blob, no manifest for this machine) is held: after a failed
 * oci_store_resolve(), this tells "not there" from "there but unusable".
 * oci_store_errmsg() keeps the message of that failure.
 */
int oci_store_has_ref(struct oci_store *s, const char *ref);

/*
 * Points ref (a reference with a tag and no digest) at blob digest, which
 * must be an image index or manifest present in the store; an existing tag
 * of the same name is moved.  ref may also be a digest reference without a
 * tag ("name@sha256:...", what a pull by digest records), whose digest must
 * then be digest.  Every blob the image references must be present and
 * intact (-ENOENT/-EBADMSG otherwise, nothing tagged).
 */
int oci_store_tag(struct oci_store *s, const char *ref, const char *digest);
/*
 * Calls fn for every object of image ref (tag or digest) once: children
 * before parents, the top object last, which is the order a registry
 * accepts them in (a manifest only after the blobs it names).  Indexes and
 * manifests are read and verified on the way; configs and layers are only
 * named (the caller reads them with oci_store_get_blob()).  A negative
 * return of fn stops the walk and is returned.
 */
typedef int (*oci_store_walk_fn)(void *userdata, const char *media_type, const char *digest,
				 uint64_t size);
int oci_store_walk(struct oci_store *s, const char *ref, oci_store_walk_fn fn, void *userdata);
/*
 * Removes ref from index.json, then collects the blobs no remaining image
 * references.  A digest reference ("name@sha256:...") removes every tag of
 * that name (registry and repository) pointing at that digest.  -ENOENT if
 * nothing matched.
 */
int oci_store_remove(struct oci_store *s, const char *ref);
/*
 * Deletes unreferenced blobs and stale temporary files.  Leaves everything
 * in place (and fails) when a tagged image cannot be walked, since its blobs
 * cannot be told apart from garbage then.  Returns the number of blobs
 * deleted.
 */
int oci_store_gc(struct oci_store *s);

struct oci_store_image {
	char *ref;		      /* canonical reference */
	char digest[OCI_DIGEST_SIZE]; /* of the index or manifest tagged */
	char *media_type;	      /* of that blob */
	char *created;		      /* org.opencontainers.image.created, or NULL */
	uint64_t size;		      /* bytes of all blobs of the image */
};

/*
 * Lists the tagged images in index.json order.  An image whose blobs cannot
 * be read is still listed, with created NULL and size counting only the
 * blobs that were readable.  Free with oci_store_images_free().
 */
int oci_store_list(struct oci_store *s, struct oci_store_image **ret, size_t *ret_n);
void oci_store_images_free(struct oci_store_image *images, size_t n);

struct oci_store_gadget {
	char image_digest[OCI_DIGEST_SIZE];    /* what the reference points at */
	char manifest_digest[OCI_DIGEST_SIZE]; /* the manifest for the platform */
	char *config;			       /* gadget.yaml bytes, NUL-terminated */
	size_t config_len;
	void *program; /* the eBPF ELF */
	size_t program_len;
};

/*
 * Finds ref (tag or digest) and reads the gadget for linux/arch (arch in OCI
 * terms, "amd64"; NULL for the running machine's).  Checks the media type of
 * every object on the way and the digest and size of every blob:
 * -ENOENT (no such image, no manifest for the platform, missing blob),
 * -EMEDIUMTYPE (an object of the wrong media type), -ENODATA (a manifest
 * without exactly one gadget program layer), -EBADMSG (corrupt blob or
 * size mismatch), -EINVAL (malformed JSON), -EFBIG (over a limit).  Returns
 * a new object in *ret; free with oci_store_gadget_free().
 */
int oci_store_resolve(struct oci_store *s, const char *ref, const char *arch,
		      struct oci_store_gadget **ret);
struct oci_store_gadget *oci_store_gadget_free(struct oci_store_gadget *g);

/*
 * Export and import load libarchive on first use, and fail with -ELIBACC or
 * -ELIBBAD and a message naming the package when it cannot be loaded.
 *
 * Writes the images named by refs (all tagged images when n == 0) as an OCI
 * layout tarball to path (replaced atomically).  Entries are sorted and carry
 * fixed owners and times, so the same images give the same tarball.  Every
 * blob is verified as it is copied.
 */
int oci_store_export(struct oci_store *s, const char *const *refs, size_t n, const char *path);
/*
 * Imports an OCI layout tarball (plain or compressed): every blob's digest
 * and every image reachable from its index.json are checked before anything
 * enters the store, so a damaged tarball leaves the store as it was.  Tags
 * every index.json entry that has a ref.name annotation (a full reference).
 * When ret_refs is not NULL it receives the NULL-terminated list of
 * references tagged (free with oci_store_strv_free()).
 */
int oci_store_import(struct oci_store *s, const char *path, char ***ret_refs);
char **oci_store_strv_free(char **v);

/* The OCI name of the running machine's architecture ("amd64", "arm64"). */
const char *oci_store_host_arch(void);

#endif /* OCI_STORE_H */
