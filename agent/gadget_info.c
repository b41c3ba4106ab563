// SPDX-License-Identifier: Apache-2.0
/*
 * GadgetInfo from a prepared runner.  See gadget_info.h.
 *
 * Everything the message points to comes from eight arrays, allocated
 * once the counts are known, so releasing it is freeing those.
 */
#include "agent/gadget_info.h"

#include <errno.h>
#include <stdlib.h>

#include "agent/image.h"
#include "agent/wire.h"
#include "bpf/gadget.h"
#include "oci/metadata.h"
#include "run/runner.h"

static void *info_alloc(struct agent_gadget_info *o, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p)
		o->allocs[o->n_allocs++] = p;
	return p;
}

void agent_gadget_info_done(struct agent_gadget_info *o)
{
	size_t i;

	for (i = 0; i < o->n_allocs; i++)
		free(o->allocs[i]);
	o->n_allocs = 0;
}

static char *cstr(const char *s)
{
	return (char *)(s ? s : "");
}

int agent_gadget_info_init(struct agent_gadget_info *o, const struct run_runner *rn,
			   const char *image, const struct agent_image *img,
			   const struct oci_metadata *md)
{
	size_t n_ds = run_runner_ds_count(rn), n_params = run_runner_param_count(rn);
	size_t n_fields = 0, n_ann = 0, i, k, fi = 0, ai = 0;
	Gadget__Agent__V1__DataSourceInfo *ds, **dsp;
	Gadget__Agent__V1__FieldInfo *f, **fp;
	Gadget__Agent__V1__KeyValue *kv, **kvp;
	Gadget__Agent__V1__ParamInfo *pi, **pp;

	gadget__agent__v1__gadget_info__init(&o->gi);
	o->n_allocs = 0;
	for (i = 0; i < n_ds; i++) {
		const struct run_runner_ds_info *di = run_runner_ds(rn, i);

		n_fields += di->n_fields;
		n_ann += di->md ? di->md->n_annotations : 0;
	}
	ds = info_alloc(o, n_ds, sizeof(*ds));
	dsp = info_alloc(o, n_ds, sizeof(*dsp));
	f = info_alloc(o, n_fields, sizeof(*f));
	fp = info_alloc(o, n_fields, sizeof(*fp));
	kv = info_alloc(o, n_ann, sizeof(*kv));
	kvp = info_alloc(o, n_ann, sizeof(*kvp));
	pi = info_alloc(o, n_params, sizeof(*pi));
	pp = info_alloc(o, n_params, sizeof(*pp));
	if (o->n_allocs != 8) {
		agent_gadget_info_done(o);
		return -ENOMEM;
	}
	for (i = 0; i < n_ds; i++) {
		const struct run_runner_ds_info *di = run_runner_ds(rn, i);

		gadget__agent__v1__data_source_info__init(&ds[i]);
		dsp[i] = &ds[i];
		ds[i].name = cstr(di->name);
		ds[i].type = di->type == RUN_RUNNER_DS_TRACER
				     ? GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_TRACER
			     : di->type == RUN_RUNNER_DS_MAPITER
				     ? GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_MAPITER
				     : GADGET__AGENT__V1__DATA_SOURCE_TYPE__DATA_SOURCE_ITER;
		ds[i].fields = &fp[fi];
		ds[i].n_fields = di->n_fields;
		for (k = 0; k < di->n_fields; k++, fi++) {
			const struct run_runner_field *src = &di->fields[k];

			gadget__agent__v1__field_info__init(&f[fi]);
			fp[fi] = &f[fi];
			f[fi].name = cstr(src->name);
			f[fi].short_name = cstr(src->short_name);
			f[fi].type = cstr(src->type);
			f[fi].description = cstr(src->description);
			f[fi].visible_json = src->visible_json;
			f[fi].visible_columns = src->visible_columns;
			f[fi].width = src->width > 0 ? (uint32_t)src->width : 0;
			f[fi].alignment = src->align_right
						  ? GADGET__AGENT__V1__ALIGNMENT__ALIGN_RIGHT
						  : GADGET__AGENT__V1__ALIGNMENT__ALIGN_LEFT;
		}
		ds[i].annotations = &kvp[ai];
		ds[i].n_annotations = di->md ? di->md->n_annotations : 0;
		for (k = 0; di->md && k < di->md->n_annotations; k++, ai++) {
			gadget__agent__v1__key_value__init(&kv[ai]);
			kvp[ai] = &kv[ai];
			kv[ai].key = cstr(di->md->annotations[k].key);
			kv[ai].value = cstr(di->md->annotations[k].value);
		}
	}
	for (i = 0; i < n_params; i++) {
		const struct run_runner_param_info *p = run_runner_param(rn, i);

		gadget__agent__v1__param_info__init(&pi[i]);
		pp[i] = &pi[i];
		pi[i].key = cstr(p->key);
		pi[i].name = cstr(p->name);
		pi[i].description = cstr(p->description);
		pi[i].default_value = cstr(p->default_value);
		pi[i].type = agent_wire_param_type(p->type);
		pi[i].type_name = cstr(p->type_name);
		/* protobuf-c wants char **; the message is only packed, never freed */
		pi[i].values = (char **)p->values;
		pi[i].n_values = p->n_values;
		pi[i].alias = cstr(p->alias);
		pi[i].compat_key = cstr(p->compat_key);
	}
	o->gi.image = cstr(image);
	o->gi.digest = cstr(img ? img->digest : NULL);
	o->gi.name = cstr(md && md->name ? md->name : img ? img->name : NULL);
	o->gi.description = cstr(md ? md->description : NULL);
	o->gi.data_sources = dsp;
	o->gi.n_data_sources = n_ds;
	o->gi.params = pp;
	o->gi.n_params = n_params;
	return 0;
}
