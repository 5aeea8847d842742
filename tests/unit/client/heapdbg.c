#include "client/client_int.h"
#include <stdio.h>
void heap_dbg(struct dk_client *c);
void heap_dbg(struct dk_client *c)
{
    struct dk_client_impl *s = c->impl;
    fprintf(stderr, "impl %zu, own heap %zu, coap heap %zu, ninst %zu\n", sizeof *s, s->heap,
            dk_coap_ep_heap(&s->ep), s->ninst);
    size_t nv = 0, vb = 0;
    for (struct dk_cl_obj *o = s->objs; o; o = o->next)
        for (struct dk_cl_inst *i = o->insts; i; i = i->next)
            for (struct dk_cl_value *v = i->vals; v; v = v->next) {
                nv++;
                vb += dk_cl_val_len(v);
            }
    fprintf(stderr, "values %zu (bytes %zu), sizeof value %zu inst %zu obj %zu\n", nv, vb,
            sizeof(struct dk_cl_value), sizeof(struct dk_cl_inst), sizeof(struct dk_cl_obj));
}
